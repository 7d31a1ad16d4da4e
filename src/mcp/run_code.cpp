// run_code: one execution in a session's daemon, as an MCP tool result (text, images, and long output saved to a file).
#include "tools_impl.hpp"

#include "arguments.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/units.hpp"

#include <cmath>
#include <fmt/format.h>

namespace sandpit::mcp {
namespace {

using nlohmann::json;

// Output reaches the call as it comes, for its progress notifications.
class CallSink final : public session::OutputSink {
public:
  explicit CallSink(Call& call) : m_call(call) {}
  void on_stdout(std::string_view data) override { m_call.output(data); }
  void on_stderr(std::string_view data) override { m_call.output(data); }

private:
  Call& m_call;
};

// Byte offset of the `n`th UTF-8 character of `text` (its size if it has fewer).
std::size_t offset_of_char(std::string_view text, std::size_t n) {
  std::size_t i = 0;
  for (; i < text.size() && n > 0; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && --n == 0) {
      // i is the start of the last counted character: skip its continuation bytes.
      ++i;
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
      return i;
    }
  }
  return i;
}

std::size_t count_chars(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

struct Cut {
  std::string text;
  bool cut = false;
};

// `text` cut to its first and last max/2 characters around a line that says where the whole of it is.
Cut head_and_tail(const std::string& text, std::size_t max, const std::string& saved_as) {
  const auto chars = count_chars(text);
  if (chars <= max) return {text, false};
  const auto head_end = offset_of_char(text, max / 2);
  const auto tail_start = offset_of_char(text, chars - max / 2);
  auto marker = fmt::format("\n[... {} characters cut; the whole output is in {} ...]\n", chars - max / 2 * 2, saved_as);
  return {text.substr(0, head_end) + marker + text.substr(tail_start), true};
}

struct Run {
  std::string session;
  session::ExecRequest request;
};

Run parse(const json& arguments, const config::Config& config) {
  Arguments args(arguments, {"code", "language", "timeout", "session", "packages"});
  Run run;
  run.request.code = args.required_string("code", session::protocol::k_max_code);
  run.request.language = *kernels::parse_language(args.choice("language", {"python", "javascript", "typescript", "bash"}, "python"));
  run.session = args.session();
  run.request.timeout = config.limits.timeout;
  const double max_s = static_cast<double>(config.mcp_max_timeout.count()) / 1000;
  if (auto seconds = args.positive_number("timeout", max_s, fmt::format("{} (mcp.max_timeout)", units::format_duration(config.mcp_max_timeout)))) {
    const auto wanted = units::Millis(static_cast<std::int64_t>(std::ceil(*seconds * 1000)));
    try {
      run.request.timeout = config::bounded_timeout(config, wanted, "timeout");
    } catch (const Error& e) {
      throw BadArgument("'timeout': " + e.reason());
    }
  }
  run.request.filename = "<cell>";
  run.request.packages = args.strings("packages", 64, 200);
  return run;
}

} // namespace

json SandpitTools::run_code(const json& arguments, Call& call) {
  const auto& config = m_env.config();
  auto run = parse(arguments, config);
  auto workspace = m_env.workspace(run.session);
  auto caller = m_env.caller(call, "mcp");
  std::string notes;
  for (const auto& notice : session::recover_lost(config, workspace)) notes += "sandpit: " + notice + "\n";
  for (const auto& finding : session::admit(config, caller, workspace, run.request)) notes += "sandpit: " + session::warning_text(finding) + "\n";

  const auto language = std::string(kernels::name_of(run.request.language));
  auto client = session::Client::connect(workspace, m_env.options().config_file, session::Start::yes, language, config.max_sessions, &config);
  session::protocol::Execute e;
  e.language = language;
  e.code = run.request.code;
  e.filename = run.request.filename;
  e.timeout_ms = run.request.timeout.count();
  e.user = caller.user;
  e.command = caller.command;
  e.client = caller.client;
  e.packages = run.request.packages;
  CallSink sink(call);
  auto result = client->execute(e, sink, {}, session::Interruption{call.cancel_fd(), [&call] { return call.cancel_reason(); }});
  return present(run.session, workspace, caller, std::move(result), notes);
}

json SandpitTools::present(const std::string& name, const Workspace& workspace, const session::Caller& caller,
                           session::ExecResult result, const std::string& notes) {
  const auto max = m_env.config().mcp_max_output;
  std::string text = fmt::format("[exit {} · {} ms · session {} #{}]\n", result.exit_code, std::llround(result.duration_ms), name,
                                 result.execution_count);
  // Each stream over the limit is saved whole in /workspace/.sandpit/mcp/ and cut here.
  auto show = [&](const std::string& stream, const std::string& label, const char* suffix) {
    if (stream.empty()) return;
    auto path = files::parse_sandbox_path(fmt::format("/workspace/.sandpit/mcp/{}-{}.txt", result.execution_count, suffix));
    auto cut = head_and_tail(stream, max, path.shown());
    if (cut.cut) {
      try {
        m_env.write(caller, workspace, path, stream, fmt::format("({} of execution {})", suffix, result.execution_count));
      } catch (const Error& e) {
        cut = head_and_tail(stream, max, fmt::format("no file: {}: {}", e.subject(), e.reason()));
      }
    }
    text += label + cut.text;
    if (text.back() != '\n') text += '\n';
  };
  if (!result.packages_installed.empty()) {
    std::vector<std::string> listed;
    for (const auto& p : result.packages_installed) {
      listed.push_back(fmt::format("{} {}{}", p.value("name", ""), p.value("version", ""), p.value("cached", false) ? " (already installed)" : ""));
    }
    text += fmt::format("[packages] {}\n", fmt::join(listed, ", "));
  }
  show(result.stdout_text, "", "stdout");
  show(notes + result.stderr_text, "[stderr]\n", "stderr");
  if (result.result && result.result->contains("text/plain")) text += "[result]\n" + (*result.result)["text/plain"].get<std::string>() + "\n";
  if (auto failure = session::sandbox_failure(result); !failure.empty()) {
    text += "[sandpit] " + failure + "\n";
  } else if (result.error) {
    text += "[error] " + result.error->name + (result.error->value.empty() ? "" : ": " + result.error->value) + "\n";
    if (!result.error->traceback.empty() && result.stderr_text.find(result.error->traceback) == std::string::npos) {
      text += result.error->traceback + (result.error->traceback.back() == '\n' ? "" : "\n");
    }
  }
  json content = json::array({{{"type", "text"}, {"text", text}}});
  for (auto& image : result.images) {
    const auto format = image.value("format", std::string("png"));
    content.push_back({{"type", "image"}, {"data", image.value("base64", "")}, {"mimeType", "image/" + format}});
    image.erase("base64");
  }
  json out = {{"content", std::move(content)}, {"isError", !result.success}};
  if (m_env.options().structured) out["structuredContent"] = session::to_json(result);
  return out;
}

} // namespace sandpit::mcp
