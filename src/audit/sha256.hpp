// Sha256: a reusable OpenSSL SHA-256 context for hashing many small records quickly.
#pragma once

#include <array>
#include <string>
#include <string_view>

struct evp_md_ctx_st;
struct evp_md_st;

namespace sandpit::audit {

class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // The digest of `a` followed by `b`.
  std::array<unsigned char, 32> digest(std::string_view a, std::string_view b = {});
  // The same as 64 lowercase hex digits.
  std::string hex(std::string_view a, std::string_view b = {});

private:
  evp_md_ctx_st* m_ctx;
  evp_md_st* m_md;
};

// True when `text` is the 64 lowercase hex digits of `digest`.
bool hex_equals(std::string_view text, const std::array<unsigned char, 32>& digest);

} // namespace sandpit::audit
