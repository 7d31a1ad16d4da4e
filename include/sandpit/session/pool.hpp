// The warm pool: ready sandboxes that wait for a new workspace, so that its first run pays for neither the
// jail, nor the kernel, nor the workspace's image.
//
// A pool sandbox is a session daemon started before its workspace is known (`sandpit __pool-slot`): it
// makes an empty workspace image, mounts it, starts the jail with the kernels of session.pool_languages,
// imports languages.python.preload, and waits on <state>/pool/<fingerprint>/<slot>/socket. A client about to
// start a daemon for a new workspace (no image, no files) asks a slot to adopt it instead: the slot renames
// its image into the workspace's state folder, moves the mount there, listens on the workspace's socket and
// from then on is that workspace's daemon, like any other. Each slot serves one workspace, once.
//
// The fingerprint names everything a slot was made from (the binary, the effective config, the user, the
// sandbox's shape): a client only takes slots made as it would make them. After a claim (or a cold start)
// the daemon asks for a refill: `sandpit __pool-fill` makes the missing slots one after another, in the
// background, and exits; one filler per fingerprint at a time.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/session/profile.hpp"

#include "sandpit/sys/fd.hpp"

#include <optional>
#include <string>

namespace sandpit::session::pool {

inline constexpr const char* k_slot_arg = "__pool-slot";
inline constexpr const char* k_fill_arg = "__pool-fill";

// What a sandbox looks like before its workspace is known: its home and user name (serve's /home/user,
// "user"), which are fixed at jail start. A workspace's variables are applied when it is adopted.
struct Shape {
  std::string home;
  std::string user_name;
  static Shape of(const Profile& profile) { return {profile.home, profile.user_name}; }
};

// The folder of the slots made from this binary, `config` and `shape`, for this user.
std::filesystem::path slots_dir(const config::Config& config, const Shape& shape);

// Hands a ready slot to `workspace` when there is one and the workspace is new (no image, an empty
// files folder). The caller holds the workspace's lock. true: a daemon now listens on its socket.
bool claim(const config::Config& config, const Workspace& workspace);

// A ready slot lent to one --fresh run in `workspace` (any workspace whose profile matches the slot's
// shape): the slot mounts the workspace's files over its jail's /workspace and waits for one execution on
// the returned connection (Client::lent); nullopt when none is ready or it refused. The slot is gone after.
struct Lent {
  sys::Fd connection;
  pid_t pid = -1;
};
std::optional<Lent> borrow(const config::Config& config, const Workspace& workspace);

// Starts the filler in the background (never waits) when the pool is short of config.pool ready slots.
void request_fill(const config::Config& config, const std::string& config_file, const Shape& shape);

// The same from a daemon that just started or took a workspace: a moment later, on a thread of its own,
// so that the filler does not compete with the first run for the CPU. `remove`: a folder to remove first
// (the slot's own, once it has a workspace).
void refill_later(const config::Config& config, const std::string& config_file, const Shape& shape, const fs::path& remove = {});

struct Status {
  std::uint64_t ready = 0;    // slots waiting for a workspace
  std::uint64_t starting = 0; // slots being made
};
Status status(const config::Config& config, const Shape& shape);
// Stops every pool sandbox of this user (every config's): each sees its socket gone and exits. Waits for
// them (10 s at most); returns how many there were.
std::uint64_t drain();

// `sandpit __pool-fill <slots dir> <ready-fd> <config file> <home> <user>` and
// `sandpit __pool-slot <slot dir> <ready-fd> <config file>`.
int fill_main(int argc, char** argv);
int slot_main(int argc, char** argv);

} // namespace sandpit::session::pool
