// The in-sandbox drivers (Python, Node.js) that run cells and report results, embedded at build time.
#pragma once

#include <string_view>

namespace sandpit::kernels {

// Source of the driver run as `python3 -c`; reads cell frames on fd 3.
std::string_view python_driver();
// Source of the driver run as `node -e`; reads cell frames on fd 3.
std::string_view node_driver();

} // namespace sandpit::kernels
