// What one execution asks for and what it gives back (DESIGN.md's output contract), and where its output streams.
#pragma once

#include "sandpit/kernels/language.hpp"
#include "sandpit/util/units.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::session {

struct ExecRequest {
  kernels::Language language = kernels::Language::python;
  std::string code;
  std::string filename = "<cell>"; // shown in tracebacks
  units::Millis timeout{30'000};
  // "": the session's kernel for the language. Otherwise a kernel of its own
  // (E2B's contexts: the same files, separate state), started on first use.
  std::string context;
  std::map<std::string, std::string> env; // set for this execution only (a kernel's are restored after it)
  std::string cwd;                         // where a new context's kernel (or a shell) starts ("": home)
  std::vector<std::string> packages;       // installed first (pip for Python, npm for JavaScript), unless already there
};

struct ErrorInfo {
  std::string name;
  std::string value;
  std::string traceback;
};

struct ExecResult {
  bool success = false;
  kernels::Language language = kernels::Language::python;
  std::string stdout_text;
  std::string stderr_text;
  std::optional<nlohmann::json> result; // {"text/plain": "..."}
  nlohmann::json images = nlohmann::json::array();
  // What display() showed, in order: MIME bundles like `result` ({"text/html": ...}).
  nlohmann::json displays = nlohmann::json::array();
  // The packages asked for: [{"name", "version", "cached"}] (cached: it was there already).
  nlohmann::json packages_installed = nlohmann::json::array();
  std::optional<ErrorInfo> error;
  int exit_code = 0;
  bool timed_out = false;
  double duration_ms = 0;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string session;
  int execution_count = 0;
};

// Whether a cell of code can run as it stands, as the language's own parser says
// (the REPL's continuation prompt). invalid: a syntax error more lines cannot fix; it runs, so it is reported.
enum class Completeness { complete, incomplete, invalid };
std::string_view name_of(Completeness c);
std::optional<Completeness> parse_completeness(std::string_view name);

// What the sandbox (not the code) reports about a run that failed, as the
// "<what>: <why>" of a `sandpit:` line ("timed out: ..."); "" when the code's own error says it all.
std::string sandbox_failure(const ExecResult& result);

// The object `exec --json` prints, with exactly the fields of DESIGN.md.
nlohmann::ordered_json to_json(const ExecResult& result);
// The inverse, for a client reading a daemon's answer. Missing fields keep their defaults.
ExecResult from_json(const nlohmann::json& object);

// Receives output as the sandboxed code produces it (already capped).
class OutputSink {
public:
  virtual ~OutputSink() = default;
  virtual void on_stdout(std::string_view data) = 0;
  virtual void on_stderr(std::string_view data) = 0;
};

} // namespace sandpit::session
