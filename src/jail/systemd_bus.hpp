// The one D-Bus call sandpit makes: StartTransientUnit on a systemd manager's private socket.
//
// The private socket ($XDG_RUNTIME_DIR/systemd/private; /run/systemd/private
// for root, which accepts root only) speaks D-Bus peer to peer: no bus daemon,
// no Hello, one method call and its reply. libsystemd cannot be linked into a
// static binary here and busctl always says Hello (which a peer connection
// does not answer), so the few bytes are marshalled by hand.
#pragma once

#include "sandpit/util/result.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace sandpit::jail::dbus {

// A METHOD_CALL of org.freedesktop.systemd1.Manager.StartTransientUnit(unit, "fail",
// [PIDs=[pid], Delegate=true, CollectMode="inactive-or-failed", Description, Slice (if given)], []),
// little-endian, with `serial`.
std::string start_transient_unit(const std::string& unit, pid_t pid, const std::string& slice, std::uint32_t serial);

// The reply to call `serial` in `message` (one whole message): the job's object path, or
// the D-Bus error ("org.freedesktop.systemd1.UnitExists: Unit sandpit-1.scope already exists.").
Result<std::string> reply_to(const std::string& message, std::uint32_t serial);

// The total size of the message that starts with these 16 bytes (0 if they are not a header).
std::size_t message_size(const std::string& first16);

// Connects to `socket`, authenticates (EXTERNAL, our uid), sends `message`, and returns
// reply_to() of the answer to `serial`. Gives up after `timeout_ms`.
Result<std::string> call(const std::string& socket, const std::string& message, std::uint32_t serial, int timeout_ms);

} // namespace sandpit::jail::dbus
