#include "copy.hpp"

#include "sandpit/files/files.hpp"
#include "sandpit/util/fault.hpp"
#include "sandpit/util/units.hpp"

#include <array>
#include <cerrno>
#include <fmt/format.h>
#include <memory>
#include <openssl/evp.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

struct DigestFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Result<void> write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_failure("write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

} // namespace

Result<Copy> copy_hashed(int in, int out, std::uint64_t budget) {
  std::unique_ptr<EVP_MD_CTX, DigestFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Failure{"sha256", 0, "cannot start a digest"};
  std::array<char, 1 << 16> buffer{};
  Copy copy;
  while (true) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_failure("read");
    if (n == 0) break;
    if (copy.bytes + static_cast<std::uint64_t>(n) > budget) return Failure{"copy", EFBIG, {}};
    if (auto r = write_all(out, buffer.data(), static_cast<std::size_t>(n)); !r) return r.failure();
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n));
    copy.bytes += static_cast<std::uint64_t>(n);
    fault::reached("copy"); // the crash tests: a copy cut off mid-file
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);
  for (unsigned int i = 0; i < length; ++i) copy.sha256 += fmt::format("{:02x}", digest[i]);
  return copy;
}

std::string over_cap_text(const Transfer& options) {
  if (!options.over_cap.empty()) return options.over_cap;
  return fmt::format("larger than the per-transfer limit (limits.transfer = {})", units::format_size(options.max_bytes));
}

} // namespace sandpit::files
