// How results reach the user: live streams and a summary for people, one JSON object for programs.
#pragma once

#include "sandpit/session/execution.hpp"

#include <memory>

namespace sandpit::cli {

// Streams that reach a terminal are always escaped, so the sandbox's output
// cannot drive it (TerminalEscaper; SGR passes on a TTY without NO_COLOR);
// Escape::yes (the REPL's dot-commands) escapes pipes too.
enum class Escape { no, yes };
// Writes output to our stdout/stderr as it arrives.
std::unique_ptr<session::OutputSink> make_terminal_sink(Escape escape = Escape::no);
// On a terminal, `inner` with a spinner on stderr while it is quiet (an install); anywhere else `inner` itself.
std::unique_ptr<session::OutputSink> with_spinner(std::unique_ptr<session::OutputSink> inner);
// Keeps nothing extra (the result holds the text); prints nothing while running.
std::unique_ptr<session::OutputSink> make_capture_sink();

// --events: newline-delimited JSON events named after Jupyter's messages, as they happen.
std::unique_ptr<session::OutputSink> make_events_sink();
// The events after the output (display_data, execute_result, error, status idle), then the result object.
void print_events_tail(const session::ExecResult& result);

// The final expression's value and any error the sandbox (not the code) reported.
void print_human(const session::ExecResult& result);
void print_json(const session::ExecResult& result);

} // namespace sandpit::cli
