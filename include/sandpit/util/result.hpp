// Result<T>: the value of a low-layer operation or the errno-style failure that stopped it.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sandpit {

// A failure in a low layer: what was being done, and the errno it failed with
// (0 when the failure is not a system error; then `detail` says why).
struct Failure {
  std::string what;
  int err = 0;
  std::string detail;

  // "mount /proc: Operation not permitted"
  std::string message() const;
};

template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : m_v(std::move(value)) {}
  Result(Failure failure) : m_v(std::move(failure)) {}

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  const T& value() const& { return std::get<0>(m_v); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Failure& failure() const { return std::get<1>(m_v); }

private:
  std::variant<T, Failure> m_v;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Failure failure) : m_failure(std::move(failure)), m_ok(false) {}
  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Failure& failure() const { return m_failure; }

private:
  Failure m_failure;
  bool m_ok = true;
};

// Failure{what, errno} from the current errno.
Failure errno_failure(std::string what);

} // namespace sandpit
