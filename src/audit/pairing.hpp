// Matching intents with their outcomes across the reader's chunks: what is left open never ended.
#pragma once

#include "scan.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sandpit::audit {

// The hashes are SHA-256 in hex, already uniform: 16 of their digits make a hash key.
struct HexHash {
  std::size_t operator()(std::string_view hex) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, hex.data(), std::min(hex.size(), sizeof h));
    return h ^ (hex.size() > 2 * sizeof h ? std::hash<std::string_view>{}(hex.substr(sizeof h, sizeof h)) : 0);
  }
};

// One chunk's intents still open at its end, and the outcomes it read whose intents
// lie in earlier chunks. Views point into the mapped log.
struct OpenIntents {
  std::unordered_map<std::string_view, std::string_view, HexHash> open; // intent hash -> its line
  std::vector<std::string> earlier; // outcomes' "intent" not found in this chunk

  // Feeds one scanned record (`line` is its text in the mapping).
  void note(const Row& row, std::string_view line) {
    if (row.is_intent) {
      if (auto hash = hash_of_line(line); !hash.empty()) open.emplace(hash, line);
    } else if (!row.intent_ref.empty() && open.erase(row.intent_ref) == 0) {
      earlier.emplace_back(row.intent_ref);
    }
  }
};

// The lines of intents no outcome completes, in file order, from the chunks in file order.
inline std::vector<std::string_view> never_completed(std::vector<OpenIntents>& chunks) {
  std::unordered_map<std::string_view, std::string_view, HexHash> open;
  for (auto& chunk : chunks) {
    for (const auto& ref : chunk.earlier) open.erase(ref);
    open.merge(chunk.open);
  }
  std::vector<std::string_view> lines;
  lines.reserve(open.size());
  for (const auto& [hash, line] : open) lines.push_back(line);
  std::sort(lines.begin(), lines.end(), [](std::string_view a, std::string_view b) { return a.data() < b.data(); });
  return lines;
}

// Running or interrupted: whether the intent's owner (extra "owner") still lives.
Unfinished unfinished_state(std::string_view line);

} // namespace sandpit::audit
