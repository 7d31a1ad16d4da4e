// FileWorker: the one thread that touches sandbox files, so quota mounts (a per-thread mount namespace) are entered once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace sandpit::mcp {

// Runs jobs one at a time on a thread of its own. files::enter_quota_mounts
// gives the calling thread a private mount namespace holding each workspace's
// image, so every copy into or out of a sandbox happens on this thread.
class FileWorker {
public:
  FileWorker();
  ~FileWorker();
  FileWorker(const FileWorker&) = delete;
  FileWorker& operator=(const FileWorker&) = delete;

  // Runs `job` on the worker and waits for it; its exception is rethrown here.
  template <typename F> auto run(F job) -> decltype(job()) {
    std::packaged_task<decltype(job())()> task(std::move(job));
    auto done = task.get_future();
    post([&task] { task(); });
    return done.get();
  }

private:
  void post(std::function<void()> job);
  void loop();

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<std::function<void()>> m_jobs;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace sandpit::mcp
