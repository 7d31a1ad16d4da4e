// sandpit_audit_bench: writes N runs (an intent and an outcome record each) to a temporary log and times stats, query and verify over it.
//   sandpit_audit_bench [N=1000000 | LOG] [runs=3]   (an existing LOG is timed as it is, and kept)
#include "sandpit/audit/reader.hpp"
#include "sandpit/audit/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace sandpit::audit;

namespace {

// Plausible traffic: 20 users, 3 languages, 1 in 10 runs fails, a few blocked, denied and timed out;
// each run is an intent record and, right after it, its outcome (1 in 10,000 has none: its daemon died).
void generate(const std::filesystem::path& path, std::size_t n) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot create " + path.string());
  std::mt19937_64 rng(42);
  const char* languages[] = {"python", "javascript", "bash"};
  const char* errors[] = {"ZeroDivisionError: division by zero", "NameError: name 'x' is not defined",
                          "ReferenceError: y is not defined", "TimeoutError: exceeded 30s"};
  std::string prev{k_genesis};
  std::int64_t ts = 1736019045123;
  for (std::size_t i = 0; i < n; ++i) {
    Record r;
    r.ts_ms = ts += static_cast<std::int64_t>(rng() % 2000);
    r.user = fmt::format("user{}@example.com", rng() % 20);
    r.workspace = "/home/dev/projects/analysis";
    r.session = i % 4 ? fmt::format("s-{:08x}", rng() % 1000) : "";
    r.command = i % 50 == 0 ? "upload" : "exec";
    r.language = languages[rng() % 3];
    r.code_sha256 = fmt::format("{:016x}{:016x}{:016x}{:016x}", rng(), rng(), rng(), rng());
    r.code_bytes = static_cast<std::int64_t>(rng() % 4000);
    r.success = rng() % 10 != 0;
    r.duration_ms = static_cast<std::int64_t>(rng() % 3000);
    if (!r.success) {
      r.exit_code = 1;
      auto kind = rng() % 20;
      if (kind == 0) r.blocked = "pattern: rm -rf /";
      else if (kind == 1) r.denied = "/etc/shadow";
      else r.error = errors[rng() % 4];
      r.timed_out = r.error && r.error->starts_with("Timeout");
    }
    Record intent = r;
    intent.success = false;
    intent.exit_code = 0;
    intent.timed_out = false;
    intent.duration_ms = 0;
    intent.error = intent.blocked = intent.denied = std::nullopt;
    intent.extra["phase"] = "intent";
    intent.extra["owner"] = {{"pid", 4000000 + static_cast<int>(rng() % 1000)}, {"start", 1234}, {"boot", "bench"}, {"role", "daemon"}};
    Sealed begun = seal(intent, prev);
    std::fwrite(begun.line.data(), 1, begun.line.size(), out);
    prev = begun.hash;
    if (i % 10'000 == 9'999) continue;
    r.extra["intent"] = begun.hash;
    Sealed sealed = seal(r, prev);
    std::fwrite(sealed.line.data(), 1, sealed.line.size(), out);
    prev = std::move(sealed.hash);
  }
  std::fclose(out);
}

// The fastest of `runs` timings, in ms.
double time_ms(int runs, const std::function<void()>& fn) {
  double best = 1e18;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  char dir[] = "/tmp/sandpit-audit-bench-XXXXXX";
  std::filesystem::path path;
  std::size_t n = 0;
  double gen = 0;
  if (argc > 1 && std::filesystem::is_regular_file(argv[1])) {
    path = argv[1];
    n = verify(path).lines / 2;
    dir[0] = '\0';
  } else {
    n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    if (::mkdtemp(dir) == nullptr) return 1;
    path = std::filesystem::path(dir) / "audit.jsonl";
    // bench/audit times the sandpit command on the same file afterwards.
    if (const char* keep = std::getenv("SANDPIT_BENCH_KEEP"); keep != nullptr && *keep != '\0') {
      std::filesystem::remove_all(dir);
      dir[0] = '\0';
      path = keep;
    }
    gen = time_ms(1, [&] { generate(path, n); });
  }
  fmt::print("runs {}  file {:.1f} MB  ({:.0f} bytes/run: intent + outcome)  generated in {:.0f} ms\n", n,
             static_cast<double>(std::filesystem::file_size(path)) / 1e6,
             static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(n), gen);
  std::size_t sink = 0;
  Query all, one_user, failed_last;
  one_user.user = "user7@example.com";
  failed_last.failed_only = true;
  failed_last.limit = 100;
  Query failed_all;
  failed_all.failed_only = true;
  fmt::print("stats (all)                {:8.0f} ms\n", time_ms(runs, [&] { sink += stats(path, all).total.executions; }));
  fmt::print("stats --user               {:8.0f} ms\n", time_ms(runs, [&] { sink += stats(path, one_user).total.executions; }));
  fmt::print("query --failed --limit 100 {:8.0f} ms\n", time_ms(runs, [&] { sink += query(path, failed_last).size(); }));
  fmt::print("query --user (~5% rows)    {:8.0f} ms\n", time_ms(runs, [&] { sink += query(path, one_user).size(); }));
  fmt::print("query --failed (~10% rows) {:8.0f} ms\n", time_ms(runs, [&] { sink += query(path, failed_all).size(); }));
  fmt::print("verify                     {:8.0f} ms  ({})\n", time_ms(runs, [&] { sink += verify(path).records; }),
             verify(path).summary());
  if (dir[0] != '\0') std::filesystem::remove_all(dir);
  return sink == 0;
}
