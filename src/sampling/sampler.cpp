// The batch driver: rows that need the model share forward calls (grouped by pass, padded
// length and window width), their logits are gathered on the device that produced them,
// scored with one dlm::score call per token rule and committed with one dlm::commit call
// per selection rule; only the chosen ids (and, for host-side selectors, the candidates'
// scores) come back to the host.
#include "dlm/sampling/sampler.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include "dlm/error.h"
#include "dlm/model/checkpoint.h"
#include "dlm/ops/ops.h"
#include "sampling/row.h"

namespace dlm {
namespace {

using Clock = std::chrono::steady_clock;
using sampling::Pass;
using sampling::Row;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool same_rule(const TokenRule& a, const TokenRule& b) {
  return a.style == b.style && a.algorithm == b.algorithm && a.temperature == b.temperature &&
         a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p && a.banned == b.banned &&
         a.deferred == b.deferred;
}

at::Tensor long_tensor(const std::vector<std::int64_t>& values, c10::Device device) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong)).to(device);
}

// A row of a forward group: where its inputs sit in the group's logits.
struct Member {
  Row* row;
  std::int64_t input;      // index of its first input in the forward call
  std::int64_t first_row;  // canvas index of output row 0 (a window's start, else 0)
  std::int64_t calls;      // inputs it ran (2 with guidance)
};

// The output rows (canvas indices) [first, last + 1) of the positions a row scores (its
// targets and, with token editing, its edit targets); {0, 0} when it has none.
std::pair<std::int64_t, std::int64_t> target_rows(const Row& row) {
  if (row.scored().empty()) return {0, 0};
  std::int64_t lo = row.out_row(row.scored().front()), hi = lo + 1;
  for (const std::int64_t p : row.scored()) {
    lo = std::min(lo, row.out_row(p));
    hi = std::max(hi, row.out_row(p) + 1);
  }
  return {lo, hi};
}

// The output rows a group's call computes: the fewest rows that cover every member's
// targets (the block, never the prompt), the same count for each input, each member's
// first row moved to its own span (kept inside the output's `length` rows).
sampling::HeadRows head_rows(std::vector<Member>& members, std::int64_t length) {
  sampling::HeadRows rows;
  rows.count = 1;
  for (const Member& m : members) {
    const auto [lo, hi] = target_rows(*m.row);
    rows.count = std::max(rows.count, hi - lo);
  }
  for (Member& m : members) {
    const auto [lo, hi] = target_rows(*m.row);
    const std::int64_t offset =
        std::clamp<std::int64_t>(hi > lo ? lo - m.first_row : 0, 0, length - rows.count);
    m.first_row += offset;
    rows.offsets.insert(rows.offsets.end(), static_cast<std::size_t>(m.calls), offset);
  }
  return rows;
}

// The rows of the group's flat logits [inputs * rows, V'] predicting `m`'s targets, from
// its input `offset` (0: the canvas, 1: the prompt-masked canvas of guidance).
std::vector<std::int64_t> flat_rows(const Member& m, std::int64_t rows_per_input,
                                    std::int64_t offset) {
  std::vector<std::int64_t> out;
  out.reserve(m.row->scored().size());
  for (const std::int64_t p : m.row->scored()) {
    out.push_back((m.input + offset) * rows_per_input + m.row->out_row(p) - m.first_row);
  }
  return out;
}

// Logits rows of the members' targets as float32 [sum targets, V'], guidance applied
// (u + (w + 1) * (c - u) from the conditional and the prompt-masked rows).
at::Tensor gather(const at::Tensor& flat, const std::vector<const Member*>& members,
                  std::int64_t rows_per_input) {
  const auto device = flat.device();
  std::vector<std::int64_t> index;
  for (const Member* m : members) {
    const auto mine = flat_rows(*m, rows_per_input, 0);
    index.insert(index.end(), mine.begin(), mine.end());
  }
  at::Tensor rows = flat.index_select(0, long_tensor(index, device)).to(at::kFloat);
  std::int64_t offset = 0;
  for (const Member* m : members) {
    const auto n = static_cast<std::int64_t>(m->row->scored().size());
    const double w = m->row->options().cfg_scale;
    if (w > 0 && n > 0) {
      const at::Tensor u =
          flat.index_select(0, long_tensor(flat_rows(*m, rows_per_input, 1), device)).to(at::kFloat);
      at::Tensor c = rows.narrow(0, offset, n);
      c.copy_(u + (w + 1) * (c - u));
    }
    offset += n;
  }
  // NaN or +inf logits (a broken export, an overflow in float16) would otherwise be read
  // as token 0 with a NaN score. A row's maximum is finite exactly when the row has no
  // NaN, no +inf and some finite value: one reduction and one small host copy per step.
  if (rows.numel() > 0 && !at::isfinite(std::get<0>(rows.max(1))).all().item<bool>()) {
    throw Error("the model returned NaN or infinite logits; the checkpoint is broken or "
                "overflows in its dtype (re-export it, in float32 if it is float16)");
  }
  return rows;
}

// dlm::commit's rule for a selector run in the operator: the same kinds, the same numbers.
ops::CommitRule commit_rule(sampling::SelectorKind kind) {
  using sampling::SelectorKind;
  static_assert(static_cast<int>(SelectorKind::kTopK) == static_cast<int>(ops::CommitRule::kTopK) &&
                static_cast<int>(SelectorKind::kThreshold) == static_cast<int>(ops::CommitRule::kThreshold) &&
                static_cast<int>(SelectorKind::kFactor) == static_cast<int>(ops::CommitRule::kFactor));
  return static_cast<ops::CommitRule>(kind);
}

// Scores the targets of members that share one token rule (one dlm::score call), picks
// with one dlm::commit call per selection rule, and completes each member's step.
void score_and_commit(const at::Tensor& flat, std::int64_t rows_per_input,
                      const std::vector<const Member*>& members, double ms_per_input) {
  const auto device = flat.device();
  const Row& first = *members.front()->row;
  std::vector<std::int64_t> seeds, positions, steps, offsets;
  for (const Member* m : members) {
    offsets.push_back(static_cast<std::int64_t>(positions.size()));
    for (const std::int64_t p : m->row->scored()) {
      seeds.push_back(static_cast<std::int64_t>(m->row->options().seed));
      positions.push_back(p);
      steps.push_back(m->row->step_index());
    }
  }
  const auto total = static_cast<std::int64_t>(positions.size());
  at::Tensor tokens, scores, entropies, edit_probabilities;
  if (total > 0) {
    at::Tensor rows = gather(flat, members, rows_per_input);
    if (rows.size(1) != first.vocab_size()) rows = rows.narrow(1, 0, first.vocab_size()).contiguous();
    for (std::size_t i = 0; i < members.size(); ++i) {
      const Row& row = *members[i]->row;
      const auto n = static_cast<std::int64_t>(row.targets().size());
      if (n == 0) continue;
      at::Tensor mine = rows.narrow(0, offsets[i], n);
      row.process(mine, row.targets());
    }
    const at::Tensor seed_t = long_tensor(seeds, device), position_t = long_tensor(positions, device),
                     step_t = long_tensor(steps, device);
    std::tie(tokens, scores) = ops::score(rows, seed_t, position_t, step_t, first.rule());
    const bool entropy = std::any_of(members.begin(), members.end(), [](const Member* m) {
      return m->row->selector().needs_entropy();
    });
    if (entropy) {
      // EB-sampler's bound reads each candidate's entropy: the same rule scored by the
      // entropy rule (sum p log(p + 1e-10), so H = -score), deferral off (it would read -inf).
      TokenRule rule = first.rule();
      rule.algorithm = Algorithm::kEntropy;
      rule.deferred.clear();
      entropies = std::get<1>(ops::score(rows, seed_t, position_t, step_t, rule)).neg().cpu();
    }
    const bool edits = std::any_of(members.begin(), members.end(), [](const Member* m) {
      return !m->row->edit_targets().empty();
    });
    if (edits) {
      // Token editing reads each candidate's probability: the confidence rule's score of
      // the same candidate (the candidate does not depend on the rule's algorithm).
      TokenRule rule = first.rule();
      rule.algorithm = Algorithm::kConfidence;
      edit_probabilities =
          first.rule().algorithm == Algorithm::kConfidence
              ? scores.cpu()
              : std::get<1>(ops::score(rows, seed_t, position_t, step_t, rule)).cpu();
    }
  }
  // Per member: its tokens (< 0 where not chosen) and scores, on the host.
  std::vector<std::vector<std::int64_t>> chosen(members.size());
  std::vector<std::vector<double>> host_scores(members.size()), host_entropies(members.size());
  // Selectors of the dlm::commit operator, one call per (rule, value).
  std::map<std::pair<int, double>, std::vector<std::size_t>> commit_groups;
  at::Tensor all_tokens, all_scores;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& selector = members[i]->row->selector();
    if (sampling::runs_in_commit_op(selector.kind())) {
      commit_groups[{static_cast<int>(selector.kind()), selector.value()}].push_back(i);
    }
    if ((!sampling::runs_in_commit_op(selector.kind()) || !members[i]->row->edit_targets().empty()) &&
        total > 0 && !all_tokens.defined()) {
      all_tokens = tokens.cpu();  // host-side selectors: ids and scores, no vocabulary
      all_scores = scores.cpu();
    }
  }
  for (const auto& [rule, indices] : commit_groups) {
    std::int64_t width = 0;
    for (const std::size_t i : indices) {
      width = std::max<std::int64_t>(width, static_cast<std::int64_t>(members[i]->row->targets().size()));
    }
    if (width == 0) continue;
    const auto batch = static_cast<std::int64_t>(indices.size());
    std::vector<std::int64_t> dest, source, k;
    for (std::size_t b = 0; b < indices.size(); ++b) {
      const std::size_t i = indices[b];
      const auto n = static_cast<std::int64_t>(members[i]->row->targets().size());
      for (std::int64_t j = 0; j < n; ++j) {
        dest.push_back(static_cast<std::int64_t>(b) * width + j);
        source.push_back(offsets[i] + j);
      }
      k.push_back(members[i]->row->step().k);
    }
    const at::Tensor to = long_tensor(dest, device), from = long_tensor(source, device);
    const auto doubles = at::TensorOptions().dtype(at::kDouble).device(device);
    const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
    at::Tensor grid_scores = at::zeros({batch * width}, doubles);
    grid_scores.index_copy_(0, to, scores.index_select(0, from));
    at::Tensor grid_tokens = at::zeros({batch * width}, longs);
    grid_tokens.index_copy_(0, to, tokens.index_select(0, from));
    at::Tensor eligible = at::zeros({batch * width}, longs.dtype(at::kBool));
    eligible.index_fill_(0, to, true);
    grid_tokens = grid_tokens.view({batch, width});
    at::Tensor canvas = at::full({batch, width}, first.mask_id(), longs);
    const at::Tensor picked =
        ops::commit(grid_scores.view({batch, width}), grid_tokens, eligible.view({batch, width}),
                    canvas, long_tensor(k, device),
                    commit_rule(static_cast<sampling::SelectorKind>(rule.first)), rule.second);
    // The one copy to the host: chosen ids, -1 elsewhere.
    const at::Tensor host = at::where(picked, grid_tokens, at::full_like(grid_tokens, -1)).cpu();
    for (std::size_t b = 0; b < indices.size(); ++b) {
      const std::size_t i = indices[b];
      const auto n = members[i]->row->targets().size();
      const auto* row = host.data_ptr<std::int64_t>() + static_cast<std::int64_t>(b) * width;
      chosen[i].assign(row, row + n);
    }
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    const Member& m = *members[i];
    const auto n = m.row->targets().size();
    if (!sampling::runs_in_commit_op(m.row->selector().kind()) && n > 0) {
      const auto* t = all_tokens.data_ptr<std::int64_t>() + offsets[i];
      const auto* s = all_scores.data_ptr<double>() + offsets[i];
      chosen[i].assign(t, t + n);
      host_scores[i].assign(s, s + n);
      if (m.row->selector().needs_entropy()) {
        const auto* h = entropies.data_ptr<double>() + offsets[i];
        host_entropies[i].assign(h, h + n);
      }
    }
    chosen[i].resize(n, -1);
    if (const auto e = m.row->edit_targets().size(); e > 0) {
      const std::int64_t at = offsets[i] + static_cast<std::int64_t>(n);
      m.row->apply_edits(all_tokens.data_ptr<std::int64_t>() + at,
                         edit_probabilities.data_ptr<double>() + at);
    }
    m.row->apply(chosen[i].data(), host_scores[i].empty() ? nullptr : host_scores[i].data(),
                 host_entropies[i].empty() ? nullptr : host_entropies[i].data(),
                 ms_per_input * static_cast<double>(m.calls), m.calls);
  }
}

// Completes the steps of a forward group from its logits [inputs, rows, V'].
void complete_group(const at::Tensor& logits, const std::vector<Member>& members,
                    double ms_per_input) {
  const std::int64_t rows_per_input = logits.size(1);
  const at::Tensor flat = logits.reshape({logits.size(0) * rows_per_input, logits.size(2)});
  // Rows that keep their output (MDLM) take their rows; the others are scored in groups
  // of one token rule.
  std::vector<std::vector<const Member*>> by_rule;
  for (const Member& m : members) {
    if (m.row->keeps_output()) {
      m.row->apply_kept(gather(flat, {&m}, rows_per_input),
                        ms_per_input * static_cast<double>(m.calls), m.calls);
      continue;
    }
    auto it = std::find_if(by_rule.begin(), by_rule.end(), [&](const auto& group) {
      return same_rule(group.front()->row->rule(), m.row->rule());
    });
    if (it == by_rule.end()) {
      by_rule.push_back({&m});
    } else {
      it->push_back(&m);
    }
  }
  for (const auto& group : by_rule) score_and_commit(flat, rows_per_input, group, ms_per_input);
}

}  // namespace

std::size_t generate_batch(Denoiser& model, const Tokenizer& tokenizer,
                           const std::vector<BatchRequest>& requests,
                           const std::function<void(std::size_t, GenerationResult&&)>& on_done,
                           const std::atomic<bool>* cancel) {
  const auto t_start = Clock::now();
  c10::InferenceMode guard;
  std::vector<std::unique_ptr<Row>> rows;
  for (const auto& r : requests) {
    rows.push_back(std::make_unique<Row>(model, tokenizer, r.prompt_ids, r.options, r.observer));
  }
  std::size_t finished = 0;
  std::vector<bool> active(rows.size());
  const auto step_row = [&](std::size_t i) {
    active[i] = rows[i]->advance();
    if (!active[i]) {
      on_done(i, rows[i]->finish(ms_since(t_start)));
      rows[i].reset();  // a finished row costs nothing more
      ++finished;
    }
  };
  for (std::size_t i = 0; i < rows.size(); ++i) step_row(i);
  while (!(cancel && cancel->load())) {
    // The rows waiting for the model, grouped by how their forward runs: one call per
    // group (pass, padded length, window width).
    std::map<std::tuple<int, std::int64_t, std::int64_t>, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!active[i]) continue;
      const Pass pass = rows[i]->pass();
      std::int64_t width = 0;
      if (pass == Pass::kWindow) {
        const auto [lo, hi] = rows[i]->window();
        width = hi - lo;
      }
      groups[{static_cast<int>(pass), rows[i]->padded(), width}].push_back(i);
    }
    if (groups.empty()) break;
    for (auto& [key, indices] : groups) {
      const auto [pass_id, padded, width] = key;
      const auto pass = static_cast<Pass>(pass_id);
      if (pass == Pass::kWindow) {
        // Rows that refreshed together keep their order, so their cache block is reused.
        std::stable_sort(indices.begin(), indices.end(), [&](std::size_t x, std::size_t y) {
          const auto& a = rows[x]->caches().front();
          const auto& b = rows[y]->caches().front();
          return a.block != b.block ? a.block.get() < b.block.get() : a.slot < b.slot;
        });
      }
      sampling::Canvases canvases;
      std::vector<sampling::CacheSlot*> slots;
      std::vector<std::int64_t> lo;
      std::vector<Member> members;
      for (const std::size_t i : indices) {
        const std::int64_t start = pass == Pass::kWindow ? rows[i]->window().first : 0;
        auto inputs = rows[i]->inputs();
        members.push_back(Member{rows[i].get(), static_cast<std::int64_t>(canvases.size()), start,
                                 static_cast<std::int64_t>(inputs.size())});
        for (std::size_t j = 0; j < inputs.size(); ++j) {
          canvases.push_back(std::move(inputs[j]));
          if (pass != Pass::kPlain) slots.push_back(&rows[i]->caches()[j]);
          lo.push_back(start);
        }
      }
      // Elastic cache rows want the window's key drift.
      const bool drift = pass == Pass::kWindow &&
                         std::any_of(members.begin(), members.end(),
                                     [](const Member& m) { return m.row->wants_similarity(); });
      std::vector<double> similarity;
      const sampling::HeadRows head = head_rows(members, pass == Pass::kWindow ? width : padded);
      const auto t_fwd = Clock::now();
      const at::Tensor logits =
          pass == Pass::kPlain  ? sampling::forward_plain(model, canvases, padded, head)
          : pass == Pass::kFull ? sampling::forward_full(model, canvases, padded, slots, head)
                                : sampling::forward_window(model, canvases, lo, width, padded, slots,
                                                           head, drift ? &similarity : nullptr);
      // Each row is charged its share of the call.
      const double share = ms_since(t_fwd) / static_cast<double>(canvases.size());
      complete_group(logits, members, share);
      if (drift) {
        for (const Member& m : members) {
          double lowest = 1.0;
          for (std::int64_t j = 0; j < m.calls; ++j) {
            lowest = std::min(lowest, similarity[static_cast<std::size_t>(m.input + j)]);
          }
          m.row->note_similarity(lowest);
        }
      }
      for (const std::size_t i : indices) step_row(i);
    }
  }
  return finished;
}

std::vector<GenerationResult> generate_batch(Denoiser& model, const Tokenizer& tokenizer,
                                             const std::vector<BatchRequest>& requests) {
  std::vector<GenerationResult> results(requests.size());
  generate_batch(model, tokenizer, requests,
                 [&](std::size_t i, GenerationResult&& r) { results[i] = std::move(r); });
  return results;
}

std::size_t generate_batch(Checkpoint& checkpoint, const std::vector<BatchRequest>& requests,
                           const std::function<void(std::size_t, GenerationResult&&)>& on_done,
                           const std::atomic<bool>* cancel) {
  const double load_ms = checkpoint.load_ms();
  return generate_batch(checkpoint.denoiser(), checkpoint.tokenizer(), requests,
                        [&](std::size_t i, GenerationResult&& r) {
                          r.load_ms = load_ms;
                          r.total_ms += load_ms;
                          on_done(i, std::move(r));
                        },
                        cancel);
}

std::vector<GenerationResult> generate_batch(Checkpoint& checkpoint,
                                             const std::vector<BatchRequest>& requests) {
  std::vector<GenerationResult> results(requests.size());
  generate_batch(checkpoint, requests,
                 [&](std::size_t i, GenerationResult&& r) { results[i] = std::move(r); });
  return results;
}

GenerationResult generate(Checkpoint& checkpoint, const std::vector<std::int64_t>& prompt_ids,
                          const GenerateOptions& options, GenerationObserver* observer) {
  validate(options, checkpoint, static_cast<std::int64_t>(prompt_ids.size()));
  return std::move(generate_batch(checkpoint, {BatchRequest{prompt_ids, options, observer}})[0]);
}

}  // namespace dlm
