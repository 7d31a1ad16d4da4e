// The in-sandbox drivers (Python, Node.js) that run cells and report results, embedded at build time.
#pragma once

#include "sandpit/kernels/language.hpp"

#include <string>
#include <string_view>

namespace sandpit::kernels {

// Source of the driver run as `python3 -c`; reads cell frames on fd 3.
std::string_view python_driver();
// Source of the template process that forks Python kernels with the preload imported (python_template.py).
std::string_view python_template();
// The short program a template is started with: it reads python_template()'s exact length from fd 4.
std::string python_template_loader();
// Source of the driver run as `node -e`; reads cell frames on fd 3.
std::string_view node_driver();

// The driver for a kernel language.
std::string_view driver_source(Language language);
// The short program passed on the command line: it reads driver_source()'s
// exact length from fd 3 and runs it.
std::string python_loader();
std::string node_loader();

} // namespace sandpit::kernels
