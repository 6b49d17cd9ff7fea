#include "dlm/eval/judge.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/checkpoint_impl.h"
#include "dlm/error.h"

namespace dlm {
namespace {

// sentencepiece decodes its unknown id as U+2047 (see src/tokenizer/spm_module.cpp).
bool is_unknown(const Tokenizer& tokenizer, std::int64_t id) {
  return tokenizer.piece_bytes(id) == "\xE2\x81\x87";
}

std::string excerpt(std::string_view text) {
  return text.size() <= 40 ? std::string(text) : std::string(text.substr(0, 37)) + "...";
}

}  // namespace

double JudgeScore::perplexity() const {
  return tokens > 0 ? std::exp(nll / static_cast<double>(tokens))
                    : std::numeric_limits<double>::quiet_NaN();
}

Judge::Judge(Checkpoint& checkpoint) : checkpoint_(checkpoint) {
  if (!checkpoint.config().causal) {
    throw UsageError(fmt::format("--judge {} is not a causal judge (its config.json lacks "
                                 "\"causal\": true); pass an autoregressive checkpoint such as "
                                 "models/kjv-judge.pt", checkpoint.path()));
  }
}

void Judge::check_text(std::string_view text, const std::string& what) const {
  if (text.empty()) return;
  const Tokenizer& tokenizer = checkpoint_.tokenizer();
  const auto ids = tokenizer.encode(text);
  const auto unknown = std::count_if(ids.begin(), ids.end(),
                                     [&](std::int64_t id) { return is_unknown(tokenizer, id); });
  if (ids.empty() || static_cast<double>(unknown) > kMaxUnknownShare * static_cast<double>(ids.size())) {
    throw UsageError(fmt::format(
        "the judge {} cannot score the text: its tokenizer maps {} of the {} tokens of {} ('{}') "
        "to the unknown id; pass --judge a checkpoint whose vocabulary covers the text, such as "
        "the shipped models/kjv-judge.pt", checkpoint_.path(), unknown, ids.size(), what,
        excerpt(text)));
  }
  const std::int64_t width = checkpoint_.logits_width();
  for (const auto id : ids) {
    if (id < 0 || id >= width || id >= checkpoint_.config().vocab_size) {
      throw UsageError(fmt::format(
          "the judge {} cannot score the text: its tokenizer gives id {} for {} but its vocabulary "
          "is {} ids and its logits {} wide; re-export the judge with a matching tokenizer",
          checkpoint_.path(), id, what, checkpoint_.config().vocab_size, width));
    }
  }
}

JudgeScore Judge::score(std::string_view prompt, std::string_view completion) const {
  JudgeScore out;
  if (completion.empty()) return out;
  const ModelConfig& cfg = checkpoint_.config();
  const Tokenizer& tokenizer = checkpoint_.tokenizer();
  std::vector<std::int64_t> head, full;
  if (cfg.add_bos) head.push_back(cfg.bos_id);
  full = head;
  const auto prompt_ids = tokenizer.encode(prompt);
  head.insert(head.end(), prompt_ids.begin(), prompt_ids.end());
  const auto all_ids = tokenizer.encode(std::string(prompt) + std::string(completion));
  full.insert(full.end(), all_ids.begin(), all_ids.end());

  const auto n = static_cast<std::int64_t>(full.size());
  std::int64_t next = 0;  // first target: past the common prefix, never position 0
  while (next < n && next < static_cast<std::int64_t>(head.size()) && head[next] == full[next]) {
    ++next;
  }
  next = std::max<std::int64_t>(next, 1);
  const std::int64_t window = cfg.max_seq_len;
  const std::int64_t vocab = cfg.vocab_size;
  for (const auto id : full) {
    if (id < 0 || id >= vocab) {
      throw UsageError(fmt::format("the judge {} cannot score the text: its tokenizer gives id {} "
                                   "outside its {}-id vocabulary; re-export the judge",
                                   checkpoint_.path(), id, vocab));
    }
  }
  auto& impl = checkpoint_.impl();
  c10::InferenceMode guard;
  while (next < n) {
    // Window [start, end): scores targets [next, end), each with at least half a window of
    // context once the text is longer than one window.
    const std::int64_t start = next < window ? 0 : next - window / 2;
    const std::int64_t end = std::min(n, start + window);
    std::vector<std::int64_t> ids(full.begin() + start, full.begin() + end);
    const auto input = torch::from_blob(ids.data(), {1, end - start}, torch::kLong)
                           .to(impl.device(), false, true);
    const at::Tensor logits = impl.forward(input)[0]
                                  .slice(0, next - 1 - start, end - 1 - start)
                                  .slice(1, 0, vocab)
                                  .to(torch::kCPU, torch::kFloat);
    const at::Tensor logp = torch::log_softmax(logits.to(torch::kDouble), 1).contiguous();
    const double* rows = logp.data_ptr<double>();
    for (std::int64_t t = next; t < end; ++t) {
      out.nll -= rows[(t - next) * vocab + full[t]];
      ++out.tokens;
    }
    next = end;
  }
  return out;
}

}  // namespace dlm
