// E2B's EntryInfo: a file as envd describes it (protobuf JSON), from what files::stat_entry and list_dir saw.
#pragma once

#include "common.hpp"

#include "sandpit/files/files.hpp"
#include "sandpit/files/ops.hpp"

#include <string>

namespace sandpit::serve {

// The prefix of the extended attributes that hold a file's E2B metadata.
inline constexpr const char* k_metadata_xattr = "user.e2b.";

// `shown` is the path as the client named it ("/home/user/a.txt").
json entry_info(const files::Entry& entry, const std::string& shown, const files::Roots& roots, const files::SandboxPath& path);
// Go's FileMode.String() of an lstat mode: "-rw-r--r--", "drwxr-xr-x", "Lrwxrwxrwx", "dtrwxrwxrwx".
std::string go_mode_string(mode_t mode);

} // namespace sandpit::serve
