// End to end on the shipped model through the library API (dlm/sampling/sampler.h): seeds,
// finish reasons, forward-call counts, streamed text, and LLaDA's semi-autoregressive
// commit order, watched step by step through a recording observer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"
#include "dlm/sampling/block_plan.h"
#include "dlm/text/utf8_stream.h"
#include "test_support.h"

using dlm::GenerateOptions;
using dlm::GenerationResult;
using Ids = std::vector<std::int64_t>;

namespace {

const char* const kPrompt = "And God said";

// The shipped model, loaded once per process, on one thread (ctest runs two at once).
dlm::Checkpoint& model() {
  static const std::unique_ptr<dlm::Checkpoint> checkpoint = [] {
    dlm::configure_runtime({"cpu", 1});
    return dlm::Checkpoint::load(dlm_test::shipped_model_path(), "cpu");
  }();
  return *checkpoint;
}

std::int64_t mask_id() { return model().config().mask_id; }
std::int64_t eos_id() { return model().config().eos_id; }

GenerateOptions make_options(std::int64_t max_new_tokens, std::int64_t steps,
                             std::int64_t block_length, double temperature = 0.0,
                             std::uint64_t seed = 0) {
  GenerateOptions o;
  o.max_new_tokens = max_new_tokens;
  o.steps = steps;
  o.block_length = block_length;
  o.temperature = temperature;
  o.seed = seed;
  o.eos = dlm::EosPolicy::kNone;  // every step runs: these tests follow the whole schedule
  return o;
}

// Keeps every streamed text piece and a copy of the canvas after every step.
class Recorder : public dlm::GenerationObserver {
 public:
  void on_text(const std::string& text) override { streamed += text; }
  void on_step(const dlm::StepEvent& event) override {
    steps.push_back(event.step);
    total_steps = event.total_steps;
    canvases.push_back(event.generated);
  }

  std::string streamed;
  Ids steps;
  std::int64_t total_steps = 0;
  std::vector<Ids> canvases;
};

struct Run {
  GenerationResult result;
  Recorder recorder;
};

Run run(const GenerateOptions& options, const std::string& prompt = kPrompt) {
  Run r;
  r.result = dlm::generate(model(), dlm::encode_prompt(model(), prompt), options, &r.recorder);
  return r;
}

Ids run_tokens(const GenerateOptions& options) {
  return dlm::generate(model(), dlm::encode_prompt(model(), kPrompt), options).token_ids;
}

bool contains(const Ids& ids, std::int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// For each global step of a plan: its block and the tokens it commits.
struct PlannedStep {
  dlm::BlockPlan block;
  std::int64_t commits = 0;
};

std::vector<PlannedStep> planned_steps(const GenerateOptions& o) {
  std::vector<PlannedStep> out;
  for (const auto& block : dlm::plan_blocks(o.max_new_tokens, o.block_length, o.steps)) {
    for (const auto k : dlm::transfer_counts(block.length, block.steps)) out.push_back({block, k});
  }
  return out;
}

std::int64_t forward_needing_steps(const GenerateOptions& o) {
  const auto steps = planned_steps(o);
  return std::count_if(steps.begin(), steps.end(), [](const PlannedStep& s) { return s.commits > 0; });
}

// Settings that cover greedy and sampled runs, "length" and "stop" endings.
std::vector<std::pair<GenerateOptions, std::string>> varied_runs() {
  return {{make_options(24, 24, 8, 0.0, 0), kPrompt},
          {make_options(24, 24, 8, 1.0, 1), kPrompt},
          {make_options(24, 24, 8, 1.0, 2), kPrompt},
          {make_options(16, 8, 16, 1.0, 7), kPrompt},
          {make_options(16, 16, 8, 0.0, 0), "In the beginning God created the heaven and the earth."},
          // The Bible's last verse: the passage-trained model ends the text at once ("stop").
          {make_options(16, 16, 8, 0.0, 0), "The grace of our Lord Jesus Christ be with you all. Amen."}};
}

}  // namespace

TEST_CASE("generate gives identical tokens for the same seed", "[generate]") {
  for (const double temperature : {0.0, 1.0}) {
    INFO("temperature " << temperature);
    const auto options = make_options(16, 16, 8, temperature, 5);
    const Run first = run(options);
    const Run second = run(options);
    CHECK(first.result.token_ids == second.result.token_ids);
    CHECK(first.result.text == second.result.text);
    CHECK(first.recorder.canvases == second.recorder.canvases);
    CHECK(run_tokens(options) == first.result.token_ids);  // an observer changes nothing
  }
}

TEST_CASE("generate at T=1 depends on the seed, at T=0 it does not", "[generate]") {
  const Ids sampled = run_tokens(make_options(16, 16, 8, 1.0, 0));
  bool any_difference = false;
  for (std::uint64_t seed = 1; seed <= 4 && !any_difference; ++seed) {
    any_difference = run_tokens(make_options(16, 16, 8, 1.0, seed)) != sampled;
  }
  CHECK(any_difference);
  CHECK(run_tokens(make_options(16, 16, 8, 0.0, 0)) == run_tokens(make_options(16, 16, 8, 0.0, 3)));
}

TEST_CASE("token_ids hold neither mask nor eos ids", "[generate]") {
  for (const auto& [options, prompt] : varied_runs()) {
    INFO("seed " << options.seed << " T " << options.temperature << " prompt " << prompt);
    const Run r = run(options, prompt);
    CHECK_FALSE(contains(r.result.token_ids, mask_id()));
    CHECK_FALSE(contains(r.result.token_ids, eos_id()));
    CHECK(static_cast<std::int64_t>(r.result.token_ids.size()) <= options.max_new_tokens);
    CHECK(r.result.seed == options.seed);
  }
}

TEST_CASE("finish_reason is stop exactly when an eos was generated", "[generate]") {
  bool saw_stop = false, saw_length = false;
  for (const auto& [options, prompt] : varied_runs()) {
    INFO("seed " << options.seed << " T " << options.temperature << " prompt " << prompt);
    const Run r = run(options, prompt);
    const Ids& canvas = r.recorder.canvases.back();  // the final generated span
    REQUIRE_FALSE(contains(canvas, mask_id()));
    const auto first_eos = std::find(canvas.begin(), canvas.end(), eos_id());
    CHECK(r.result.token_ids == Ids(canvas.begin(), first_eos));
    const bool eos_generated = first_eos != canvas.end();
    CHECK(r.result.finish_reason == (eos_generated ? "stop" : "length"));
    saw_stop = saw_stop || eos_generated;
    saw_length = saw_length || !eos_generated;
  }
  CHECK(saw_stop);    // the cases above cover both endings
  CHECK(saw_length);
}

TEST_CASE("nfe counts the forward calls of the schedule", "[generate]") {
  SECTION("divisible: one forward per step") {
    for (const auto& options : {make_options(16, 16, 8), make_options(16, 8, 8),
                                make_options(24, 6, 8)}) {
      INFO(options.max_new_tokens << " tokens, " << options.steps << " steps");
      const Run r = run(options);
      CHECK(r.result.nfe == options.steps);
      CHECK(static_cast<std::int64_t>(r.recorder.steps.size()) == r.result.nfe);
    }
  }
  SECTION("ragged: steps that commit nothing need no forward") {
    // Blocks of 8, 8, 4 tokens with 7, 7, 6 steps: the last block's 2 spare steps
    // commit nothing.
    const auto options = make_options(20, 20, 8);
    REQUIRE(forward_needing_steps(options) == 18);
    const Run r = run(options);
    CHECK(r.result.nfe == 18);
    CHECK(static_cast<std::int64_t>(r.recorder.steps.size()) == 18);
  }
}

TEST_CASE("prompt_token_ids are bos followed by the encoded prompt", "[generate]") {
  const Run r = run(make_options(8, 8, 8));
  const Ids& ids = r.result.prompt_token_ids;
  REQUIRE(ids.size() >= 2);
  CHECK(ids.front() == 2);
  CHECK(ids == dlm::encode_prompt(model(), kPrompt));
  CHECK(Ids(ids.begin() + 1, ids.end()) == model().tokenizer().encode(kPrompt));
  CHECK(dlm::encode_prompt(model(), "") == Ids{2});
}

TEST_CASE("a ragged schedule (20 tokens, blocks of 8, 10 steps) generates", "[generate]") {
  const auto options = make_options(20, 10, 8, 1.0, 4);
  const Run r = run(options);
  CHECK(r.result.nfe == 10);
  CHECK(r.recorder.total_steps == 10);
  CHECK(r.recorder.steps == Ids{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  REQUIRE(r.recorder.canvases.back().size() == 20);
  CHECK_FALSE(contains(r.recorder.canvases.back(), mask_id()));
  CHECK(r.result.token_ids.size() <= 20);
  CHECK(r.result.total_ms >= r.result.forward_ms);
}

TEST_CASE("streamed text equals result.text, the decoded token_ids", "[generate]") {
  for (const auto& [options, prompt] : varied_runs()) {
    INFO("seed " << options.seed << " T " << options.temperature << " prompt " << prompt);
    const Run r = run(options, prompt);
    CHECK(r.recorder.streamed == r.result.text);
    CHECK(r.result.text ==
          dlm::utf8_sanitize(model().tokenizer().decode_bytes(r.result.token_ids)));
  }
}

TEST_CASE("blocks are committed in order and committed tokens stay", "[generate]") {
  const auto options = make_options(24, 12, 8, 1.0, 3);
  const auto plan = dlm::plan_blocks(options.max_new_tokens, options.block_length, options.steps);
  const Run r = run(options);
  const auto committed = [](const Ids& canvas, const dlm::BlockPlan& b) {
    return std::count_if(canvas.begin() + b.start, canvas.begin() + b.start + b.length,
                         [](std::int64_t id) { return id != mask_id(); });
  };
  const Ids* previous = nullptr;
  for (const Ids& canvas : r.recorder.canvases) {
    for (std::size_t b = 0; b + 1 < plan.size(); ++b) {
      if (committed(canvas, plan[b + 1]) > 0) REQUIRE(committed(canvas, plan[b]) == plan[b].length);
    }
    if (previous) {
      for (std::size_t i = 0; i < canvas.size(); ++i) {
        if ((*previous)[i] != mask_id()) REQUIRE(canvas[i] == (*previous)[i]);
      }
    }
    previous = &canvas;
  }
}

TEST_CASE("each step commits transfer_counts tokens inside its block", "[generate]") {
  for (const auto& options : {make_options(24, 12, 8, 1.0, 3), make_options(20, 20, 8, 0.0, 0),
                              make_options(16, 5, 16, 1.0, 9)}) {
    INFO(options.max_new_tokens << " tokens, blocks of " << options.block_length << ", "
                                << options.steps << " steps");
    const auto planned = planned_steps(options);
    const Run r = run(options);
    Ids previous(static_cast<std::size_t>(options.max_new_tokens), mask_id());
    for (std::size_t e = 0; e < r.recorder.canvases.size(); ++e) {
      const Ids& canvas = r.recorder.canvases[e];
      const PlannedStep& step = planned.at(static_cast<std::size_t>(r.recorder.steps[e]));
      INFO("step " << r.recorder.steps[e]);
      std::int64_t fresh = 0;
      for (std::int64_t i = 0; i < options.max_new_tokens; ++i) {
        const auto u = static_cast<std::size_t>(i);
        if (previous[u] != mask_id() || canvas[u] == mask_id()) continue;
        ++fresh;
        CHECK(i >= step.block.start);
        CHECK(i < step.block.start + step.block.length);
      }
      CHECK(fresh == step.commits);
      previous = canvas;
    }
  }
}

TEST_CASE("validate rejects runs the model cannot take", "[generate]") {
  const auto prompt_tokens = static_cast<std::int64_t>(dlm::encode_prompt(model(), kPrompt).size());
  const std::int64_t room = model().config().max_seq_len - prompt_tokens;
  CHECK_NOTHROW(dlm::validate(make_options(room, 16, 32), model(), prompt_tokens));
  dlm_test::require_usage_error(
      [&] { dlm::validate(make_options(room + 1, 17, 32), model(), prompt_tokens); },
      {"maximum sequence length 512"});
  for (const double bad : {-1.0, -0.01, std::nan(""), std::numeric_limits<double>::infinity()}) {
    INFO("temperature " << bad);
    const auto options = make_options(16, 16, 8, bad);
    dlm_test::require_usage_error([&] { dlm::validate(options, model(), prompt_tokens); },
                                  {"--temperature"});
    dlm_test::require_usage_error(
        [&] { dlm::generate(model(), dlm::encode_prompt(model(), kPrompt), options); },
        {"--temperature"});
  }
  dlm_test::require_usage_error(
      [&] { dlm::validate(make_options(16, 32, 8), model(), prompt_tokens); }, {"--steps 32"});
}
