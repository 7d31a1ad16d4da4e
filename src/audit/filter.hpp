// The Query filters, applied to a scanned Row.
#pragma once

#include "scan.hpp"

#include "sandpit/audit/reader.hpp"

namespace sandpit::audit {

// The filters an intent and its outcome share (they name the same user and language),
// by which the reader pairs them before it looks at time or outcome.
inline bool matches_identity(const Row& row, const Query& q) {
  if (q.user && row.user != *q.user) return false;
  if (q.language && (!row.has_language || row.language != *q.language)) return false;
  return true;
}

inline bool matches(const Row& row, const Query& q) {
  if (q.user && row.user != *q.user) return false;
  if (q.since_ms && row.ts_ms < *q.since_ms) return false;
  if (q.until_ms && row.ts_ms >= *q.until_ms) return false;
  if (q.language && (!row.has_language || row.language != *q.language)) return false;
  if (q.failed_only && row.success) return false;
  return true;
}

} // namespace sandpit::audit
