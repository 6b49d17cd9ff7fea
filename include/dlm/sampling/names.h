#pragma once
// Names of the sampling strategies (unmasking rule, candidate style, schedule,
// end-of-sequence policy) and their parsing, with the reference implementations'
// names accepted as aliases.
#include <string>
#include <vector>

namespace dlm {

// Which masked positions a step unmasks, and how they are scored.
enum class Algorithm {
  kConfidence,  // probability of the candidate (LLaDA low_confidence, Dream maskgit_plus)
  kMargin,      // top-1 minus top-2 probability (Dream topk_margin)
  kEntropy,     // negative entropy of the distribution (Dream entropy)
  kRandom,      // a uniform draw per position (LLaDA random)
  kOrigin,      // Dream's independent reveal with probability 1 - s/t
  kAncestral,   // MDLM's ancestral sampler, reusing the model output when nothing changed
};

// How a candidate token is drawn and what the score reads.
enum class Style {
  kLlada,  // float64 Gumbel-max on the logits; scores read the unperturbed softmax
  kDream,  // categorical draw from the temperature-scaled, filtered softmax; scores read it too
};

enum class Schedule {
  kBlock,     // LLaDA: semi-autoregressive blocks, steps split across blocks
  kTimestep,  // Dream / MDLM: t over linspace(1, eps, steps + 1) on the whole span
};

enum class EosPolicy {
  kNone,      // as LLaDA: eos is an ordinary token
  kSuppress,  // eos (and eot) never proposed (LLaDA logits_eos_inf)
  kDefer,     // eos (and eot) candidates score -inf: committed last (confidence_eos_eot_inf)
  kStop,      // stop once an eos is final; what follows is discarded
};

// Key/value caching (Fast-dLLM): which part of the canvas keeps cached keys/values
// between the full passes at block boundaries.
enum class CacheMode {
  kAuto,    // dual when the checkpoint has the cache methods and the schedule is block
  kNone,    // every step runs the whole canvas
  kPrefix,  // later steps run canvas[block start:] against the cached prefix
  kDual,    // later steps run the block only, against cached prefix and suffix
  kElastic, // dual, plus a full pass whenever the window's keys drift (Elastic-Cache's idea)
};

// Whether a cache mode keeps a key/value cache (prefix, dual, elastic).
inline bool is_cached(CacheMode c) {
  return c == CacheMode::kPrefix || c == CacheMode::kDual || c == CacheMode::kElastic;
}

// Parse a name, in any case (or a reference alias; parse_algorithm also takes llama.cpp's
// --diffusion-algorithm numbers 0-4); throw UsageError listing the valid names.
Algorithm parse_algorithm(const std::string& name);
Style parse_style(const std::string& name);
Schedule parse_schedule(const std::string& name);
EosPolicy parse_eos_policy(const std::string& name);
CacheMode parse_cache_mode(const std::string& name);

std::string to_string(Algorithm a);
std::string to_string(Style s);
std::string to_string(Schedule s);
std::string to_string(EosPolicy e);
std::string to_string(CacheMode c);

// Rules that pick positions from scores (everything but origin and ancestral).
inline bool is_scored(Algorithm a) { return a != Algorithm::kOrigin && a != Algorithm::kAncestral; }

}  // namespace dlm
