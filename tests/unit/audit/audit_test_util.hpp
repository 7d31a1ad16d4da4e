// Helpers for the audit tests: a temporary directory, a fake clock, file edits and sample records.
#pragma once

#include "sandpit/audit/log.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace audit_test {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
public:
  TempDir() {
    char name[] = "/tmp/sandpit-audit-XXXXXX";
    m_path = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

// A clock that starts at 2025-01-04T19:30:45.123Z and advances 1 s per call.
inline sandpit::audit::Clock fake_clock(std::int64_t start = 1736019045123) {
  return [t = start]() mutable {
    auto now = t;
    t += 1000;
    return now;
  };
}

inline sandpit::audit::Record sample(std::string user = "artur@example.com", std::string language = "python") {
  sandpit::audit::Record r;
  r.user = std::move(user);
  r.workspace = "/home/artur/proj";
  r.session = "s-1";
  r.command = "exec";
  r.language = std::move(language);
  r.code_sha256 = std::string(64, 'a');
  r.code_bytes = 12;
  r.success = true;
  r.duration_ms = 10;
  return r;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// The file's lines, each with its '\n' (a last line without one keeps none).
inline std::vector<std::string> lines_of(const std::string& data) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    auto end = nl == std::string::npos ? data.size() : nl + 1;
    out.push_back(data.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l;
  return out;
}

} // namespace audit_test
