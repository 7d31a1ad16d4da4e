// The exceptions higher layers throw: Error (the REPL prints it and continues) and its exit code.
#pragma once

#include "sandpit/core/exit_code.hpp"
#include "sandpit/util/result.hpp"

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

// Throws Error(code, context, failure.message()) when `result` failed; returns its value otherwise.
template <typename T> T check(Result<T> result, ExitCode code, const std::string& context) {
  if (!result) throw Error(code, context, result.failure().message());
  if constexpr (!std::is_void_v<T>) return std::move(result).value();
}

} // namespace sandpit
