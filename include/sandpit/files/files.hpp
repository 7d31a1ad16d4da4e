// Files: copying between the host and the sandbox's /workspace and /persist without a way out.
//
// Everything on the sandbox side is reached from a directory fd with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV), one fd-relative step at a time; an opened fd is checked
// with fstat and never re-resolved by path. Sandboxed code may be running and
// racing us while we copy: a symlink it swaps in makes the open fail, it is
// never followed.
#pragma once

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/sys/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::files {

// What went wrong with a file, for front ends that answer in their own codes
// (E2B: 404, 507, not_found, already_exists, ...).
enum class Problem { not_found, exists, not_a_directory, is_a_directory, refused, denied, no_space, too_large, invalid, failed };
Problem problem_of(int err); // ENOENT: not_found, ENOSPC: no_space, ELOOP/EXDEV: refused, EACCES/EPERM/EROFS: denied, ...

// An Error that also says which Problem it was.
class FileError : public Error {
public:
  FileError(Problem problem, ExitCode code, std::string what, std::string why)
      : Error(code, std::move(what), std::move(why)), m_problem(problem) {}
  Problem problem() const { return m_problem; }

private:
  Problem m_problem;
};

enum class Area { workspace, persist, tmp };

// A path inside the sandbox, normalised: under /workspace, /persist or (for
// front ends that reach a running jail) /tmp.
struct SandboxPath {
  Area area = Area::workspace;
  std::string relative; // "data/x.csv"; "" for the area's root

  std::string shown() const; // "/workspace/data/x.csv"
  SandboxPath child(std::string_view name) const;
  std::string name() const; // the last component ("" for a root)
};

// `text` relative to /workspace, or absolute under /workspace or /persist.
// Throws Error(usage) for anything that leaves them after normalisation.
SandboxPath parse_sandbox_path(std::string_view text);

// A path as a sandbox with a home (E2B's /home/user, which is the workspace)
// names it: "" and relative paths are under `home`, "~" is `home`, and
// absolute paths may be under `home`, /workspace, /persist or /tmp. `shown` is
// the normalised absolute path, as the caller wrote it ("/home/user/a.txt").
// Throws Error(usage) for "~user" or a NUL byte, and Error(denied) for a path
// outside those four (the rest of the sandbox is read-only system files).
struct HomePath {
  SandboxPath path;
  std::string shown;
};
HomePath resolve_home_path(std::string_view text, std::string_view home);

// The roots, opened as directories (created if missing; as root, owned by
// the sandbox user). `tmp` only when a running jail lent its /tmp.
struct Roots {
  sys::Fd workspace;
  sys::Fd persist;
  sys::Fd tmp;
  int of(Area area) const { return area == Area::workspace ? workspace.get() : area == Area::persist ? persist.get() : tmp.get(); }
};
Roots open_roots(const Workspace& workspace);
// Only the volume (`workspace` stays invalid).
Roots open_volume_root();

struct Copied {
  std::string host;
  std::string sandbox;
  std::uint64_t bytes = 0;
  std::string sha256;
};

struct Skipped {
  std::string path;
  std::string why;
};

struct Report {
  std::vector<Copied> files;
  std::vector<Skipped> skipped;
  std::uint64_t bytes() const;
};

enum class Recursive { yes, no };
enum class Overwrite { yes, no };

struct Transfer {
  Recursive recursive = Recursive::no;
  Overwrite overwrite = Overwrite::no; // download: replace existing host files
  std::uint64_t max_bytes = 0;         // the per-transfer cap (limits.transfer)
  std::string over_cap;                // what a refusal says when max_bytes is not limits.transfer ("" when it is)
};

// Copies a host file (or with Recursive::yes a directory tree) into the sandbox.
// With an existing directory as destination the source keeps its name inside it.
// An existing destination file is replaced by rename, never written through.
// Throws Error: usage for bad input, code_failed for a failed copy (e.g. ENOSPC).
Report upload(const std::filesystem::path& host, const Roots& roots, const SandboxPath& destination, const Transfer& options);

// Copies a sandbox file (or tree) to the host. Refuses symlinks, FIFOs, devices
// and sockets without opening them; inside a tree they are skipped and reported.
Report download(const Roots& roots, const SandboxPath& source, const std::filesystem::path& host, const Transfer& options);

// The same two copies with the host side an open file rather than a path (a
// front end's request or response body): `source` is read to its end and
// written as `destination` (parents created, an existing file replaced by
// rename); `shown` names the source in the report.
Copied upload_from(int source, const std::string& shown, const Roots& roots, const SandboxPath& destination, const Transfer& options);
// The sandbox file at `source`, opened for reading after the same checks as
// download (a regular file, reached without symlinks), and its size.
struct Opened {
  sys::Fd fd;
  std::uint64_t size = 0;
};
Opened open_for_download(const Roots& roots, const SandboxPath& source);

} // namespace sandpit::files
