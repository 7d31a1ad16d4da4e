// Privilege drop: every capability set emptied, securebits locked, no_new_privs.
#pragma once

#include "sandpit/util/result.hpp"

namespace sandpit::jail {

// Empties the ambient, bounding, inheritable, permitted and effective sets,
// locks the securebits so root inside could never regain them, and sets
// no_new_privs. Irreversible for the calling process and its children.
Result<void> drop_privileges();

} // namespace sandpit::jail
