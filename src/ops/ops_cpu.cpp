// CPU implementations: rows run in parallel (at::parallel_for), each through the same
// scalar code as the sampler (propose, select_top_k, select_threshold, select_factor), so
// an operator's result is bit for bit what that code gives row by row.
#include "ops/ops_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <type_traits>
#include <vector>

#include "dlm/sampling/scoring.h"
#include "ops/checks.h"

namespace dlm::ops::cpu {
namespace {

// A row of float32 logits: the tensor's own memory, or a float copy of a 16-bit row
// (every float16 and bfloat16 value is exactly a float).
template <class T>
const float* float_row(const T* row, std::int64_t vocab, std::vector<float>& buffer) {
  buffer.resize(static_cast<std::size_t>(vocab));
  for (std::int64_t v = 0; v < vocab; ++v) {
    buffer[static_cast<std::size_t>(v)] = static_cast<float>(row[v]);
  }
  return buffer.data();
}

template <class T>
void score_rows(const at::Tensor& logits, const std::int64_t* seeds, const std::int64_t* positions,
                const std::int64_t* steps, const TokenRule& rule, std::int64_t* tokens,
                double* scores) {
  const auto rows = logits.size(0);
  const auto vocab = logits.size(1);
  const T* data = logits.data_ptr<T>();
  // One row is tens of microseconds or more: split down to single rows.
  at::parallel_for(0, rows, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> buffer;
    for (std::int64_t r = begin; r < end; ++r) {
      const T* row = data + r * vocab;
      const float* floats;
      if constexpr (std::is_same_v<T, float>) {
        floats = row;
      } else {
        floats = float_row(row, vocab, buffer);
      }
      const DrawKey key{static_cast<std::uint64_t>(seeds[r]),
                        static_cast<std::uint64_t>(positions[r]),
                        static_cast<std::uint64_t>(steps[r])};
      const Candidate c = propose(floats, vocab, rule, key);
      tokens[r] = c.token;
      scores[r] = c.score;
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> score(const at::Tensor& logits, const at::Tensor& seeds,
                                         const at::Tensor& positions, const at::Tensor& steps,
                                         std::int64_t style, std::int64_t algorithm,
                                         double temperature, std::int64_t top_k, double top_p,
                                         double min_p, at::IntArrayRef banned, at::IntArrayRef deferred) {
  detail::check_score(logits, seeds, positions, steps);
  const TokenRule rule =
      detail::token_rule(style, algorithm, temperature, top_k, top_p, min_p, banned, deferred);
  const at::Tensor l = logits.contiguous();
  const at::Tensor s = seeds.contiguous(), p = positions.contiguous(), t = steps.contiguous();
  at::Tensor tokens = at::empty({l.size(0)}, l.options().dtype(at::kLong));
  at::Tensor scores = at::empty({l.size(0)}, l.options().dtype(at::kDouble));
  const auto* seed = s.data_ptr<std::int64_t>();
  const auto* position = p.data_ptr<std::int64_t>();
  const auto* step = t.data_ptr<std::int64_t>();
  auto* token = tokens.data_ptr<std::int64_t>();
  auto* value = scores.data_ptr<double>();
  switch (l.scalar_type()) {
    case at::kFloat:
      score_rows<float>(l, seed, position, step, rule, token, value);
      break;
    case at::kBFloat16:
      score_rows<at::BFloat16>(l, seed, position, step, rule, token, value);
      break;
    default:
      score_rows<at::Half>(l, seed, position, step, rule, token, value);
  }
  return {tokens, scores};
}

at::Tensor commit(const at::Tensor& scores, const at::Tensor& tokens, const at::Tensor& eligible,
                  at::Tensor& canvas, const at::Tensor& k, std::int64_t rule, double value) {
  const CommitRule how = detail::check_commit(scores, tokens, eligible, canvas, k, rule);
  const at::Tensor s = scores.contiguous(), t = tokens.contiguous(), e = eligible.contiguous();
  const at::Tensor counts = how == CommitRule::kTopK ? k.contiguous() : at::Tensor();
  const auto rows = s.size(0);
  const auto width = s.size(1);
  at::Tensor chosen = at::zeros({rows, width}, s.options().dtype(at::kBool));
  // canvas may be a strided view: write through an accessor rather than a raw pointer.
  auto out = canvas.accessor<std::int64_t, 2>();
  const auto* score = s.data_ptr<double>();
  const auto* token = t.data_ptr<std::int64_t>();
  const auto* ok = e.data_ptr<bool>();
  const auto* count = how == CommitRule::kTopK ? counts.data_ptr<std::int64_t>() : nullptr;
  auto* pick = chosen.data_ptr<bool>();
  at::parallel_for(0, rows, 16, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> slots;
    std::vector<double> values;
    for (std::int64_t b = begin; b < end; ++b) {
      slots.clear();
      values.clear();
      for (std::int64_t j = 0; j < width; ++j) {
        if (!ok[b * width + j]) continue;
        slots.push_back(j);
        values.push_back(score[b * width + j]);
      }
      std::vector<std::int64_t> picked;
      switch (how) {
        case CommitRule::kTopK:
          picked = select_top_k(values, count[b]);
          break;
        case CommitRule::kThreshold:
          picked = select_threshold(values, value);
          break;
        case CommitRule::kFactor:
          picked = select_factor(values, value);
          break;
      }
      for (const auto i : picked) {
        const auto j = slots[static_cast<std::size_t>(i)];
        pick[b * width + j] = true;
        out[b][j] = token[b * width + j];
      }
    }
  });
  return chosen;
}

void cache_write(at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets) {
  detail::check_cache_write(cache, fresh, offsets);
  const at::Tensor host = offsets.contiguous();
  const auto* offset = host.data_ptr<std::int64_t>();
  const auto window = fresh.size(3);
  for (std::int64_t b = 0; b < cache.size(1); ++b) {
    cache.select(1, b).narrow(2, offset[b], window).copy_(fresh.select(1, b));
  }
}

}  // namespace dlm::ops::cpu
