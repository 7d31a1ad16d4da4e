// A pool sandbox's two steps (pool.cpp): warm (kernels started, drivers loaded, modules imported ahead), then
// adopt (it becomes a workspace's session, as if started for it).
#include "sandpit/session/session.hpp"

#include "sandpit/session/admission.hpp"
#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sandpit::session {
namespace {

using kernels::Language;

class NoOutput final : public OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

// Imports each module it can, in a function so that no name lands in the user's namespace; matplotlib draws
// once (fonts loaded) with its caches in /tmp, so that nothing is written to the workspace that a cold kernel
// would not write.
std::string python_warm_code(const std::vector<std::string>& preload) {
  nlohmann::json names = preload;
  return fmt::format(R"(def __sandpit_preload(names):
    import importlib, os, sys
    os.environ["MPLCONFIGDIR"] = "/tmp/.sandpit-matplotlib"
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass
        if "matplotlib.pyplot" in sys.modules:
            plt = sys.modules["matplotlib.pyplot"]
            import io
            figure = plt.figure()
            plt.plot([0, 1], [0, 1])
            figure.savefig(io.BytesIO(), format="png")  # what show() does: draw, then the PNG encoder
            plt.close(figure)
    finally:
        os.environ.pop("MPLCONFIGDIR", None)
__sandpit_preload({})
del __sandpit_preload
)",
                     names.dump());
}

} // namespace

void Session::warm(const std::vector<Language>& languages, const std::vector<std::string>& preload) {
  NoOutput quiet;
  for (const auto language : languages) {
    ExecRequest request;
    request.language = language;
    // A kernel from a template has the preload already (and drew its PNG there): warming it would only copy pages.
    const bool templated = language == Language::python && !m_template_dir.empty();
    request.code = language == Language::python && !templated ? python_warm_code(preload) : "0";
    request.filename = "<pool>";
    request.timeout = units::Millis(120'000);
    auto result = execute(request, quiet);
    if (!result.success) {
      throw Error(ExitCode::sandbox_setup, fmt::format("warm the {} kernel", kernels::name_of(language)),
                  result.error ? result.error->name + ": " + result.error->value : "it failed");
    }
  }
  std::lock_guard lock(m_mutex);
  m_execution_count = 0;
  for (auto& [key, kernel] : m_kernels) kernel->executions = 0;
}

void Session::adopt(const config::Config& config, const Workspace& workspace, const Profile& profile) {
  std::lock_guard lock(m_mutex);
  m_workspace = workspace.host_dir.string();
  m_files_dir = workspace.files_dir;
  m_name = "ws-" + workspace.id;
  m_pooled = true;
  m_jail->set_background(false);
  {
    std::lock_guard audit_lock(m_audit_mutex);
    m_on_connection = connection_auditor(config, workspace, m_name);
  }
  if (profile.env.empty()) return;
  for (const auto& [name, value] : profile.env) m_profile.env[name] = value;
  // The kernels started before the workspace was known: they learn its variables now, before any cell.
  const auto json = nlohmann::json(profile.env).dump();
  for (auto& [key, kernel] : m_kernels) {
    (void)sys::write_all(kernel->ctl.get(), fmt::format("setenv {} adopt -\n{}", json.size(), json));
  }
}

} // namespace sandpit::session

namespace sandpit::session {

void Session::lend(const config::Config& config, const Workspace& workspace, const Profile& profile) {
  adopt(config, workspace, profile);
  std::lock_guard lock(m_mutex);
  m_lifetime = Lifetime::fresh;
  // Their working folder is the covered /workspace of the sandbox's own (empty) image until they move.
  const std::string cwd = m_profile.home_dir();
  for (auto& [key, kernel] : m_kernels) {
    (void)sys::write_all(kernel->ctl.get(), fmt::format("chdir {} lend -\n{}", cwd.size(), cwd));
  }
}

} // namespace sandpit::session
