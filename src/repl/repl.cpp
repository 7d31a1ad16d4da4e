#include "sandpit/repl/repl.hpp"

#include "sandpit/repl/output.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/core/version.hpp"
#include "sandpit/repl/completion.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <fmt/format.h>
#include <langinfo.h>
#include <unistd.h>

namespace sandpit::repl {
namespace {

using kernels::Language;
using session::Completeness;

// The REPL's own dot-commands; every other one is the CLI's.
struct LocalCommand {
  std::string_view name;
  std::string_view summary;
};
constexpr LocalCommand k_local[] = {
    {"lang", "Switch the language of bare input: .lang python|javascript|typescript|bash"},
    {"py", "Python from here on (.lang python)"},
    {"js", "JavaScript from here on (.lang javascript)"},
    {"ts", "TypeScript from here on (.lang typescript; same globals as JavaScript)"},
    {"sh", "bash from here on (.lang bash)"},
    {"help", "List the dot-commands"},
    {"exit", "Leave (the session keeps running until its idle timeout)"},
};

std::string_view short_name(Language l) {
  switch (l) {
  case Language::python: return "py";
  case Language::javascript: return "js";
  case Language::typescript: return "ts";
  case Language::bash: return "sh";
  }
  return "py";
}

bool blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

void print_error(const std::string& what, const std::string& why) {
  std::fflush(stdout);
  (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}: {}\n", what, why));
}

class Repl {
public:
  Repl(const config::Config& config, const Options& options, const Dispatcher& dispatcher, Style style, ImageProtocol images)
      : m_config(config), m_options(options), m_dispatcher(dispatcher), m_style(style), m_images(images),
        m_workspace(Workspace::resolve(options.workspace)), m_caller(session::caller_for(config, "repl")) {
    m_language = Language::python;
    if (!options.language.empty()) {
      auto l = kernels::parse_language(options.language);
      if (!l) throw Error(ExitCode::usage, "--language " + options.language, fmt::format("unknown language (use {})", kernels::language_list()));
      m_language = *l;
    }
    // Dot-commands resolve the default workspace as the CLI does: this one is theirs.
    ::setenv("SANDPIT_WORKSPACE", m_workspace.host_dir.c_str(), 1);
    ::setenv("SANDPIT_LANGUAGE", std::string(kernels::name_of(m_language)).c_str(), 1); // .install serves it
  }

  const Workspace& workspace() const { return m_workspace; }

  CompletionTable completion_table() const {
    CompletionTable table;
    for (const auto& local : k_local) table.commands.emplace_back(local.name);
    for (const auto& command : m_dispatcher.commands) table.commands.push_back(command.name);
    table.options_of = [this](const std::string& name) {
      for (const auto& command : m_dispatcher.commands) {
        if (command.name == name) return command.options;
      }
      return std::vector<std::string>{};
    };
    return table;
  }

  std::string prompt(bool continuation) const {
    auto head = fmt::format("{} sandpit:{} ", short_name(m_language),
                            escape_terminal(m_workspace.host_dir.filename().string(), Sgr::escape));
    auto arrow = m_style.utf8 ? "❯ " : "> ";
    if (!continuation) return head + arrow;
    return std::string(head.size() > 4 ? head.size() - 4 : 0, ' ') + "... " + arrow;
  }

  // Reads lines until the end of input (or .exit); runs each complete cell and dot-command.
  ExitCode loop(LineEditor& editor) {
    std::vector<std::string> cell;
    ExitCode first_failure = ExitCode::success;
    while (!m_leave) {
      auto line = editor.read_line(prompt(!cell.empty()));
      if (line.status == Line::Status::interrupted) {
        cell.clear();
        continue;
      }
      if (line.status == Line::Status::eof) {
        auto status = cell.empty() ? ExitCode::success : run_cell(strings::join(cell, "\n"));
        if (first_failure == ExitCode::success) first_failure = status;
        break;
      }
      if (m_style.interactive && !blank(line.text)) editor.remember(line.text);
      auto status = take_line(line.text, cell);
      if (status == ExitCode::success) continue;
      if (first_failure == ExitCode::success) first_failure = status;
      if (!m_style.interactive && !m_options.keep_going) break;
    }
    if (m_style.interactive) {
      if (!m_leave) std::fputs("\n", stdout);
      return ExitCode::success;
    }
    return first_failure;
  }

private:
  // A line at the start of a cell may be a dot-command; otherwise it joins
  // the cell, which runs once the language says it is complete.
  ExitCode take_line(const std::string& text, std::vector<std::string>& cell) {
    if (cell.empty()) {
      if (blank(text)) return ExitCode::success;
      if (text[0] == '.' || text[0] == '!') return run_command(text);
    }
    cell.push_back(text);
    auto code = strings::join(cell, "\n");
    if (completeness(code) == Completeness::incomplete) return ExitCode::success;
    cell.clear();
    return run_cell(code);
  }

  session::Client& client() {
    if (!m_client) {
      m_client = session::Client::connect(m_workspace, m_options.config_file, session::Start::yes,
                                          std::string(kernels::name_of(m_language)), m_config.max_sessions, &m_config);
    }
    return *m_client;
  }

  // Asks the kernel; a connection that went stale (the daemon stopped) is
  // replaced once. Any other failure says "complete": the run will report it.
  Completeness completeness(const std::string& code) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        return client().check(std::string(kernels::name_of(m_language)), code);
      } catch (const Error&) {
        m_client.reset();
      }
    }
    return Completeness::complete;
  }

  // Runs the cell in the session; a daemon that dies during it is waited for and the cell recorded as interrupted.
  session::ExecResult execute(const session::protocol::Execute& e, session::OutputSink& sink) {
    try {
      return client().execute(e, sink);
    } catch (const session::DaemonGone&) {
      const pid_t daemon = m_client ? m_client->daemon_pid() : 0;
      for (const auto& notice : session::recover_after_crash(m_config, m_workspace, daemon)) {
        (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", notice));
      }
      throw;
    }
  }

  ExitCode run_cell(const std::string& code) {
    try {
      session::ExecRequest request;
      request.language = m_language;
      request.code = code;
      request.timeout = m_config.limits.timeout;
      for (const auto& notice : session::recover_lost(m_config, m_workspace)) {
        (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", notice));
      }
      for (const auto& finding : session::admit(m_config, m_caller, m_workspace, request)) {
        (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", session::warning_text(finding)));
      }
      session::protocol::Execute e;
      e.language = std::string(kernels::name_of(m_language));
      e.code = code;
      e.filename = request.filename;
      e.timeout_ms = request.timeout.count();
      e.user = m_caller.user;
      e.command = m_caller.command;
      CellSink sink(m_style, m_style.interactive && ::isatty(STDERR_FILENO) == 1);
      auto result = execute(e, sink);
      sink.finish();
      print_result(result, m_style, m_images);
      if (result.timed_out) return ExitCode::timed_out;
      return result.success ? ExitCode::success : ExitCode::code_failed;
    } catch (const OutputError&) {
      throw; // our output is gone: no point in running more cells
    } catch (const Error& e) {
      m_client.reset(); // the next cell reconnects (and starts a daemon if this one is gone)
      print_error(e.subject(), e.reason());
      return e.code();
    }
  }

  ExitCode run_command(const std::string& line) {
    std::fflush(stdout);
    if (line[0] == '!') return m_dispatcher.run({"shell", "--", line.substr(1)});
    auto words = split_words(std::string_view(line).substr(1));
    if (!words) {
      print_error("usage", words.failure().detail);
      return ExitCode::usage;
    }
    if (words->empty()) return unknown(".");
    const auto& name = words->front();
    if (name == "exit") {
      m_leave = true;
      return ExitCode::success;
    }
    if (name == "help") return help();
    if (name == "lang" || name == "py" || name == "js" || name == "ts" || name == "sh") return switch_language(*words);
    for (const auto& command : m_dispatcher.commands) {
      if (command.name == name) return m_dispatcher.run(*words);
    }
    return unknown(name);
  }

  ExitCode switch_language(const std::vector<std::string>& words) {
    const auto& name = words.front();
    std::string wanted = name == "lang" ? (words.size() == 2 ? words[1] : "") : name;
    auto language = kernels::parse_language(wanted);
    if (!language || (name != "lang" && words.size() > 1) || (name == "lang" && words.size() != 2)) {
      print_error("." + name, "expected .lang python|javascript|typescript|bash (or .py, .js, .ts, .sh)");
      return ExitCode::usage;
    }
    m_language = *language;
    ::setenv("SANDPIT_LANGUAGE", std::string(kernels::name_of(m_language)).c_str(), 1);
    return ExitCode::success;
  }

  ExitCode unknown(const std::string& name) {
    std::vector<std::string> names;
    for (const auto& local : k_local) names.emplace_back(local.name);
    for (const auto& command : m_dispatcher.commands) names.push_back(command.name);
    auto guess = strings::closest(name, names);
    auto why = guess.empty() ? std::string("unknown command (.help lists them)") : fmt::format("unknown command (did you mean .{}?)", guess);
    print_error("." + escape_terminal(name, Sgr::escape), why);
    return ExitCode::usage;
  }

  ExitCode help() const {
    std::string text = "Bare input is code in the current language; a cell runs once it is complete.\n";
    for (const auto& local : k_local) text += fmt::format("  .{:<9} {}\n", local.name, local.summary);
    for (const auto& command : m_dispatcher.commands) text += fmt::format("  .{:<9} {}\n", command.name, command.summary);
    text += fmt::format("  {:<10} {}\n", "!CMD", "Run a shell command line (.shell -- CMD)");
    text += "Ctrl-C interrupts a run (the session keeps its state) or clears the line; Ctrl-D leaves.\n";
    check_output(sys::write_all(STDOUT_FILENO, text));
    return ExitCode::success;
  }

  const config::Config& m_config;
  const Options& m_options;
  const Dispatcher& m_dispatcher;
  Style m_style;
  ImageProtocol m_images;
  Workspace m_workspace;
  session::Caller m_caller;
  Language m_language;
  std::optional<session::Client> m_client;
  bool m_leave = false;
};

// Between lines, Ctrl-C must neither kill the REPL nor be discarded: the
// client takes it through a signalfd while a cell runs, which a SIG_IGN would defeat.
class QuietSigint {
public:
  QuietSigint() {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &m_old);
  }
  ~QuietSigint() { ::sigaction(SIGINT, &m_old, nullptr); }
  QuietSigint(const QuietSigint&) = delete;
  QuietSigint& operator=(const QuietSigint&) = delete;

private:
  struct sigaction m_old {};
};

Style style_here(bool interactive) {
  std::setlocale(LC_CTYPE, "");
  Style style;
  style.interactive = interactive;
  const char* no_color = std::getenv("NO_COLOR");
  style.color = interactive && ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
  style.utf8 = std::string_view(::nl_langinfo(CODESET)) == "UTF-8";
  return style;
}

} // namespace

ExitCode run(const config::Config& config, const Options& options, const Dispatcher& dispatcher) {
  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  auto images = ImageProtocol::none;
  if (interactive && options.inline_images == InlineImages::when_supported && ::isatty(STDOUT_FILENO) == 1) {
    images = detect_image_protocol([](const char* name) { return std::getenv(name); });
  }
  Repl repl(config, options, dispatcher, style_here(interactive), images);
  if (!interactive) {
    auto reader = make_plain_reader(STDIN_FILENO);
    return repl.loop(*reader);
  }
  QuietSigint quiet;
  repl.workspace().ensure_created();
  auto table = repl.completion_table();
  auto editor = make_terminal_editor(repl.workspace().state_dir / "history",
                                     [table](std::string_view before) { return complete(before, table); });
  check_output(sys::write_all(STDOUT_FILENO, fmt::format("sandpit {}: {} in a sandbox. .help lists the dot-commands, Ctrl-D leaves.\n",
                                                        SANDPIT_VERSION, escape_terminal(repl.workspace().host_dir.string(), Sgr::escape))));
  return repl.loop(*editor);
}

} // namespace sandpit::repl
