#include "sha256.hpp"

#include "sandpit/audit/record.hpp"

// The low-level SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, but
// EVP's first fetch sets the whole library up: it reads openssl.cnf, loads the
// error strings and registers every algorithm of the default provider. In a
// session daemon that only hashes its audit records that was ~1.5 MB of code
// touched and a few hundred KB of heap (bench/run's idle RSS). The low-level
// calls run the same assembly (SHA-NI where the CPU has it) with none of that.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace sandpit::audit {

namespace {
constexpr char k_hex[] = "0123456789abcdef";
}

std::array<unsigned char, 32> sha256(std::string_view a, std::string_view b) {
  std::array<unsigned char, 32> out{};
  SHA256_CTX ctx;
  // Cannot fail: they only update the context in memory.
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, a.data(), a.size());
  SHA256_Update(&ctx, b.data(), b.size());
  SHA256_Final(out.data(), &ctx);
  return out;
}

bool hex_equals(std::string_view text, const std::array<unsigned char, 32>& digest) {
  if (text.size() != 64) return false;
  for (std::size_t i = 0; i < digest.size(); ++i)
    if (text[2 * i] != k_hex[digest[i] >> 4] || text[2 * i + 1] != k_hex[digest[i] & 0xF]) return false;
  return true;
}

std::string sha256_hex(std::string_view a, std::string_view b) {
  auto d = sha256(a, b);
  std::string out(64, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = k_hex[d[i] >> 4];
    out[2 * i + 1] = k_hex[d[i] & 0xF];
  }
  return out;
}

} // namespace sandpit::audit
