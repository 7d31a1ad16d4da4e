// Shared by the pool's client side (pool.cpp) and its slots (pool_slot.cpp).
#pragma once

#include "sandpit/session/pool.hpp"

#include <chrono>
#include <string>

namespace sandpit::session {
class Session;
}

namespace sandpit::session::pool {

// 20 hex digits of a SHA-256 over what a slot is made from: the binary, the user, the shape and every
// effective config value.
std::string fingerprint(const config::Config& config, const Shape& shape);

// Creates (or replaces) a small 0600 file; best effort (a pid for `session pool --drain`).
void write_note(const fs::path& path, const std::string& text);

// A line from `fd` (whose peer sends nothing after it) within `timeout`; "" on timeout, EOF or error.
std::string read_line(int fd, std::chrono::milliseconds timeout);

// lend.cpp: runs the one execution a --fresh client sends on `fd` and streams it back (no audit: the client's).
void serve_lent_execution(session::Session& session, int fd);

// Templates (template.cpp): whether this config's pool sandboxes get their Python kernels from a template
// (a preload, and Python among session.pool_languages); the folder of the template of `slots` if one is
// ready, else ""; and the same after starting one if need be (the filler; waits for its preload).
bool templates_wanted(const config::Config& config);
std::string ready_template(const fs::path& slots);
std::string ensure_template(const config::Config& config, const fs::path& slots);

} // namespace sandpit::session::pool
