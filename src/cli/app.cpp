// The top level: global options, one CLI11 subcommand per registered Command, the REPL when none is given, the one catch.
#include "sandpit/cli/command.hpp"

#include "help_format.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/version.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/terminal.hpp"
#include "sandpit/repl/repl.hpp"

#include "sandpit/util/trace.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>
#include <unistd.h>
#include <cstdlib>
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

namespace sandpit::cli {

const config::Config& Context::config() {
  if (!m_config) m_config = std::make_unique<config::Config>(config::load({config_file}));
  return *m_config;
}

namespace {

using Subcommands = std::vector<std::pair<CLI::App*, Command*>>;

// Parts of a message may come from the sandbox (file names): one line, no control characters.
void print_error(const std::string& raw_what, const std::string& raw_why) {
  const auto what = strings::one_line(raw_what);
  const auto why = strings::one_line(raw_why);
  std::fflush(stdout);
  fmt::print(stderr, "sandpit: {}: {}\n", what, why);
}

// The app every parse uses, the CLI's and each dot-command's: one registry, one option parser.
enum class Via { command_line, repl };

Subcommands add_commands(CLI::App& app, Context& context, std::vector<std::unique_ptr<Command>>& commands,
                         Via via = Via::command_line) {
  // Before the subcommands are made: they take the formatter they are given then.
  if (const auto width = terminal_columns(STDOUT_FILENO); width != 0) app.formatter(wrapping_formatter(width));
  app.set_version_flag("-V,--version", "sandpit " SANDPIT_VERSION);
  app.fallthrough();
  app.add_option("--config", context.config_file, "Read this config file after the user config")->type_name("FILE");
  Subcommands subs;
  for (auto& command : commands) {
    if (via == Via::repl && !command->in_repl()) continue;
    auto* sub = app.add_subcommand(std::string(command->name()), std::string(command->summary()));
    command->add_to(*sub);
    subs.emplace_back(sub, command.get());
  }
  return subs;
}

// nullopt when parsed; else the exit status (help and version print and exit 0).
template <typename Parse> std::optional<int> parse(CLI::App& app, Parse&& do_parse, std::string_view see) {
  try {
    do_parse();
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error("usage", fmt::format("{} (see '{}')", e.what(), see));
    return static_cast<int>(ExitCode::usage);
  }
}

// True for a failed write to our standard output: fmt::print throws std::system_error,
// the streaming sinks OutputError. These end the program (output_failed), not a command.
bool output_failure(const std::exception& e) {
  if (dynamic_cast<const OutputError*>(&e) != nullptr) return true;
  const auto* system = dynamic_cast<const std::system_error*>(&e);
  return system != nullptr && (system->code().value() == EPIPE || std::ferror(stdout) != 0);
}

// Runs `body`, turning an Error into `sandpit: <what>: <why>` and its exit status.
// A failed write to standard output passes through to run(): the REPL stops at it too.
template <typename Body> int guarded(Body&& body) {
  try {
    return static_cast<int>(body());
  } catch (const std::exception& e) {
    if (output_failure(e)) throw;
    if (const auto* error = dynamic_cast<const Error*>(&e)) {
      print_error(error->subject(), error->reason());
      return static_cast<int>(error->code());
    }
    print_error("internal error", e.what());
    return static_cast<int>(ExitCode::sandbox_setup);
  }
}

// Standard output could not be written (err): a reader that went away ends us as
// SIGPIPE ends other tools (the shell sees 141), quietly; a full disk or a failing
// device is reported, with status 1. Never "internal error", never a sandbox status.
int output_failed(int err) {
  if (err == EPIPE) {
    std::signal(SIGPIPE, SIG_DFL);
    std::raise(SIGPIPE);
    return 128 + SIGPIPE;
  }
  fmt::print(stderr, "sandpit: write to standard output: {}\n", std::strerror(err));
  return static_cast<int>(ExitCode::code_failed);
}

// What fmt buffered for stdout is written now, while a failure can still be reported
// (exit() would flush it and drop the error).
int flushed(int status) {
  if (std::fflush(stdout) == 0 && std::ferror(stdout) == 0) return status;
  const int err = errno != 0 ? errno : EIO;
  const int failed = output_failed(err);
  return status == 0 ? failed : status;
}

ExitCode run_chosen(const Subcommands& subs, Context& context) {
  for (const auto& [sub, command] : subs) {
    if (sub->parsed()) return command->run(context);
  }
  return ExitCode::usage;
}

// The registry as the REPL sees it: names, summaries and options for
// completion, and a run that parses a dot-command's words with a fresh app
// (commands keep their parsed options, so each dot-command gets new ones).
repl::Dispatcher make_dispatcher(const std::string& config_file) {
  repl::Dispatcher dispatcher;
  CLI::App app;
  Context context;
  auto commands = make_commands();
  for (const auto& [sub, command] : add_commands(app, context, commands, Via::repl)) {
    repl::CommandInfo info{std::string(command->name()), std::string(command->summary()), {}};
    for (const auto* option : sub->get_options()) {
      for (const auto& name : option->get_lnames()) info.options.push_back("--" + name);
      for (const auto& name : option->get_snames()) info.options.push_back("-" + name);
    }
    dispatcher.commands.push_back(std::move(info));
  }
  dispatcher.run = [config_file](const std::vector<std::string>& argv) {
    CLI::App dot{"", "sandpit"};
    Context dot_context;
    auto dot_commands = make_commands();
    auto subs = add_commands(dot, dot_context, dot_commands, Via::repl);
    dot.require_subcommand(1);
    std::vector<std::string> args(argv.rbegin(), argv.rend()); // CLI11 takes them last first
    if (auto status = parse(dot, [&] { dot.parse(args); }, "." + argv.front() + " --help")) return static_cast<ExitCode>(*status);
    if (dot_context.config_file.empty()) dot_context.config_file = config_file;
    dot_context.via = "repl";
    auto status = static_cast<ExitCode>(guarded([&] { return run_chosen(subs, dot_context); }));
    std::fflush(stdout); // before the next cell's output, which is written unbuffered
    return status;
  };
  return dispatcher;
}


int run_app(int argc, char** argv) {
  CLI::App app{"sandpit: run untrusted Python, JavaScript, TypeScript and shell code in a local sandbox.\n"
               "With no command, an interactive session (the REPL; batch when stdin is not a terminal).",
               "sandpit"};
  app.require_subcommand(0, 1);
  Context context;
  auto commands = make_commands();
  auto subs = add_commands(app, context, commands);
  repl::Options repl_options;
  bool no_inline_images = false;
  std::vector<CLI::Option*> repl_only = {
      app.add_option("-w,--workspace", repl_options.workspace, "REPL: workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR"),
      app.add_option("-l,--language", repl_options.language, "REPL: the first language, python (py), javascript (js), typescript (ts) or bash (sh)")->type_name("LANG"),
      app.add_flag("--keep-going", repl_options.keep_going, "REPL batch mode: run every cell, not only those before the first failure"),
      app.add_flag("--no-inline-images", no_inline_images, "REPL: announce images by path only, never draw them in the terminal"),
  };
  if (auto status = parse(app, [&] { app.parse(argc, argv); }, "sandpit --help")) return *status;
  trace::mark("parsed");
  if (app.get_subcommands().empty()) {
    repl_options.config_file = context.config_file;
    repl_options.inline_images = no_inline_images ? repl::InlineImages::never : repl::InlineImages::when_supported;
    // Dot-commands without -w act on the REPL's workspace, as the cells do.
    if (!repl_options.workspace.empty()) ::setenv("SANDPIT_WORKSPACE", repl_options.workspace.c_str(), 1);
    return guarded([&] { return repl::run(context.config(), repl_options, make_dispatcher(context.config_file)); });
  }
  if (std::any_of(repl_only.begin(), repl_only.end(), [](const CLI::Option* o) { return o->count() > 0; })) {
    print_error("usage", "-w, -l, --keep-going and --no-inline-images before a command apply to the REPL only; "
                         "give the command's own options after it (see 'sandpit --help')");
    return static_cast<int>(ExitCode::usage);
  }
  return guarded([&] { return run_chosen(subs, context); });
}

} // namespace

int run(int argc, char** argv) {
  int status = 0;
  try {
    status = run_app(argc, argv);
  } catch (const OutputError& e) {
    return output_failed(e.err());
  } catch (const std::system_error& e) {
    return output_failed(e.code().value());
  }
  return flushed(status);
}

} // namespace sandpit::cli
