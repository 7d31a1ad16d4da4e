#include "sandpit/config/keys.hpp"

#include "sandpit/util/strings.hpp"

#include <array>
#include <fmt/format.h>

namespace sandpit::config {
namespace {

constexpr std::string_view k_default_binds =
    R"(["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl", "/etc/ca-certificates", "/etc/fonts", "/etc/localtime", "/etc/matplotlibrc", "/etc/mime.types", "/etc/python3*"])";

// The shipped dangerous-pattern list. A policy tool, not the security boundary
// (docs/SECURITY.md): the jail contains whatever gets past it.
constexpr std::string_view k_default_patterns = R"([
  {languages = ["python"], regex = '''\bos\s*\.\s*(?:remove|unlink|rmdir|removedirs)\s*\(''', reason = "os.remove/os.unlink/os.rmdir delete files"},
  {languages = ["python"], regex = '''\bshutil\s*\.\s*rmtree\s*\(''', reason = "shutil.rmtree deletes a directory tree"},
  {languages = ["python"], regex = '''\bopen\s*\([^)]*['"][rbt]*[wax+][rbt+]*['"]''', reason = "open(..., 'w') writes files"},
  {languages = ["python"], regex = '''\bsubprocess\b''', reason = "subprocess runs other programs"},
  {languages = ["python"], regex = '''\bos\s*\.\s*(?:system|popen|exec[lv]p?e?|spawn\w*)\s*\(''', reason = "os.system and os.exec* run other programs"},
  {languages = ["python"], regex = '''(?<![\w.])(?:exec|eval)\s*\(''', reason = "exec/eval run code built at run time"},
  {languages = ["javascript"], regex = '''\bfs(?:\.promises)?\s*\.\s*(?:unlink|rmdir|rm|writeFile)(?:Sync)?\s*\(''', reason = "fs.unlink/rmdir/rm/writeFile delete or overwrite files"},
  {languages = ["javascript"], regex = '''\brequire\s*\(\s*['"`](?:node:)?(?:fs|child_process)(?:/promises)?['"`]\s*\)''', reason = "require of fs or child_process reaches files and programs"},
  {languages = ["javascript"], regex = '''\bimport\b[^;\n]*['"](?:node:)?(?:fs|child_process)(?:/promises)?['"]''', reason = "import of fs or child_process reaches files and programs"},
  {languages = ["javascript"], regex = '''(?<![\w.$])eval\s*\(''', reason = "eval runs code built at run time"},
  {languages = ["javascript"], regex = '''(?<![\w.$])Function\s*\(''', reason = "Function() builds code from a string"},
  {languages = ["bash"], regex = '''\brm\s+(?:-\S+\s+)*(?:--\s+)?/\*?(?=\s|$|[;&|])''', reason = "rm -rf / deletes the whole file system"},
  {languages = ["bash"], regex = '''\bmkfs(?:\.\w+)?\b''', reason = "mkfs formats a file system"},
  {languages = ["bash"], regex = '''\bdd\b[^\n;|&]*\bif=''', reason = "dd if= copies raw devices"},
  {languages = ["bash"], regex = '''\b(?:shutdown|reboot|poweroff)\b''', reason = "shutdown/reboot stop the machine"},
  {languages = ["bash"], regex = '''(?:^|[;&|(`]|\$\()\s*(?:sudo|su)(?:\s|$)''', reason = "sudo/su change user"},
  {languages = ["bash"], regex = '''\bchmod\s+(?:-\S+\s+)*0?777\b''', reason = "chmod 777 makes files writable by everyone"},
  {languages = ["bash"], regex = '''\b(?:curl|wget)\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b''', reason = "piping a download into a shell runs unreviewed code"},
])";

constexpr std::array k_keys{
    KeyInfo{"limits.timeout", KeyType::duration, R"("30s")", "wall-clock time one execution may take", SetBy::tighten},
    KeyInfo{"limits.memory", KeyType::size, R"("512MiB")", "memory of the sandbox (RAM, no swap)", SetBy::tighten},
    KeyInfo{"limits.pids", KeyType::integer, "256", "processes and threads alive in the sandbox at once", SetBy::tighten},
    KeyInfo{"limits.cpu", KeyType::number, "1.0", "CPU cores' worth of time the sandbox may use (0 = no limit)", SetBy::tighten},
    KeyInfo{"limits.output", KeyType::size, R"("8MiB")", "bytes kept per output stream; more stops the run", SetBy::tighten},
    KeyInfo{"limits.tmp", KeyType::size, R"("256MiB")", "size of the /tmp tmpfs", SetBy::tighten},
    KeyInfo{"limits.file_size", KeyType::size, R"("256MiB")", "largest file the code may write", SetBy::tighten},
    KeyInfo{"limits.workspace", KeyType::size, R"("1GiB")", "size of a workspace's files (/workspace), enforced as a filesystem size", SetBy::tighten},
    KeyInfo{"limits.persist", KeyType::size, R"("100MiB")", "size of the per-user volume at /persist", SetBy::tighten},
    KeyInfo{"limits.transfer", KeyType::size, R"("1GiB")", "bytes one upload or download may copy", SetBy::tighten},
    KeyInfo{"limits.open_files", KeyType::integer, "256", "open file descriptors per process", SetBy::tighten},
    KeyInfo{"session.idle_timeout", KeyType::duration, R"("15m")", "a workspace's session daemon exits after this long with no client", SetBy::anyone},
    KeyInfo{"session.background", KeyType::choice, R"("keep")",
            "processes an execution leaves running: \"keep\" until the session ends, or \"kill\" when it ends", SetBy::tighten,
            "keep|kill"},
    KeyInfo{"session.max_sessions", KeyType::integer, "16", "session daemons one user may have running at once", SetBy::tighten},
    KeyInfo{"session.pool", KeyType::integer, "2",
            "ready sandboxes (jail, kernels, an empty workspace) kept per user for new workspaces' first runs and --fresh runs (0: none)", SetBy::tighten},
    KeyInfo{"session.pool_languages", KeyType::string_list, R"(["python"])", "the kernels a pool sandbox starts ahead: python, javascript",
            SetBy::anyone},
    KeyInfo{"network.enabled", KeyType::boolean, "false", "share the host network instead of a loopback-only one", SetBy::system},
    KeyInfo{"network.allow", KeyType::string_list, "[]",
            "hosts sandboxed code may reach through sandpit's proxy: \"example.com\", \"*.example.org\", \"10.1.2.3:8080\" (empty: none)",
            SetBy::tighten},
    KeyInfo{"packages.allow", KeyType::string_list, R"(["*"])", "packages an install may fetch: names or globs (empty: none)", SetBy::tighten},
    KeyInfo{"packages.deny", KeyType::string_list, "[]", "packages an install may never fetch: names or globs", SetBy::tighten},
    KeyInfo{"packages.python_index", KeyType::string, R"("")", "the Python package index pip uses (empty: https://pypi.org/simple)", SetBy::system},
    KeyInfo{"packages.python_find_links", KeyType::string_list, "[]",
            "host folders of wheels pip may install from (bound read-only into the sandbox; with no index: offline)", SetBy::system},
    KeyInfo{"packages.npm_registry", KeyType::string, R"("")", "the npm registry (empty: https://registry.npmjs.org/)", SetBy::system},
    KeyInfo{"packages.allow_builds", KeyType::boolean, "false",
            "let installs run package code: source builds for pip, install scripts for npm (default: wheels only, --ignore-scripts)", SetBy::system},
    KeyInfo{"jail.ro_binds", KeyType::string_list, k_default_binds,
            "host paths bound read-only into the sandbox (globs allowed; missing ones skipped)", SetBy::system},
    KeyInfo{"identity.user", KeyType::string, R"("")", "the name audit records carry (empty: the OS login name)", SetBy::system},
    KeyInfo{"identity.admins", KeyType::string_list, "[]", "identities that may read everyone's audit records and stats", SetBy::system},
    KeyInfo{"access.exec", KeyType::choice, R"("everyone")", "who may run code: \"everyone\" or \"admins\"", SetBy::system,
            "everyone|admins"},
    KeyInfo{"access.audit_all", KeyType::boolean, "false", "let every user read everyone's audit records and stats", SetBy::system},
    KeyInfo{"policy.mode", KeyType::choice, R"("warn")",
            "what a dangerous-pattern match does: \"block\" refuses the code, \"warn\" runs it with a warning, \"off\" skips the screen",
            SetBy::tighten, "off|warn|block"},
    KeyInfo{"policy.patterns", KeyType::pattern_list, k_default_patterns,
            "the dangerous-pattern list: {languages, regex (PCRE2, matched against NFKC-normalised code), reason}",
            SetBy::tighten},
    KeyInfo{"audit.path", KeyType::string, R"("")", "the audit log (empty: $XDG_STATE_HOME/sandpit/audit.jsonl)", SetBy::system},
    KeyInfo{"audit.fsync", KeyType::boolean, "false", "fdatasync each audit record (survives power loss; costs a disk flush per run)", SetBy::system},
    KeyInfo{"mcp.max_timeout", KeyType::duration, R"("10m")", "the longest timeout a run_code call of `sandpit mcp` may ask for (its default: limits.timeout)", SetBy::anyone},
    KeyInfo{"mcp.max_output", KeyType::integer, "20000", "characters of each output stream a `sandpit mcp` result shows (head and tail; the rest goes to a file)", SetBy::anyone},
    KeyInfo{"serve.api_keys", KeyType::string_map, "{}",
            "API keys `sandpit serve` accepts, each mapped to the identity it acts as (none: serve makes one for the user running it)",
            SetBy::system},
    KeyInfo{"serve.max_sandboxes", KeyType::integer, "32", "sandboxes one `sandpit serve` keeps alive at once", SetBy::anyone},
    KeyInfo{"serve.max_timeout", KeyType::duration, R"("24h")", "the longest lifetime a `sandpit serve` client may give a sandbox", SetBy::anyone},
    KeyInfo{"serve.max_connections", KeyType::integer, "256", "HTTP connections `sandpit serve` serves at once (more are refused with 503)",
            SetBy::anyone},
    KeyInfo{"languages.python.command", KeyType::string_list, R"(["/usr/bin/python3"])", "the Python interpreter inside the sandbox", SetBy::system},
    KeyInfo{"languages.python.preload", KeyType::string_list, R"(["numpy", "pandas", "matplotlib.pyplot"])",
            "modules the pool's Python template imports once for every pool kernel (those installed; empty: no template)", SetBy::anyone},
    KeyInfo{"languages.javascript.command", KeyType::string_list, R"(["/usr/bin/node"])", "the Node.js interpreter inside the sandbox", SetBy::system},
    KeyInfo{"languages.bash.command", KeyType::string_list, R"(["/bin/bash"])", "the shell inside the sandbox", SetBy::system},
};

} // namespace

std::span<const KeyInfo> key_table() { return k_keys; }

const KeyInfo* find_key(std::string_view name) {
  for (const auto& key : k_keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string type_name(const KeyInfo& key) {
  switch (key.type) {
  case KeyType::duration: return "a duration like \"30s\"";
  case KeyType::size: return "a size like \"512MiB\"";
  case KeyType::integer: return "a whole number";
  case KeyType::number: return "a number";
  case KeyType::boolean: return "true or false";
  case KeyType::string: return "a string";
  case KeyType::string_list: return "a list of strings";
  case KeyType::pattern_list: return "a list of {languages, regex, reason} tables";
  case KeyType::string_map: return "a table of strings";
  case KeyType::choice: {
    auto options = strings::split(key.choices, '|');
    std::string out;
    for (std::size_t i = 0; i < options.size(); ++i) {
      if (i > 0) out += i + 1 == options.size() ? " or " : ", ";
      out += fmt::format("\"{}\"", options[i]);
    }
    return out;
  }
  }
  return "a value";
}

} // namespace sandpit::config
