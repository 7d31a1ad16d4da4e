// Where sandpit keeps things on the host: XDG directories and a workspace's state folder.
#pragma once

#include <filesystem>
#include <string>

namespace sandpit {

namespace fs = std::filesystem;

// $XDG_STATE_HOME/sandpit (default ~/.local/state/sandpit).
fs::path state_home();
// $XDG_CONFIG_HOME/sandpit (default ~/.config/sandpit).
fs::path config_home();
// The per-user persistent volume, mounted at /persist in every session: state_home()/persist.
fs::path persist_dir();
// Creates persist_dir() (0700) if missing. Throws Error on failure.
void ensure_persist_dir();

// A host directory whose sandbox state lives under state_home()/workspaces/<id>/.
struct Workspace {
  fs::path host_dir;  // the user's directory, canonical
  std::string id;     // "<basename>-<8 hex of a hash of host_dir>"
  fs::path state_dir; // state_home()/workspaces/<id>
  fs::path files_dir; // state_dir/files, mounted at /workspace

  // Resolves `dir` (empty: $SANDPIT_WORKSPACE, else the current directory). Does not create anything.
  static Workspace resolve(const std::string& dir);
  // Creates state_dir and files_dir (0700) if missing. Throws Error on failure.
  void ensure_created() const;
};

} // namespace sandpit
