// The sampling core against a fake denoiser of hand-made logits: schedules, selectors and
// cache policies as the sampler drives them, with no checkpoint and no torch model. Each
// canvas index q has one favourite token (kFirstToken + q) whose logit is the confidence
// given for q; every other logit is 0, so the commit order is known in advance.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dlm/model/denoiser.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/cache_policy.h"
#include "dlm/sampling/logits_processors.h"
#include "dlm/sampling/schedule.h"
#include "dlm/sampling/scoring.h"
#include "dlm/sampling/selector.h"
#include "dlm/sampling/token_edit.h"
#include "dlm/tokenizer/tokenizer.h"
#include "dlm/version.h"

namespace {

constexpr std::int64_t kVocab = 64;
constexpr std::int64_t kMask = 1, kEos = 2, kPad = 3, kBos = 4, kEot = 5;
constexpr std::int64_t kFirstToken = 10;

// One byte per id: ids from kFirstToken spell 'a', 'b', ...
class FakeTokenizer final : public dlm::Tokenizer {
 public:
  FakeTokenizer() {
    for (std::int64_t id = 0; id < kVocab; ++id) {
      pieces_.push_back(id >= kFirstToken ? std::string(1, static_cast<char>('a' + (id - kFirstToken) % 26)) : "");
    }
  }
  std::vector<std::int64_t> encode(std::string_view text) const override {
    return std::vector<std::int64_t>(text.size(), kFirstToken);
  }
  std::int64_t size() const override { return kVocab; }
  const std::string& piece_bytes(std::int64_t id) const override { return pieces_.at(id); }
  std::string kind() const override { return "fake"; }

 private:
  std::vector<std::string> pieces_;
};

// Logits from position ids alone: canvas index q prefers kFirstToken + q with logit
// confidence[q]. Counts its calls per method; the cache methods return zero keys.
class FakeDenoiser final : public dlm::Denoiser {
 public:
  explicit FakeDenoiser(std::vector<float> confidence, bool cache = true, bool shifted = false)
      : confidence_(std::move(confidence)), cache_(cache) {
    config_.vocab_size = kVocab;
    config_.mask_id = kMask;
    config_.eos_id = kEos;
    config_.pad_id = kPad;
    config_.bos_id = kBos;
    config_.max_seq_len = 256;
    config_.shifted_logits = shifted;
  }
  const dlm::ModelConfig& config() const override { return config_; }
  c10::Device device() const override { return c10::kCPU; }
  std::int64_t logits_width() const override { return kVocab + 6; }  // padded like real heads
  bool supports_cache() const override { return cache_; }
  std::int64_t kv_bytes_per_token() const override { return 8; }

  at::Tensor forward(const at::Tensor& ids, const at::Tensor&, const at::Tensor& positions) override {
    ++calls["forward"];
    lengths.push_back(ids.size(1));
    return logits(positions, ids.size(0));
  }
  dlm::KvOut forward_kv(const at::Tensor& ids, const at::Tensor&, const at::Tensor& positions) override {
    ++calls["forward_kv"];
    lengths.push_back(ids.size(1));
    const auto kv = at::zeros({1, ids.size(0), 1, ids.size(1), 1});
    return {logits(positions, ids.size(0)), kv, kv.clone()};
  }
  dlm::KvOut forward_window(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor&,
                            const at::Tensor&, const at::Tensor&, const at::Tensor&) override {
    ++calls["forward_window"];
    const auto kv = at::ones({1, ids.size(0), 1, ids.size(1), 1});
    return {logits(positions, ids.size(0)), kv, kv.clone()};
  }

  // Canvas index q prefers `id` instead (an eot, say); the checkpoint gets an eot id.
  void prefer(std::int64_t q, std::int64_t id) { favourite_[q] = id; }
  void set_eot(std::int64_t id) { config_.eot_id = id; }
  // Canvas index q prefers ids[c - 1] at the c-th model call (the last one from then on; a
  // negative id: the default favourite), so a committed token can lose the model's favour.
  void prefer_by_call(std::int64_t q, std::vector<std::int64_t> ids) { by_call_[q] = std::move(ids); }

  std::map<std::string, int> calls;
  std::vector<std::int64_t> lengths;  // padded canvas length of each plain or full pass

 private:
  at::Tensor logits(const at::Tensor& positions, std::int64_t batch) const {
    const std::int64_t length = positions.size(1);
    at::Tensor out = at::zeros({batch, length, logits_width()});
    auto* data = out.data_ptr<float>();
    const auto* pos = positions.data_ptr<std::int64_t>();
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t i = 0; i < length; ++i) {
        // With shifted logits, output q predicts canvas index q + 1.
        const std::int64_t q = pos[b * length + i] + (config_.shifted_logits ? 1 : 0);
        const float c = q < static_cast<std::int64_t>(confidence_.size()) ? confidence_[q] : 1.0f;
        const auto it = favourite_.find(q);
        std::int64_t id = it != favourite_.end() ? it->second : kFirstToken + q % 40;
        if (const auto later = by_call_.find(q); later != by_call_.end()) {
          int total = 0;
          for (const auto& [name, n] : calls) total += n;
          const auto& ids = later->second;
          const std::int64_t chosen = ids[std::min(static_cast<std::size_t>(total - 1), ids.size() - 1)];
          if (chosen >= 0) id = chosen;
        }
        data[(b * length + i) * logits_width() + id] = c;
      }
    }
    return out;
  }

  std::vector<float> confidence_;
  std::map<std::int64_t, std::int64_t> favourite_;
  std::map<std::int64_t, std::vector<std::int64_t>> by_call_;
  bool cache_;
  dlm::ModelConfig config_;
};

// Records which generated positions each step committed.
struct CommitLog : dlm::GenerationObserver {
  std::vector<std::vector<std::int64_t>> steps;
  std::vector<std::int64_t> last;
  std::int64_t total_steps = 0;
  std::string text;  // everything streamed
  void on_text(const std::string& t) override { text += t; }
  void on_step(const dlm::StepEvent& e) override {
    std::vector<std::int64_t> fresh;
    for (std::size_t p = 0; p < e.generated.size(); ++p) {
      const bool was_masked = last.empty() || last[p] == kMask;
      if (was_masked && e.generated[p] != kMask) fresh.push_back(static_cast<std::int64_t>(p));
    }
    steps.push_back(fresh);
    last = e.generated;
    total_steps = e.total_steps;
  }
};

const std::vector<std::int64_t> kPrompt{kBos, kFirstToken, kFirstToken};  // canvas 0..2

dlm::GenerateOptions options(std::int64_t n, std::int64_t steps, std::int64_t block) {
  dlm::GenerateOptions o;
  o.max_new_tokens = n;
  o.steps = steps;
  o.block_length = block;
  o.cache = dlm::CacheMode::kNone;
  o.eos = dlm::EosPolicy::kNone;  // every step runs: the tests count the calls
  return o;
}

std::vector<dlm::GenerationResult> run(FakeDenoiser& model, const std::vector<dlm::GenerateOptions>& all,
                                       std::vector<CommitLog>* logs = nullptr) {
  static const FakeTokenizer tokenizer;
  std::vector<dlm::BatchRequest> requests;
  for (std::size_t i = 0; i < all.size(); ++i) {
    requests.push_back({kPrompt, all[i], logs ? &(*logs)[i] : nullptr});
  }
  return dlm::generate_batch(model, tokenizer, requests);
}

}  // namespace

TEST_CASE("Confidence top-k commits the most confident masked position first", "[core]") {
  // Generated position p sits at canvas index 3 + p.
  FakeDenoiser model({0, 0, 0, 1.0f, 4.0f, 2.0f, 3.0f});
  std::vector<CommitLog> logs(1);
  const auto r = run(model, {options(4, 4, 4)}, &logs)[0];
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{1}, {3}, {2}, {0}});
  CHECK(r.token_ids == std::vector<std::int64_t>{kFirstToken + 3, kFirstToken + 4, kFirstToken + 5, kFirstToken + 6});
  CHECK(r.nfe == 4);
  CHECK(model.calls["forward"] == 4);
  CHECK(r.text == "def" "g");
}

TEST_CASE("Two tokens a step when steps are half the length; blocks run in order", "[core]") {
  FakeDenoiser model({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<CommitLog> logs(1);
  run(model, {options(8, 4, 4)}, &logs);
  // Block [0, 4) first although block [4, 8) is more confident.
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{2, 3}, {0, 1}, {6, 7}, {4, 5}});
}

TEST_CASE("Threshold commits the best and every position above it; steps shown as at most -n", "[core]") {
  // Probabilities: logit 9 over 69 zero logits ~ 0.99; logit 0 ~ 1/70.
  FakeDenoiser model({0, 0, 0, 9.0f, 0.0f, 9.0f, 0.5f});
  auto o = options(4, 4, 4);
  o.threshold = 0.9;
  std::vector<CommitLog> logs(1);
  const auto r = run(model, {o}, &logs)[0];
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{0, 2}, {3}, {1}});
  CHECK(r.nfe == 3);
  CHECK(logs[0].total_steps == 4);  // the upper bound -n, not --steps
}

TEST_CASE("EB-sampler commits best first while the entropies' sum minus their max <= gamma", "[core]") {
  // The rule on plain arrays: order 0, 2, 1 by score; sum - max after each: 0, 0.2, 0.5.
  const std::vector<double> scores{0.9, 0.5, 0.8}, entropies{0.2, 3.0, 0.3};
  CHECK(dlm::select_entropy_bounded(scores, entropies, 0.25) == std::vector<std::int64_t>{0, 2});
  CHECK(dlm::select_entropy_bounded(scores, entropies, 0.5) == std::vector<std::int64_t>{0, 1, 2});
  CHECK(dlm::select_entropy_bounded(scores, entropies, 0.0) == std::vector<std::int64_t>{0});
  CHECK(dlm::select_entropy_bounded({0.5, 0.5}, {1.0, 1.0}, 0.0) == std::vector<std::int64_t>{0});
  CHECK(dlm::select_entropy_bounded({}, {}, 1.0).empty());

  // Through the sampler: logit 9 over 62 zero logits (the mask id is banned) has entropy
  // ~0.076 nats (logit 8.5: ~0.118), a flat row ~4.14. Confidence order: 0, 2, 3, 1.
  const std::vector<float> confidence{0, 0, 0, 9.0f, 0.0f, 8.5f, 0.5f};
  const auto steps_with = [&](double gamma) {
    FakeDenoiser model(confidence);
    auto o = options(4, 4, 4);
    o.eb_gamma = gamma;
    std::vector<CommitLog> logs(1);
    const auto r = run(model, {o}, &logs)[0];
    CHECK(r.nfe == static_cast<std::int64_t>(logs[0].steps.size()));
    CHECK(r.token_ids.size() == 4);
    return logs[0].steps;
  };
  using Steps = std::vector<std::vector<std::int64_t>>;
  CHECK(steps_with(0.0) == Steps{{0}, {2}, {3}, {1}});       // one at a time: top-1 confidence
  CHECK(steps_with(0.1) == Steps{{0, 2}, {3}, {1}});         // the two sure ones together
  CHECK(steps_with(0.5) == Steps{{0, 2, 3}, {1}});           // the max term lets one unsure in
  CHECK(steps_with(100.0) == Steps{{0, 1, 2, 3}});           // everything in one call

  using dlm::sampling::SelectorKind;
  auto o = options(4, 4, 4);
  o.eb_gamma = 0.3;
  const auto selector = dlm::sampling::make_selector(o);
  CHECK(selector->kind() == SelectorKind::kEntropyBounded);
  CHECK(selector->needs_entropy());
  CHECK_FALSE(selector->counted());
}

TEST_CASE("Token editing replaces committed tokens the model now prefers, within a budget", "[core]") {
  // The rule on plain arrays: a different candidate strictly above the threshold edits.
  using dlm::sampling::select_edits;
  CHECK(select_edits({7, 8, 9, 5}, {7, 3, 4, 6}, {0.99, 0.95, 0.5, 0.9}, 0.9) ==
        std::vector<std::int64_t>{1});  // 0 is unchanged, 2 is unsure, 3 is not above 0.9
  CHECK(select_edits({7, 8}, {-1, 3}, {1.0, 0.0}, 0.0).empty());  // no candidate; p = 0 is not > 0
  CHECK(select_edits({}, {}, {}, 0.5).empty());

  // Through the sampler. Order by confidence: positions 1, 3, 2, 0 (canvas 4, 6, 5, 3), one a
  // step. From the 2nd call on, canvas 4 prefers token 50 at logit 9: p = e^9 / (e^9 + 62)
  // ~ 0.992 (the mask id is banned), so the 2nd step edits position 1 from 'e' to 'o'.
  const std::vector<float> confidence{0, 0, 0, 1.0f, 9.0f, 2.0f, 3.0f};
  const auto run_edit = [&](std::optional<double> threshold, std::int64_t budget,
                            std::vector<std::int64_t> ids, dlm::CacheMode cache) {
    FakeDenoiser model(confidence);
    model.prefer_by_call(4, std::move(ids));
    auto o = options(4, 4, 4);
    o.edit_threshold = threshold;
    o.max_post_steps = budget;
    o.cache = cache;
    std::vector<CommitLog> logs(1);
    auto r = run(model, {o}, &logs)[0];
    CHECK(logs[0].text == r.text);  // the stream never showed a token that was edited later
    return std::make_pair(r, model.calls);
  };
  using dlm::CacheMode;
  const std::vector<std::int64_t> later_o{-1, 50};
  {
    const auto [r, calls] = run_edit(std::nullopt, 16, later_o, CacheMode::kNone);
    CHECK(r.text == "defg");  // off: committed tokens stay
    CHECK(r.nfe == 4);
  }
  {
    const auto [r, calls] = run_edit(0.9, 16, later_o, CacheMode::kNone);
    CHECK(r.text == "dofg");
    CHECK(r.nfe == 5);  // 4 unmasking steps and one post step that found nothing to edit
  }
  {
    const auto [r, calls] = run_edit(0.9, 0, later_o, CacheMode::kNone);
    CHECK(r.text == "dofg");  // the edit rode on an unmasking step
    CHECK(r.nfe == 4);
  }
  {
    const auto [r, calls] = run_edit(0.995, 16, later_o, CacheMode::kNone);
    CHECK(r.text == "defg");  // 0.992 is not above 0.995
    CHECK(r.nfe == 5);
  }
  {
    // A model that changes its mind at every call: the budget ends the block.
    std::vector<std::int64_t> flip{-1};
    for (int i = 0; i < 20; ++i) flip.push_back(i % 2 ? 50 : 51);
    const auto [r, calls] = run_edit(0.9, 3, flip, CacheMode::kDual);
    CHECK(r.nfe == 4 + 3);
    CHECK(calls.at("forward_kv") == 1);  // the post steps are window passes of the block
    CHECK(calls.at("forward_window") == 6);
    CHECK(r.text == "dofg");  // call 7 preferred token 50 ('o')
  }
  auto o = options(4, 4, 4);
  o.edit_threshold = 0.5;
  o.max_post_steps = 2;
  const auto editor = dlm::sampling::make_token_editor(o);
  REQUIRE(editor);
  CHECK(editor->wants_post_step(0, true));
  CHECK(editor->wants_post_step(1, true));
  CHECK_FALSE(editor->wants_post_step(2, true));
  CHECK_FALSE(editor->wants_post_step(0, false));
  CHECK_FALSE(dlm::sampling::make_token_editor(options(4, 4, 4)));
}

TEST_CASE("Token editing with the threshold rule: blocks in order, each closed by a post step", "[core]") {
  FakeDenoiser model({0, 0, 0, 9.0f, 9.0f, 9.0f, 9.0f, 9.0f, 9.0f, 9.0f, 9.0f});
  model.prefer_by_call(3, {-1, -1, 40});  // position 0 changes its mind at the 3rd call
  auto o = options(8, 8, 4);
  o.threshold = 0.9;
  o.edit_threshold = 0.5;
  std::vector<CommitLog> logs(1);
  const auto r = run(model, {o}, &logs)[0];
  // Block 0: one call fills it, the post step (call 2) edits nothing. Block 1: one call,
  // in which canvas 3 (position 0, no longer in the open block) is not read; one post step.
  CHECK(r.nfe == 4);
  CHECK(logs[0].steps.size() == 4);
  CHECK(r.text == "defghijk");
  CHECK(logs[0].text == r.text);
}

TEST_CASE("Bounded suffix: forward calls see W positions past the block, same commits", "[core]") {
  const std::vector<float> confidence{0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7};
  auto o = options(16, 16, 4);
  o.pad_multiple = 1;
  FakeDenoiser full(confidence);
  std::vector<CommitLog> full_logs(1);
  run(full, {o}, &full_logs);
  CHECK(full.lengths == std::vector<std::int64_t>(16, 19));  // prompt 3 + 16, every call

  o.suffix_window = 2;
  FakeDenoiser bounded(confidence);
  std::vector<CommitLog> logs(1);
  run(bounded, {o}, &logs);
  // Block b (4 tokens) sees the prompt, blocks 0..b and 2 more masks: 9, 13, 17, then 19.
  std::vector<std::int64_t> expected;
  for (const std::int64_t len : {9, 13, 17, 19}) expected.insert(expected.end(), 4, len);
  CHECK(bounded.lengths == expected);
  CHECK(logs[0].steps == full_logs[0].steps);  // these logits ignore the suffix

  o.cache = dlm::CacheMode::kDual;  // the full pass at each block start is bounded too
  FakeDenoiser cached(confidence);
  std::vector<CommitLog> cached_logs(1);
  run(cached, {o}, &cached_logs);
  CHECK(cached.lengths == std::vector<std::int64_t>{9, 13, 17, 19});
  CHECK(cached.calls["forward_window"] == 12);
  CHECK(cached_logs[0].steps == full_logs[0].steps);
}

TEST_CASE("Dual cache: a full pass at each block start, window passes inside", "[core]") {
  FakeDenoiser model({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  auto o = options(8, 8, 4);
  o.cache = dlm::CacheMode::kDual;
  std::vector<CommitLog> logs(1);
  const auto r = run(model, {o}, &logs)[0];
  CHECK(model.calls["forward"] == 0);
  CHECK(model.calls["forward_kv"] == 2);
  CHECK(model.calls["forward_window"] == 6);
  CHECK(r.cache == "dual");
  CHECK(r.cache_bytes == 16 * 8);  // one canvas of 11 tokens padded to 16, 8 bytes each
  // The logits do not depend on the cache: the same commits as uncached.
  FakeDenoiser plain({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<CommitLog> plain_logs(1);
  run(plain, {options(8, 8, 4)}, &plain_logs);
  CHECK(logs[0].steps == plain_logs[0].steps);

  o.cache_refresh = 2;  // also a full pass every second call in a block
  FakeDenoiser refreshed({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  run(refreshed, {o});
  CHECK(refreshed.calls["forward_kv"] == 4);
  CHECK(refreshed.calls["forward_window"] == 4);
}

TEST_CASE("Elastic cache: a full pass after a window pass whose keys drifted", "[core]") {
  // The fake's full pass caches zero keys, its window passes return ones: every window pass
  // with a stable position (a mask still masked) reads similarity 0 against the cache.
  auto o = options(8, 8, 4);
  o.cache = dlm::CacheMode::kElastic;
  FakeDenoiser drifting({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<CommitLog> logs(1);
  const auto r = run(drifting, {o}, &logs)[0];
  CHECK(r.cache == "elastic");
  CHECK(drifting.calls["forward_kv"] == 4);  // per block: full, window, full, window
  CHECK(drifting.calls["forward_window"] == 4);
  FakeDenoiser plain({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<CommitLog> plain_logs(1);
  run(plain, {options(8, 8, 4)}, &plain_logs);
  CHECK(logs[0].steps == plain_logs[0].steps);

  o.elastic_gamma = -1;  // nothing is below -1: plain dual
  FakeDenoiser never({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  run(never, {o});
  CHECK(never.calls["forward_kv"] == 2);
  CHECK(never.calls["forward_window"] == 6);
}

TEST_CASE("Batched rows share forward calls and give what each gives alone", "[core]") {
  auto a = options(4, 4, 4);
  auto b = options(8, 4, 4);
  b.temperature = 0.9;
  b.seed = 7;
  FakeDenoiser alone({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  const auto ra = run(alone, {a})[0];
  const auto rb = run(alone, {b})[0];
  FakeDenoiser together({0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  const auto both = run(together, {a, b});
  CHECK(both[0].token_ids == ra.token_ids);
  CHECK(both[1].token_ids == rb.token_ids);
  CHECK(together.calls["forward"] == 4);  // not 8: one call per step for both rows
}

TEST_CASE("Shifted logits: position p is read from the output one to its left", "[core]") {
  FakeDenoiser model({0, 0, 0, 1.0f, 4.0f, 2.0f, 3.0f}, false, true);
  std::vector<CommitLog> logs(1);
  const auto r = run(model, {options(4, 4, 4)}, &logs)[0];
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{1}, {3}, {2}, {0}});
  CHECK(r.token_ids.front() == kFirstToken + 3);
}

TEST_CASE("MDLM's ancestral sampler reuses the output while nothing changes", "[core]") {
  auto o = options(4, 64, 4);
  o.schedule = dlm::Schedule::kTimestep;
  o.algorithm = dlm::Algorithm::kAncestral;
  FakeDenoiser model({0, 0, 0, 1, 2, 3, 4});
  const auto r = run(model, {o})[0];
  CHECK(r.token_ids.size() == 4);
  CHECK(r.nfe == model.calls["forward"]);
  CHECK(r.nfe <= 4);  // at most one call per revealing step, 64 steps planned
  o.algorithm = dlm::Algorithm::kOrigin;  // Dream's origin runs the model every step
  FakeDenoiser every({0, 0, 0, 1, 2, 3, 4});
  CHECK(run(every, {o})[0].nfe == 64);
}

TEST_CASE("End of turn ends the text exactly as end of sequence does", "[core][eot]") {
  // Left to right (confidence falls with the index); generated position 2 (canvas 5) is
  // the favourite place of the end id.
  const std::vector<float> confidence{9, 9, 9, 8, 7, 6, 5, 4, 3, 2};
  for (const std::int64_t end : {kEos, kEot}) {
    FakeDenoiser model(confidence, false);
    model.set_eot(kEot);
    model.prefer(5, end);
    INFO("end id " << end);
    SECTION("the text and token ids stop before it; finish_reason stop") {
      const auto r = run(model, {options(6, 6, 6)}).at(0);
      CHECK(r.text == "de");
      CHECK(r.token_ids == std::vector<std::int64_t>{kFirstToken + 3, kFirstToken + 4});
      CHECK(r.finish_reason == "stop");
      CHECK(r.nfe == 6);
    }
    SECTION("--eos stop ends the generation once it is final") {
      auto o = options(6, 6, 6);
      o.eos = dlm::EosPolicy::kStop;
      const auto r = run(model, {o}).at(0);
      CHECK(r.text == "de");
      CHECK(r.finish_reason == "stop");
      CHECK(r.nfe == 3);
    }
    SECTION("--eos suppress never proposes it: the text runs to the end") {
      auto o = options(6, 6, 6);
      o.eos = dlm::EosPolicy::kSuppress;
      const auto r = run(model, {o}).at(0);
      CHECK(r.finish_reason == "length");
      CHECK(r.token_ids.size() == 6);
      CHECK(r.text == "deghi");  // position 2 falls back to id 0, which has no bytes
    }
  }
}

TEST_CASE("Strategy factories follow the options", "[core]") {
  using dlm::sampling::SelectorKind;
  auto o = options(8, 8, 4);
  CHECK(dlm::sampling::make_selector(o)->kind() == SelectorKind::kTopK);
  o.alg_temp = 0.5;
  CHECK(dlm::sampling::make_selector(o)->kind() == SelectorKind::kSampled);
  o.alg_temp = 0;
  o.factor = 1.0;
  CHECK(dlm::sampling::make_selector(o)->kind() == SelectorKind::kFactor);
  CHECK(dlm::sampling::make_selector(o)->value() == 1.0);
  o.factor.reset();
  o.algorithm = dlm::Algorithm::kAncestral;
  CHECK(dlm::sampling::make_selector(o)->reuses_output());

  auto c = options(8, 8, 4);
  c.cache = dlm::CacheMode::kAuto;
  CHECK(dlm::sampling::make_cache_policy(c, false)->mode() == dlm::CacheMode::kNone);
  const auto dual = dlm::sampling::make_cache_policy(c, true);
  CHECK(dual->mode() == dlm::CacheMode::kDual);
  CHECK(dual->pass(0) == dlm::sampling::Pass::kFull);
  CHECK(dual->pass(1) == dlm::sampling::Pass::kWindow);
  CHECK(dual->window_end(20, 40) == 20);
  c.cache = dlm::CacheMode::kPrefix;
  CHECK(dlm::sampling::make_cache_policy(c, true)->window_end(20, 40) == 40);

  // The block schedule skips a ragged block's spare step without a model call.
  auto ragged = options(6, 4, 4);  // blocks of 4 and 2 tokens, 2 steps each
  auto schedule = dlm::sampling::make_schedule(ragged, true);
  std::vector<std::int64_t> ids(6, kMask);
  const dlm::sampling::Span span{ids, kMask};
  std::int64_t skipped = 0;
  std::vector<std::int64_t> ks;
  while (auto step = schedule->next(span, skipped)) ks.push_back(step->k);
  CHECK(ks == std::vector<std::int64_t>{2, 2, 1, 1});
  CHECK(skipped == 0);
  CHECK(schedule->planned_steps() == 4);
}

TEST_CASE("The binary records the commit it was built from", "[core]") {
  const std::string commit = dlm::build_commit();
  INFO(commit);
  const std::string hash = commit.substr(0, commit.find('-'));
  const bool is_hash = hash.size() == 40 && hash.find_first_not_of("0123456789abcdef") == std::string::npos;
  CHECK((commit == "unknown" || (is_hash && (commit.size() == 40 || commit.substr(40) == "-dirty"))));
}

TEST_CASE("--min-new-tokens keeps eos and eot out of the first N positions", "[core][eot]") {
  // Generated position 2 (canvas 5) prefers the end id: the text is "de" unless N > 2.
  const std::vector<float> confidence{9, 9, 9, 8, 7, 6, 5, 4, 3, 2};
  for (const std::int64_t end : {kEos, kEot}) {
    FakeDenoiser model(confidence, false);
    model.set_eot(kEot);
    model.prefer(5, end);
    INFO("end id " << end);
    auto o = options(6, 6, 6);
    o.min_new_tokens = 2;
    CHECK(run(model, {o}).at(0).text == "de");
    o.min_new_tokens = 3;
    const auto r = run(model, {o}).at(0);
    CHECK(r.finish_reason == "length");
    CHECK(r.token_ids.size() == 6);
    CHECK(r.text == "deghi");  // position 2 falls back to id 0, which has no bytes
    o.schedule = dlm::Schedule::kTimestep;  // MDLM's kept output too
    o.algorithm = dlm::Algorithm::kAncestral;
    o.steps = 64;
    CHECK(run(model, {o}).at(0).token_ids.size() == 6);
  }
}

TEST_CASE("--repeat-penalty lowers the logits of committed tokens", "[core]") {
  // Position 0 (canvas 3) prefers the prompt's token with logit 2, position 1 a new token
  // with 1.5: position 0 commits first, unless the penalty 2 halves its logit to 1.
  FakeDenoiser model({0, 0, 0, 2.0f, 1.5f});
  model.prefer(3, kFirstToken);
  std::vector<CommitLog> logs(1);
  auto o = options(2, 2, 2);
  run(model, {o}, &logs);
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{0}, {1}});
  o.repeat_penalty = 2.0;
  logs.assign(1, {});
  run(model, {o}, &logs);
  CHECK(logs[0].steps == std::vector<std::vector<std::int64_t>>{{1}, {0}});
}

TEST_CASE("Logits processors on hand-made rows", "[core]") {
  CHECK(dlm::committed_ids({5, 3, kMask, 5, 7}, kMask) == std::vector<std::int64_t>{3, 5, 7});
  // Hugging Face's rule: l < 0 ? l * R : l / R, at present ids only; ids past V ignored.
  at::Tensor rows = at::tensor({2.0f, -2.0f, 1.0f, 0.5f, 0.0f, 3.0f, -1.0f, 4.0f}).view({2, 4});
  dlm::apply_repetition_penalty(rows, {0, 1, 3, 99}, 2.0);
  CHECK(at::equal(rows, at::tensor({1.0f, -4.0f, 1.0f, 0.25f, 0.0f, 1.5f, -1.0f, 2.0f}).view({2, 4})));
  dlm::apply_repetition_penalty(rows, {0, 1}, 1.0);  // 1: off
  CHECK(rows[0][0].item<float>() == 1.0f);
  // Positions 3 and 10 with N = 5: the first row loses its end ids, the second keeps them.
  at::Tensor ends = at::zeros({2, 4});
  dlm::suppress_early_ends(ends, {3, 10}, 5, {1, 2});
  CHECK(std::isinf(ends[0][1].item<float>()));
  CHECK(std::isinf(ends[0][2].item<float>()));
  CHECK(ends[0][0].item<float>() == 0.0f);
  CHECK(at::equal(ends[1], at::zeros({4})));
}
