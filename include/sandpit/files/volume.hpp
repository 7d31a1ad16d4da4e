// The persistent volume's tar export and import, through the same fd-relative rules as upload and download.
#pragma once

#include "sandpit/files/files.hpp"

#include <filesystem>

namespace sandpit::files {

struct Usage {
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t directories = 0;
};

// Bytes and entries under `root` (symlinks and special files are not followed).
Usage measure(int root);

// Writes every regular file and directory under `root` to a new tar file
// (replaced only with Overwrite::yes); symlinks and special files are skipped and reported.
Report export_tar(int root, const std::filesystem::path& tar, Overwrite overwrite);

// Extracts regular files and directories from `tar` beneath `root`; absolute
// names, '..', links and special files are skipped and reported. Each file is
// written to a temporary file and renamed into place.
Report import_tar(const std::filesystem::path& tar, int root, std::uint64_t max_bytes);

} // namespace sandpit::files
