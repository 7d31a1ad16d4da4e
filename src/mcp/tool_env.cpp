#include "tool_env.hpp"

#include "arguments.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/units.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::mcp {
namespace {

// A private folder for one copy's host side, removed with everything in it.
class TempDir {
public:
  TempDir() {
    const auto base = state_home() / "mcp" / "tmp";
    std::error_code ec;
    fs::create_directories(base, ec);
    fs::permissions(base, fs::perms::owner_all, ec);
    std::string pattern = (base / "copy-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw Error(ExitCode::sandbox_setup, "create " + pattern, std::strerror(errno));
    m_path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

bool is_beneath(const fs::path& path, const fs::path& dir) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

} // namespace

fs::path session_folder(const std::string& name) {
  auto folder = state_home() / "mcp" / "sessions" / name;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error(ExitCode::sandbox_setup, "create " + folder.string(), ec.message());
  fs::permissions(folder, fs::perms::owner_all, ec);
  return folder;
}

Workspace ToolEnv::workspace(const std::string& name) const { return Workspace::resolve(session_folder(name).string()); }

session::Caller ToolEnv::caller(const Call& call, std::string command) const {
  auto caller = session::caller_for(config(), std::move(command));
  caller.client = call.client().text();
  if (caller.client.empty()) caller.client = "unknown MCP client";
  return caller;
}

files::Report ToolEnv::transfer(const session::Caller& caller, const Workspace& workspace, const session::TransferAsked& asked,
                                const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy) {
  const auto& cfg = config();
  return m_worker.run([&] {
    files::Transfer options;
    options.max_bytes = cfg.limits.transfer;
    return session::audited_transfer(cfg, caller, workspace, asked, options, session::Areas::workspace, copy);
  });
}

files::Report ToolEnv::write(const session::Caller& caller, const Workspace& workspace, const files::SandboxPath& path,
                             std::string_view bytes, const std::string& from) {
  TempDir temp;
  const auto host = temp.path() / (path.name().empty() ? std::string("file") : path.name());
  {
    sys::Fd fd(::open(host.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) throw Error(ExitCode::sandbox_setup, "create " + host.string(), std::strerror(errno));
    if (auto r = sys::write_all(fd.get(), bytes); !r) throw Error(ExitCode::sandbox_setup, "write " + host.string(), r.failure().message());
  }
  return transfer(caller, workspace, {from, path.shown()}, [&](const files::Roots& roots, const files::Transfer& t) {
    auto report = files::upload(host, roots, path, t);
    for (auto& f : report.files) f.host = from; // the record names what the client sent, not our temporary file
    return report;
  });
}

std::string ToolEnv::read(const session::Caller& caller, const Workspace& workspace, const files::SandboxPath& path,
                          std::uint64_t max_bytes, files::Report& report) {
  TempDir temp;
  const auto host = temp.path() / "file";
  report = transfer(caller, workspace, {path.shown(), "(returned to the MCP client)"},
                    [&](const files::Roots& roots, files::Transfer t) {
                      if (max_bytes < t.max_bytes) {
                        t.max_bytes = max_bytes;
                        t.over_cap = fmt::format("larger than download_file returns inline ({}): give host_path to copy it to the host",
                                                 units::format_size(max_bytes));
                      }
                      auto copied = files::download(roots, path, host, t);
                      for (auto& f : copied.files) f.host = "";
                      return copied;
                    });
  auto bytes = sys::read_file(host.string());
  if (!bytes) throw Error(ExitCode::sandbox_setup, "read " + host.string(), bytes.failure().message());
  return *bytes;
}

fs::path ToolEnv::allowed_host_path(const std::string& text, bool must_exist) const {
  if (m_options.allow_dirs.empty()) {
    throw BadArgument("'host_path' is not allowed: this server was started without --allow-dir (use content_base64, or "
                      "ask the user to add --allow-dir DIR to the server's command line)");
  }
  fs::path path(text);
  if (!path.is_absolute()) throw BadArgument(fmt::format("'host_path' must be an absolute path, got \"{}\"", text));
  std::error_code ec;
  fs::path resolved;
  if (must_exist) {
    resolved = fs::canonical(path, ec);
    if (ec) throw BadArgument(fmt::format("'host_path' {}: {}", text, ec.message()));
  } else {
    const auto name = path.filename();
    if (name.empty() || name == "." || name == "..") throw BadArgument(fmt::format("'host_path' must name a file, got \"{}\"", text));
    auto folder = fs::canonical(path.parent_path(), ec);
    if (ec) throw BadArgument(fmt::format("'host_path' {}: {}", path.parent_path().string(), ec.message()));
    resolved = folder / name;
  }
  for (const auto& dir : m_options.allow_dirs) {
    if (is_beneath(resolved, dir)) return resolved;
  }
  std::vector<std::string> dirs;
  for (const auto& dir : m_options.allow_dirs) dirs.push_back(dir.string());
  throw BadArgument(fmt::format("'host_path' {} is outside the directories this server allows ({})", resolved.string(), fmt::join(dirs, ", ")));
}

nlohmann::json text_result(std::string text, bool is_error) {
  return {{"content", {{{"type", "text"}, {"text", std::move(text)}}}}, {"isError", is_error}};
}

} // namespace sandpit::mcp
