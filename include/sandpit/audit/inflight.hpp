// In-flight markers: a small file per action whose intent is in the audit log and whose outcome is not yet,
// so that the next run can find what a crash lost without reading the log.
#pragma once

#include "sandpit/audit/log.hpp"
#include "sandpit/audit/owner.hpp"
#include "sandpit/audit/record.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::audit {

// An action whose owner died before it recorded the outcome.
struct Lost {
  Record intent;
  Owner owner;
  // The torn line (a crash mid-write) that appending its interrupted outcome found and closed.
  std::optional<std::uint64_t> torn_line;
};

// The record that closes a lost intent: the intent's fields and extras (not "phase"
// or "owner"), success false, exit code 125, error "Interrupted: <owner> died before
// it ended", and extra "intent" (its hash), "interrupted" (who died) and "started"
// (the intent's time).
Record interrupted_outcome(const Record& intent, const Owner& owner);

// The markers in one folder (a workspace's `inflight/`), one file per intent named by its hash.
class InFlight {
public:
  explicit InFlight(std::filesystem::path dir) : m_dir(std::move(dir)) {}

  // Leaves a marker for the intent `line` (as sealed, with its hash) that `log` holds at
  // byte `offset`. Best effort: without a marker the next run cannot name the action,
  // but readers of the log still see it as interrupted once its owner is gone.
  void add(std::string_view hash, const std::filesystem::path& log, std::uint64_t offset, std::string_view line) const;
  void remove(std::string_view hash) const;

  // For each marker of `log` whose owner is gone: appends interrupted_outcome() unless
  // the log already has the outcome (the owner died after writing it), and removes the
  // marker. Markers of other logs and of live owners are left alone. Returns the
  // actions it recorded as interrupted, oldest first. Throws Error when the log cannot
  // be written.
  std::vector<Lost> recover(Log& log) const;

  const std::filesystem::path& dir() const { return m_dir; }

private:
  std::filesystem::path m_dir;
};

} // namespace sandpit::audit
