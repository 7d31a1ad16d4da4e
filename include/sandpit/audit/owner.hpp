// Owner: the process that promises to complete an intent record, and whether it still lives.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace sandpit::audit {

// A process named so that a reused pid or a reboot is not mistaken for it:
// the pid, its start time (clock ticks after boot, /proc/PID/stat field 22) and the boot's id.
struct Owner {
  pid_t pid = 0;
  std::uint64_t start = 0;
  std::string boot; // /proc/sys/kernel/random/boot_id
  std::string role; // "client", "daemon", "serve", "mcp"

  // This process, in `role`.
  static Owner self(std::string role);

  // {"pid": 4242, "start": 123456, "boot": "...", "role": "daemon"}
  nlohmann::ordered_json to_json() const;
  // nullopt when `j` is not an object of that shape.
  static std::optional<Owner> from_json(const nlohmann::json& j);

  // False once the process has exited (a zombie counts as exited), another process
  // has its pid, or the machine has rebooted since.
  bool alive() const;

  // "the session daemon (pid 4242)", "the sandpit client (pid 17)", "sandpit serve (pid 9)"
  std::string describe() const;
};

} // namespace sandpit::audit
