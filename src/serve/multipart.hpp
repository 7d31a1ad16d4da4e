// multipart/form-data bodies (RFC 7578), as E2B's SDKs upload files: the parts, found in a body held in memory or mapped.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::serve {

struct MultipartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Part {
  std::string name;         // the form field ("file")
  std::string filename;     // as sent: E2B's SDKs put the whole target path here
  std::uint64_t offset = 0; // of the content within the body
  std::uint64_t size = 0;
};

// The boundary parameter of a multipart Content-Type, or nullopt.
std::optional<std::string> multipart_boundary(std::string_view content_type);
// The parts of `body`. Throws MultipartError for a malformed body (no closing
// delimiter, a part without headers' end, more than `max_parts` parts).
std::vector<Part> parse_multipart(std::string_view body, std::string_view boundary, std::size_t max_parts = 10'000);

} // namespace sandpit::serve
