#pragma once
// Running one cell of a sweep over the prompt set: speed (tokens/s, latency, forward
// calls, peak memory) and quality (judge perplexity, token entropy, distinct-2, match
// against the references) of its completions.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/eval/judge.h"
#include "dlm/eval/sweep.h"
#include "dlm/eval/sweep_prompts.h"

namespace dlm {

// One completion as the quality measures see it.
struct Completion {
  std::string text;                     // the completion only, leading space kept
  std::vector<std::int64_t> token_ids;  // the denoiser's ids, up to the first eos
};

// Quality of the completions of one prompt set; a mean is nullopt when nothing counts.
struct QualitySummary {
  JudgeScore judge;                 // summed over completions: perplexity is token-weighted
  std::optional<double> entropy;    // mean token entropy (nats) of non-empty completions
  std::optional<double> distinct2;  // mean distinct-2 of completions with >= 2 tokens
  std::optional<double> match5;     // share of prompts with a reference whose first 5 words match
  std::optional<double> in_place;   // mean share of reference words reproduced in place
  double completion_tokens = 0.0;   // mean tokens before the end of sequence
  std::vector<JudgeScore> each;     // the judge's score of every completion, in order
};

// Speed of one cell. Tokens are generated positions (-n per prompt), as `--stats` counts.
struct SpeedSummary {
  std::vector<double> tokens_per_s_repeats;  // each repeat: prompts * n / its summed latency
  double tokens_per_s = 0.0;                 // their median
  double latency_p50_ms = 0.0;               // over every prompt of every repeat
  double latency_p95_ms = 0.0;
  double nfe_per_prompt = 0.0;               // mean forward calls per prompt
  double tokens_per_forward = 0.0;           // positions committed per forward call
  std::optional<double> peak_rss_mib;        // VmHWM during the cell (models included)
};

struct CellResult {
  SpeedSummary speed;
  QualitySummary quality;
  std::string sample;  // the first prompt's completion
  // Every prompt's completion (first repeat), in prompt order: the samples file
  // (samples.jsonl) holds them all.
  std::vector<std::string> texts;
  // Every prompt's completion ids, in prompt order: token agreement between cells
  // (scripts/eval/agreement.py) reads them from cells.jsonl.
  std::vector<std::vector<std::int64_t>> token_ids;
  double elapsed_s = 0.0;
  std::int64_t prompts = 0;
  int repeats = 0;
};

// Judge perplexity, entropy, distinct-2 and reference match of `completions[i]` for
// `prompts[i]`.
QualitySummary measure_quality(const Judge& judge, const std::vector<SweepPrompt>& prompts,
                               const std::vector<Completion>& completions);

// Generates every prompt `repeats` times with the cell's options (timed), then scores
// the first repeat's completions (untimed; the same seed gives the same text each time).
// With batch_size > 1, consecutive prompts run together through dlm::generate_batch and
// a prompt's latency runs from its batch's start to its own end.
CellResult run_cell(Checkpoint& model, const Judge& judge, const std::vector<SweepPrompt>& prompts,
                    const SweepCell& cell, int repeats, int batch_size = 1);

// The references themselves scored as completions (tokens by the denoiser's tokenizer):
// what real text scores (the "floor"; repetitive greedy text can score lower). nullopt
// when no prompt carries a reference.
std::optional<QualitySummary> score_references(const Checkpoint& model, const Judge& judge,
                                               const std::vector<SweepPrompt>& prompts);

// Linear-interpolated percentile (q in [0, 100]) of a non-empty list.
double percentile(std::vector<double> values, double q);

// Peak resident memory: reset_peak_memory() starts a new high-water mark (writes 5 to
// /proc/self/clear_refs; false where that is not allowed), peak_memory_mib() reads
// VmHWM from /proc/self/status (nullopt where there is none).
bool reset_peak_memory();
std::optional<double> peak_memory_mib();

}  // namespace dlm
