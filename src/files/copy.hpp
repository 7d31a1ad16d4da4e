// Copying bytes between two fds while hashing them, within a byte budget.
#pragma once

#include "sandpit/util/result.hpp"

#include <cstdint>
#include <string>

namespace sandpit::files {

struct Copy {
  std::uint64_t bytes = 0;
  std::string sha256;
};

struct Transfer;
// What a copy refused for exceeding options.max_bytes says: the per-transfer limit, or options.over_cap.
std::string over_cap_text(const Transfer& options);

// Copies `in` to `out` until EOF. Fails with EFBIG once more than `budget` bytes would be written.
Result<Copy> copy_hashed(int in, int out, std::uint64_t budget);

} // namespace sandpit::files
