#include "sandpit/config/keys.hpp"

#include <array>

namespace sandpit::config {
namespace {

constexpr std::string_view k_default_binds =
    R"(["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl", "/etc/ca-certificates", "/etc/fonts", "/etc/localtime", "/etc/matplotlibrc", "/etc/mime.types", "/etc/python3*"])";

constexpr std::array k_keys{
    KeyInfo{"limits.timeout", KeyType::duration, R"("30s")", "wall-clock time one execution may take", SetBy::anyone},
    KeyInfo{"limits.memory", KeyType::size, R"("512MiB")", "memory of the sandbox (RAM, no swap)", SetBy::anyone},
    KeyInfo{"limits.pids", KeyType::integer, "256", "processes and threads alive in the sandbox at once", SetBy::anyone},
    KeyInfo{"limits.cpu", KeyType::number, "1.0", "CPU cores' worth of time the sandbox may use (0 = no limit)", SetBy::anyone},
    KeyInfo{"limits.output", KeyType::size, R"("8MiB")", "bytes kept per output stream; more stops the run", SetBy::anyone},
    KeyInfo{"limits.tmp", KeyType::size, R"("256MiB")", "size of the /tmp tmpfs", SetBy::anyone},
    KeyInfo{"limits.file_size", KeyType::size, R"("256MiB")", "largest file the code may write", SetBy::anyone},
    KeyInfo{"limits.open_files", KeyType::integer, "256", "open file descriptors per process", SetBy::anyone},
    KeyInfo{"session.idle_timeout", KeyType::duration, R"("15m")", "a workspace's session daemon exits after this long with no client", SetBy::anyone},
    KeyInfo{"session.background", KeyType::string, R"("keep")",
            "processes an execution leaves running: \"keep\" until the session ends, or \"kill\" when it ends", SetBy::anyone},
    KeyInfo{"network.enabled", KeyType::boolean, "false", "share the host network instead of a loopback-only one", SetBy::system},
    KeyInfo{"jail.ro_binds", KeyType::string_list, k_default_binds,
            "host paths bound read-only into the sandbox (globs allowed; missing ones skipped)", SetBy::system},
    KeyInfo{"languages.python.command", KeyType::string_list, R"(["/usr/bin/python3"])", "the Python interpreter inside the sandbox", SetBy::anyone},
    KeyInfo{"languages.javascript.command", KeyType::string_list, R"(["/usr/bin/node"])", "the Node.js interpreter inside the sandbox", SetBy::anyone},
    KeyInfo{"languages.bash.command", KeyType::string_list, R"(["/bin/bash"])", "the shell inside the sandbox", SetBy::anyone},
};

} // namespace

std::span<const KeyInfo> key_table() { return k_keys; }

const KeyInfo* find_key(std::string_view name) {
  for (const auto& key : k_keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string_view type_name(KeyType type) {
  switch (type) {
  case KeyType::duration: return "a duration like \"30s\"";
  case KeyType::size: return "a size like \"512MiB\"";
  case KeyType::integer: return "a whole number";
  case KeyType::number: return "a number";
  case KeyType::boolean: return "true or false";
  case KeyType::string: return "a string";
  case KeyType::string_list: return "a list of strings";
  }
  return "a value";
}

} // namespace sandpit::config
