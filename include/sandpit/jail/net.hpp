// The sandbox network: a fresh namespace whose only interface is loopback.
#pragma once

#include "sandpit/util/result.hpp"

namespace sandpit::jail {

// Brings `lo` up in the calling process's (new) network namespace.
Result<void> bring_up_loopback();

} // namespace sandpit::jail
