#include "sha256.hpp"

#include "sandpit/audit/record.hpp"

#include "sandpit/core/error.hpp"

#include <openssl/evp.h>

namespace sandpit::audit {

namespace {
constexpr char k_hex[] = "0123456789abcdef";
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()), m_md(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
  // Fetched once: EVP_sha256() would look the implementation up on every init.
  if (m_ctx == nullptr || m_md == nullptr) throw Error(ExitCode::sandbox_setup, "SHA-256", "OpenSSL has no SHA-256");
}

Sha256::~Sha256() {
  EVP_MD_free(m_md);
  EVP_MD_CTX_free(m_ctx);
}

std::array<unsigned char, 32> Sha256::digest(std::string_view a, std::string_view b) {
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(m_ctx, m_md, nullptr) != 1 || EVP_DigestUpdate(m_ctx, a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(m_ctx, b.data(), b.size()) != 1 || EVP_DigestFinal_ex(m_ctx, out.data(), &size) != 1)
    throw Error(ExitCode::sandbox_setup, "SHA-256", "OpenSSL digest failed");
  return out;
}

std::string Sha256::hex(std::string_view a, std::string_view b) {
  auto d = digest(a, b);
  std::string out(64, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = k_hex[d[i] >> 4];
    out[2 * i + 1] = k_hex[d[i] & 0xF];
  }
  return out;
}

bool hex_equals(std::string_view text, const std::array<unsigned char, 32>& digest) {
  if (text.size() != 64) return false;
  for (std::size_t i = 0; i < digest.size(); ++i)
    if (text[2 * i] != k_hex[digest[i] >> 4] || text[2 * i + 1] != k_hex[digest[i] & 0xF]) return false;
  return true;
}

std::string sha256_hex(std::string_view a, std::string_view b) {
  thread_local Sha256 hasher;
  return hasher.hex(a, b);
}

} // namespace sandpit::audit
