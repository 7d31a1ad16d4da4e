// The exceptions higher layers throw: Error (the REPL prints it and continues) and its exit code.
#pragma once

#include "sandpit/core/exit_code.hpp"
#include "sandpit/util/result.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sandpit {

// A failure to report as `sandpit: <what>: <why>` and map to an exit code.
class Error : public std::runtime_error {
public:
  Error(ExitCode code, std::string what, std::string why)
      : std::runtime_error(what + ": " + why), m_code(code), m_what(std::move(what)), m_why(std::move(why)) {}

  ExitCode code() const { return m_code; }
  const std::string& subject() const { return m_what; }
  const std::string& reason() const { return m_why; }

private:
  ExitCode m_code;
  std::string m_what;
  std::string m_why;
};

// Our own standard output could not be written: the reader closed it (EPIPE), or
// the disk is full, or the device failed. Not an error of the code or of the
// sandbox: the top-level catch ends quietly for a closed pipe, as SIGPIPE ends
// other tools, and reports the rest with status 1; the REPL stops at it.
class OutputError : public Error {
public:
  explicit OutputError(int err) : Error(ExitCode::code_failed, "write to standard output", std::strerror(err)), m_err(err) {}
  bool closed() const { return m_err == EPIPE; }
  int err() const { return m_err; }

private:
  int m_err;
};

// Throws OutputError when a write to standard output failed.
inline void check_output(const Result<void>& written) {
  if (!written) throw OutputError(written.failure().err);
}

// Throws Error(code, context, failure.message()) when `result` failed; returns its value otherwise.
template <typename T> T check(Result<T> result, ExitCode code, const std::string& context) {
  if (!result) throw Error(code, context, result.failure().message());
  if constexpr (!std::is_void_v<T>) return std::move(result).value();
}

} // namespace sandpit
