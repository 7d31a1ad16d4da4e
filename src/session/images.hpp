// Images an execution produced, saved where the user can open them on the host.
#pragma once

#include "sandpit/session/execution.hpp"

#include <filesystem>

namespace sandpit::session {

// Writes each image's bytes (from its base64) to `dir` under a name of our own
// making (<execution>-<n>.<format>) and points its "path" there. /workspace
// may be an image mounted only in the daemon's namespace, so its own copy is
// not something the user can open.
void save_images(ExecResult& result, const std::filesystem::path& dir);

} // namespace sandpit::session
