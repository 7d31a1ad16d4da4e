#include "sandpit/util/result.hpp"

#include <cerrno>
#include <cstring>

namespace sandpit {

std::string Failure::message() const {
  std::string out = what;
  if (err != 0) {
    out += ": ";
    out += std::strerror(err);
  }
  if (!detail.empty()) {
    out += err != 0 ? " (" + detail + ")" : ": " + detail;
  }
  return out;
}

Failure errno_failure(std::string what) {
  return Failure{std::move(what), errno, {}};
}

} // namespace sandpit
