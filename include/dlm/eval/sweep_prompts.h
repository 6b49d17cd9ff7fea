#pragma once
// The prompt set of a sweep: a JSONL file, one {"prompt", optional "id", optional
// "reference"} object per line (scripts/data/heldout_prompts.jsonl is the shipped one).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

struct SweepPrompt {
  std::string id;                        // "id" as text, else the line number
  std::string prompt;
  std::optional<std::string> reference;  // the true continuation, when known
};

// Reads the first `limit` prompts of `path` (0: all); blank lines are skipped. Throws
// UsageError for a missing file, a malformed line (naming it), or no prompts at all.
std::vector<SweepPrompt> read_prompts(const std::string& path, std::size_t limit = 0);

// The reference as it continues the prompt: one space between them unless either side
// already has one there.
std::string reference_continuation(const SweepPrompt& prompt);

}  // namespace dlm
