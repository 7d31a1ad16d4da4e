#include "sandpit/files/base64.hpp"

#include <algorithm>
#include <openssl/evp.h>

namespace sandpit::files {

std::optional<std::string> decode_base64(std::string_view raw) {
  std::string text;
  text.reserve(raw.size());
  std::copy_if(raw.begin(), raw.end(), std::back_inserter(text), [](char c) { return c != ' ' && c != '\n' && c != '\r' && c != '\t'; });
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes, and accepts '=' anywhere: only the last two may be padding.
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && padding < 2; ++it) ++padding;
  if (text.find('=') < text.size() - padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string encode_base64(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

} // namespace sandpit::files
