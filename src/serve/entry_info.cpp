#include "entry_info.hpp"

#include "sandpit/jail/spec.hpp"

#include <unistd.h>

namespace sandpit::serve {
namespace {

// The names the sandbox's /etc/passwd gives: its user is "user" (E2B's), root is root.
std::string owner_name(unsigned id) {
  if (id == jail::k_root_mode_host_id || (::geteuid() != 0 && id == ::geteuid()) || id == jail::k_inside_id) return "user";
  if (id == 0) return "root";
  return std::to_string(id);
}

std::string file_type(mode_t mode) {
  if (S_ISREG(mode)) return "FILE_TYPE_FILE";
  if (S_ISDIR(mode)) return "FILE_TYPE_DIRECTORY";
  if (S_ISLNK(mode)) return "FILE_TYPE_SYMLINK";
  return "";
}

// A symlink's target as an absolute path: its text, resolved lexically against the link's folder.
std::string link_target(const std::string& link, const std::string& shown) {
  if (!link.empty() && link.front() == '/') return link;
  auto folder = shown.substr(0, shown.rfind('/'));
  return (std::filesystem::path(folder.empty() ? "/" : folder) / link).lexically_normal().string();
}

} // namespace

std::string go_mode_string(mode_t mode) {
  std::string out;
  if (S_ISDIR(mode)) out += 'd';
  if (S_ISLNK(mode)) out += 'L';
  if (S_ISBLK(mode) || S_ISCHR(mode)) out += 'D';
  if (S_ISFIFO(mode)) out += 'p';
  if (S_ISSOCK(mode)) out += 'S';
  if ((mode & S_ISUID) != 0) out += 'u';
  if ((mode & S_ISGID) != 0) out += 'g';
  if (S_ISCHR(mode)) out += 'c';
  if ((mode & S_ISVTX) != 0) out += 't';
  if (out.empty()) out += '-';
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) out += (mode & (1u << (8 - i))) != 0 ? rwx[i] : '-';
  return out;
}

json entry_info(const files::Entry& entry, const std::string& shown, const files::Roots& roots, const files::SandboxPath& path) {
  const auto& st = entry.st;
  json out = {{"name", entry.name.empty() ? shown.substr(shown.rfind('/') + 1) : entry.name},
              {"path", shown},
              {"size", std::to_string(st.st_size)},
              {"mode", st.st_mode & 0777},
              {"permissions", go_mode_string(st.st_mode)},
              {"owner", owner_name(st.st_uid)},
              {"group", owner_name(st.st_gid)},
              {"modifiedTime", proto_timestamp(st.st_mtim)}};
  if (auto type = file_type(st.st_mode); !type.empty()) out["type"] = type;
  if (S_ISLNK(st.st_mode)) out["symlinkTarget"] = link_target(entry.link, shown);
  if (S_ISREG(st.st_mode)) {
    auto metadata = files::read_metadata(roots, path, k_metadata_xattr);
    if (!metadata.empty()) out["metadata"] = metadata;
  }
  return out;
}

} // namespace sandpit::serve
