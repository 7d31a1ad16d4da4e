#include "common.hpp"

#include "sandpit/core/error.hpp"

#include <fmt/format.h>
#include <sys/random.h>

namespace sandpit::serve {
namespace {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(ExitCode::sandbox_setup, "getrandom", std::strerror(errno));
    got += static_cast<std::size_t>(r);
  }
  return out;
}

std::tm utc(SystemClock::time_point t) {
  const std::time_t seconds = SystemClock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return tm;
}

} // namespace

std::string iso_millis(SystemClock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  const auto tm = utc(std::chrono::time_point_cast<std::chrono::seconds>(t));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (ms + 1000) % 1000);
}

std::string iso_micros(SystemClock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1'000'000;
  const auto tm = utc(std::chrono::time_point_cast<std::chrono::seconds>(t));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (us + 1'000'000) % 1'000'000);
}

std::string proto_timestamp(const timespec& t) {
  std::tm tm{};
  const std::time_t seconds = t.tv_sec;
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, t.tv_nsec);
}

void send_json(http::Response& res, int status, const json& body, http::Headers extra) {
  extra.emplace_back("Content-Type", "application/json");
  res.send(status, std::move(extra), body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void send_error(http::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"code", status}, {"message", message}});
}

void send_text(http::Response& res, int status, const std::string& text) {
  res.send(status, {{"Content-Type", "text/plain; charset=utf-8"}}, text);
}

std::string random_hex(std::size_t bytes) {
  const auto raw = random_bytes(bytes);
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) out += fmt::format("{:02x}", c);
  return out;
}

std::string random_id(std::size_t length) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const auto raw = random_bytes(length);
  std::string out;
  // 256 % 36 = 4: the bias (values 252..255 map twice) is too small to matter for a name.
  for (unsigned char c : raw) out += alphabet[c % alphabet.size()];
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

} // namespace sandpit::serve
