// dlm sweep: grid parsing and expansion, skipped cells, the text metrics, the judge
// (perplexity, windows, a judge that cannot read the text), the prompt file, and the
// command end to end: outputs, resume, and one-line errors with exit code 2.
// torch first: its glog defines a one-argument CHECK that Catch's must replace.
#include <torch/script.h>
#undef CHECK
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dlm/model/checkpoint.h"
#include "dlm/eval/judge.h"
#include "dlm/eval/sha256.h"
#include "dlm/eval/sweep.h"
#include "dlm/eval/sweep_cell.h"
#include "dlm/eval/sweep_prompts.h"
#include "dlm/eval/text_metrics.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using dlm_test::TempDir;
using nlohmann::json;
using Ids = std::vector<std::int64_t>;

namespace {

using dlm_test::load_once;

std::string judge_path() { return std::string(DLM_SOURCE_DIR) + "/models/kjv-judge.pt"; }

dlm::Checkpoint& model() { return load_once(dlm_test::shipped_model_path()); }
dlm::Checkpoint& judge_checkpoint() { return load_once(judge_path()); }

// A sentencepiece model that knows only 'a', 'b' and spaces (no byte fallback), made by
//   spm.SentencePieceTrainer.train(input=<"aaa bbb ab ba aab bba abab" x 50>, vocab_size=8,
//     model_type="unigram", byte_fallback=False, normalization_rule_name="identity",
//     pad_id=0, unk_id=1, bos_id=2, eos_id=3, hard_vocab_limit=False)
const char kAbTokenizer[] =
    "\x0a\x0e\x0a\x05\x3c\x70\x61\x64\x3e\x15\x00\x00\x00\x00\x18\x03\x0a\x0e\x0a\x05\x3c\x75\x6e\x6b"
    "\x3e\x15\x00\x00\x00\x00\x18\x02\x0a\x0c\x0a\x03\x3c\x73\x3e\x15\x00\x00\x00\x00\x18\x03\x0a\x0d"
    "\x0a\x04\x3c\x2f\x73\x3e\x15\x00\x00\x00\x00\x18\x03\x0a\x08\x0a\x01\x61\x15\xc2\xfb\xb0\xbf\x0a"
    "\x08\x0a\x01\x62\x15\x0f\xfe\xd0\xbf\x0a\x0c\x0a\x05\xe2\x96\x81\x61\x61\x15\x16\xad\xf6\xbf\x0a"
    "\x0a\x0a\x03\xe2\x96\x81\x15\x72\xa7\x4d\xc0\x12\x31\x0a\x0b\x2f\x74\x6d\x70\x2f\x61\x62\x2e\x74"
    "\x78\x74\x12\x07\x2f\x74\x6d\x70\x2f\x61\x62\x18\x01\x20\x08\x55\x00\x00\x80\x3f\x88\x02\x00\x98"
    "\x02\x00\xc0\x02\x01\xc8\x02\x02\xd0\x02\x03\xd8\x02\x00\x1a\x0c\x0a\x08\x69\x64\x65\x6e\x74\x69"
    "\x74\x79\x12\x00";

// A causal judge whose tokenizer knows only 'a' and 'b': English text is mostly <unk>.
std::string write_ab_judge(const TempDir& dir) {
  torch::jit::Module m("AbJudge");
  m.define(R"(
def forward(self, input_ids):
    return torch.zeros([input_ids.size(0), input_ids.size(1), 8])
)");
  const std::string config =
      R"({"format_version": 1, "family": "judge", "name": "ab-judge", "vocab_size": 8,
          "mask_token_id": null, "eos_token_id": 3, "pad_token_id": 0, "bos_token_id": 2,
          "add_bos": true, "max_seq_len": 64, "causal": true, "tokenizer": "sentencepiece"})";
  const std::string path = dir.file("ab-judge.pt");
  m.save(path, {{"config.json", config},
                {"tokenizer.model", std::string(kAbTokenizer, sizeof kAbTokenizer - 1)}});
  return path;
}

// ---- the command line ----

using dlm_test::CliResult;
using dlm_test::shell_quote;

CliResult run_dlm(const std::string& args) {
  return dlm_test::run_shell(shell_quote(DLM_EXECUTABLE) + " " + args + " </dev/null");
}

// Two held-out prompts with references, and one without.
std::string write_prompts(const TempDir& dir) {
  const std::string path = dir.file("prompts.jsonl");
  dlm_test::write_file(path,
                       "{\"id\": \"Job 26:8\", \"prompt\": \"He bindeth up the waters in his\", "
                       "\"reference\": \"thick clouds; and the cloud is not rent under them.\"}\n"
                       "\n"
                       "{\"prompt\": \"And Jotham ran away, and fled, and went\", "
                       "\"reference\": \"to Beer, and dwelt there, for fear of Abimelech his "
                       "brother.\"}\n"
                       "{\"prompt\": \"And God said\"}\n");
  return path;
}

// The tiny grid of the end-to-end tests: 3 prompts, -n 8, steps 4 and 8, one thread.
std::string tiny_sweep(const std::string& prompts, const std::string& out) {
  return "sweep -q -t 1 -n 8 --steps 4,8 --eos none -i " + shell_quote(prompts) + " -o " +
         shell_quote(out);
}

void require_usage_failure(const std::string& args, const std::vector<std::string>& needles) {
  const CliResult r = run_dlm(args);
  INFO("dlm " << args << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, StartsWith("dlm: error:"));
  for (const auto& needle : needles) CHECK_THAT(r.err, Contains(needle));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Rewrites `path` without the lines that contain `needle`.
void drop_lines_with(const std::string& path, const std::string& needle) {
  std::string kept;
  for (const auto& line : lines_of(dlm_test::read_file(path))) {
    if (line.find(needle) == std::string::npos) kept += line + "\n";
  }
  dlm_test::write_file(path, kept);
}

}  // namespace

TEST_CASE("sweep axes are comma lists, with none where an option can be off", "[sweep]") {
  CHECK(dlm::parse_int_axis("--steps", "8,16, 32") == std::vector<std::int64_t>{8, 16, 32});
  const auto thresholds = dlm::parse_optional_axis("--threshold", "none,0.9");
  REQUIRE(thresholds.size() == 2);
  CHECK_FALSE(thresholds[0].has_value());
  CHECK(thresholds[1] == Approx(0.9));
  const auto algorithms = dlm::parse_algorithm_axis("confidence,random,low_confidence");
  REQUIRE(algorithms.size() == 3);
  CHECK(algorithms[0] == dlm::Algorithm::kConfidence);
  CHECK(algorithms[1] == dlm::Algorithm::kRandom);
  CHECK(algorithms[2] == dlm::Algorithm::kConfidence);  // an alias
  CHECK(dlm::parse_cache_axis("none,dual") == std::vector<std::string>{"none", "dual"});

  using dlm_test::require_usage_error;
  require_usage_error([] { dlm::parse_int_axis("--steps", ""); }, {"--steps is empty"});
  require_usage_error([] { dlm::parse_int_axis("--steps", ","); }, {"--steps ','", "empty value"});
  require_usage_error([] { dlm::parse_int_axis("--steps", "8,,16"); }, {"empty value"});
  require_usage_error([] { dlm::parse_int_axis("--steps", "8,x"); }, {"'x'", "whole number"});
  require_usage_error([] { dlm::parse_optional_axis("--threshold", "0.9,off"); }, {"'off'"});
  require_usage_error([] { dlm::parse_algorithm_axis("confidence,greedy"); },
                      {"--algorithm 'greedy'", "random"});
  require_usage_error([] { dlm::parse_cache_axis("none,bogus"); }, {"--cache 'bogus'", "dual"});
}

TEST_CASE("expand_grid gives the Cartesian product, steps fastest", "[sweep]") {
  dlm::SweepGrid grid;
  grid.steps = {4, 8};
  grid.algorithm = {dlm::Algorithm::kConfidence, dlm::Algorithm::kRandom};
  grid.threshold = {std::nullopt, 0.9};
  grid.cache = {"none", "dual"};
  dlm::GenerateOptions base;
  base.max_new_tokens = 8;
  base.temperature = 0.5;
  const auto cells = dlm::expand_grid(grid, base);
  REQUIRE(cells.size() == 16);
  CHECK(cells[0].options.steps == 4);
  CHECK(cells[1].options.steps == 8);
  CHECK(cells[1].options.algorithm == dlm::Algorithm::kConfidence);
  CHECK_FALSE(cells[1].options.threshold.has_value());
  CHECK(cells[2].options.threshold == 0.9);
  CHECK(cells[4].options.algorithm == dlm::Algorithm::kRandom);
  CHECK(cells[8].cache == "dual");
  std::set<std::string> ids;
  for (const auto& cell : cells) {
    ids.insert(cell.id);
    CHECK(cell.options.max_new_tokens == 8);  // single-valued options carried over
    CHECK(cell.options.temperature == 0.5);
    CHECK_FALSE(cell.skipped());
  }
  CHECK(ids.size() == cells.size());
  CHECK(cells[2].id == "steps=4 block_length=32 algorithm=confidence threshold=0.9 factor=none "
                       "alg_temp=none cache=none");
}

TEST_CASE("invalid cells are skipped with the reason", "[sweep]") {
  dlm::SweepGrid grid;
  grid.steps = {8, 32};
  grid.threshold = {std::nullopt, 0.9};
  grid.alg_temp = {std::nullopt, 0.5};
  grid.cache = {"none", "dual"};
  dlm::GenerateOptions base;
  base.max_new_tokens = 16;
  auto cells = dlm::expand_grid(grid, base);
  dlm::check_cells(cells, model(), 5);
  const auto find = [&](std::int64_t steps, bool threshold, bool alg_temp,
                        const std::string& cache) -> const dlm::SweepCell& {
    for (const auto& c : cells) {
      if (c.options.steps == steps && c.options.threshold.has_value() == threshold &&
          (c.options.alg_temp > 0) == alg_temp && c.cache == cache) {
        return c;
      }
    }
    FAIL("no such cell");
    throw std::logic_error("unreachable");
  };
  CHECK_FALSE(find(8, false, false, "none").skipped());
  CHECK_FALSE(find(8, false, true, "none").skipped());
  CHECK_FALSE(find(8, true, false, "none").skipped());
  CHECK_THAT(find(32, false, false, "none").skip_reason, Contains("--steps 32"));
  CHECK_THAT(find(8, true, true, "none").skip_reason, Contains("--alg-temp"));
  CHECK_FALSE(find(8, false, false, "dual").skipped());
  CHECK(find(8, false, false, "dual").options.cache == dlm::CacheMode::kDual);
  // --threshold ignores --steps: steps 32 is the same run as steps 8.
  const auto& repeat = find(32, true, false, "none");
  CHECK_THAT(repeat.skip_reason, Contains("the same run as"));
  CHECK_THAT(repeat.skip_reason, Contains(find(8, true, false, "none").id));
  CHECK_THAT(repeat.skip_reason, Contains("--threshold ignores --steps"));
}

TEST_CASE("issue 14's axes: eb-gamma, suffix-window, elastic-gamma", "[sweep]") {
  dlm::SweepGrid grid;
  dlm::set_axis(grid, "steps", "8,16");
  dlm::set_axis(grid, "eb-gamma", "none,1");
  dlm::set_axis(grid, "suffix-window", "0,32");
  dlm::set_axis(grid, "elastic-gamma", "0.9,0.99");
  dlm::set_axis(grid, "cache", "dual,elastic");
  CHECK(dlm::axis_text(grid, "eb-gamma") == "none,1");
  CHECK(dlm::axis_text(grid, "suffix-window") == "0,32");
  CHECK(dlm::axis_text(grid, "elastic-gamma") == "0.9,0.99");
  CHECK_THROWS_AS(dlm::set_axis(grid, "elastic-gamma", "none"), dlm::UsageError);
  dlm::GenerateOptions base;
  base.max_new_tokens = 16;
  auto cells = dlm::expand_grid(grid, base);
  CHECK(cells.size() == 2 * 2 * 2 * 2 * 2);
  dlm::check_cells(cells, model(), 5);
  std::set<std::string> run;
  for (const auto& c : cells) {
    if (c.skipped()) continue;
    run.insert(c.id);
  }
  // Plain cells keep their old ids; EB ignores --steps; dual ignores --elastic-gamma.
  CHECK(run.count("steps=8 block_length=32 algorithm=confidence threshold=none factor=none "
                  "alg_temp=none cache=dual"));
  CHECK(run.count("steps=8 block_length=32 algorithm=confidence threshold=none factor=none "
                  "alg_temp=none eb_gamma=1 suffix_window=32 elastic_gamma=0.99 cache=elastic"));
  CHECK(run.size() == 2 * 2 * 1 + 2 * 2 * 2 + 2 * 1 + 2 * 2);  // dual: 4 + 2; elastic: 8 + 4
}

TEST_CASE("the default cache axis is what dlm generate runs by default", "[sweep]") {
  const dlm::SweepGrid defaults;
  CHECK(defaults.cache == std::vector<std::string>{"auto"});
  CHECK(dlm::axis_text(defaults, "cache") == "auto");
  CHECK(dlm::parse_cache_axis("AUTO,Dual") == std::vector<std::string>{"auto", "dual"});
  dlm::GenerateOptions base;  // generate's defaults: --cache auto
  REQUIRE(base.cache == dlm::CacheMode::kAuto);
  base.max_new_tokens = 8;
  dlm::SweepGrid grid;
  grid.steps = {8};
  grid.cache = {"auto", "dual", "none"};
  auto cells = dlm::expand_grid(grid, base);
  REQUIRE(cells.size() == 3);
  CHECK(cells[0].cache == "auto");  // resolved only once the checkpoint is known
  dlm::check_cells(cells, model(), 5);
  // The shipped model has the cache methods and the schedule is block: auto is dual, the
  // cell is named and run as dual, and the explicit dual cell repeats it.
  REQUIRE(model().supports_cache());
  CHECK(dlm::resolve_cache(base, true) == dlm::CacheMode::kDual);
  CHECK(cells[0].cache == "dual");
  CHECK(cells[0].options.cache == dlm::CacheMode::kDual);
  CHECK_THAT(cells[0].id, Contains("cache=dual"));
  CHECK_FALSE(cells[0].skipped());
  CHECK_THAT(cells[1].skip_reason, Contains("listed twice"));
  CHECK_FALSE(cells[2].skipped());
  // The timestep schedule cannot cache: there auto is none, as in dlm generate.
  base.schedule = dlm::Schedule::kTimestep;
  grid.cache = {"auto"};
  auto timestep = dlm::expand_grid(grid, base);
  dlm::check_cells(timestep, model(), 5);
  CHECK(timestep[0].cache == "none");
  CHECK_THAT(timestep[0].id, Contains("cache=none"));
  CHECK_FALSE(timestep[0].skipped());
}

TEST_CASE("issue 14's remasking axis: edit-threshold (token editing)", "[sweep]") {
  dlm::SweepGrid grid;
  dlm::set_axis(grid, "steps", "8");
  dlm::set_axis(grid, "threshold", "0.9");
  dlm::set_axis(grid, "edit-threshold", "none,0.5,0.9");
  dlm::set_axis(grid, "cache", "none");  // the default axis is auto (dual for this rule)
  CHECK(dlm::axis_text(grid, "edit-threshold") == "none,0.5,0.9");
  CHECK_THROWS_AS(dlm::set_axis(grid, "edit-threshold", "0.5,"), dlm::UsageError);
  CHECK(dlm::axis_text(grid, "edit-threshold") == "none,0.5,0.9");  // unchanged on error
  dlm::GenerateOptions base;
  base.max_new_tokens = 16;
  base.max_post_steps = 4;  // single-valued: every cell's budget
  auto cells = dlm::expand_grid(grid, base);
  REQUIRE(cells.size() == 3);
  dlm::check_cells(cells, model(), 5);
  for (const auto& c : cells) CHECK_FALSE(c.skipped());
  CHECK(cells[0].id == "steps=8 block_length=32 algorithm=confidence threshold=0.9 factor=none "
                       "alg_temp=none cache=none");  // off: the id of earlier sweeps
  CHECK(cells[1].id == "steps=8 block_length=32 algorithm=confidence threshold=0.9 factor=none "
                       "alg_temp=none edit_threshold=0.5 cache=none");
  CHECK(cells[2].options.edit_threshold == 0.9);
  CHECK(cells[2].options.max_post_steps == 4);
  // A grid whose every cell is refused names the problem once.
  dlm::set_axis(grid, "edit-threshold", "1.5");
  dlm_test::require_usage_error([&] { dlm::check_grid(grid, base); },
                                {"--edit-threshold 1.5 is outside [0, 1)"});
}

TEST_CASE("token entropy and distinct-2 on hand-made token lists", "[sweep][metrics]") {
  CHECK(dlm::token_entropy({}) == 0.0);
  CHECK(dlm::token_entropy({7}) == 0.0);
  CHECK(dlm::token_entropy({5, 5, 5, 5}) == 0.0);
  CHECK(dlm::token_entropy({1, 2, 1, 2}) == Approx(std::log(2.0)));
  CHECK(dlm::token_entropy({1, 2, 3, 4}) == Approx(std::log(4.0)));
  CHECK(dlm::token_entropy({1, 1, 1, 2}) ==
        Approx(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))));
  CHECK_FALSE(dlm::distinct_2({}).has_value());
  CHECK_FALSE(dlm::distinct_2({3}).has_value());
  CHECK(*dlm::distinct_2({1, 2}) == 1.0);
  CHECK(*dlm::distinct_2({1, 2, 1, 2}) == Approx(2.0 / 3.0));
  CHECK(*dlm::distinct_2({9, 9, 9, 9, 9}) == Approx(1.0 / 4.0));
  CHECK(*dlm::distinct_2({1, 2, 3, 4, 5}) == 1.0);
}

TEST_CASE("reference match: the first 5 words and words in place", "[sweep][metrics]") {
  CHECK(dlm::match_words(" And God said, Let there be light: and") ==
        std::vector<std::string>{"and", "god", "said", "let", "there", "be", "light", "and"});
  CHECK(dlm::match_words("  -- ; ") == std::vector<std::string>{});
  const std::string reference = "thick clouds; and the cloud is not rent under them.";
  CHECK(dlm::first_words_match(" thick clouds and the cloud was rent", reference));
  CHECK_FALSE(dlm::first_words_match(" thick clouds and the sky is not rent", reference));
  CHECK_FALSE(dlm::first_words_match(" thick clouds", reference));
  CHECK(dlm::first_words_match(" unto Moses, and more", "unto Moses."));  // a short reference
  CHECK_FALSE(dlm::first_words_match(" anything", ""));
  // 10 reference words; the completion has 1, 2, 3, 4 and 10 in place.
  CHECK(dlm::in_place_word_share(" thick clouds and the sky was not rent upon them", reference) ==
        Approx(0.7));
  CHECK(dlm::in_place_word_share(" clouds and the cloud is not rent under them.", reference) ==
        Approx(0.0));
  CHECK(dlm::in_place_word_share(" Thick CLOUDS", reference) == Approx(0.2));
  CHECK(dlm::in_place_word_share(" anything", "") == 0.0);
}

TEST_CASE("percentile interpolates linearly", "[sweep][metrics]") {
  CHECK(dlm::percentile({5.0}, 95) == 5.0);
  CHECK(dlm::percentile({3.0, 1.0, 2.0}, 50) == 2.0);
  CHECK(dlm::percentile({1.0, 2.0, 3.0, 4.0}, 50) == Approx(2.5));
  CHECK(dlm::percentile({0.0, 10.0}, 95) == Approx(9.5));
}

TEST_CASE("sha256 of known inputs", "[sweep]") {
  CHECK(dlm::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(dlm::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(dlm::sha256_hex(std::string(1000, 'a')) ==
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  TempDir dir;
  dlm_test::write_file(dir.file("f"), "abc");
  CHECK(dlm::sha256_file(dir.file("f")) == dlm::sha256_hex("abc"));
}

TEST_CASE("prompt files: ids, references, limit and malformed lines", "[sweep]") {
  TempDir dir;
  const auto prompts = dlm::read_prompts(write_prompts(dir));
  REQUIRE(prompts.size() == 3);
  CHECK(prompts[0].id == "Job 26:8");
  CHECK(prompts[1].id == "3");  // the line number (line 2 is blank)
  REQUIRE(prompts[0].reference);
  CHECK_FALSE(prompts[2].reference);
  CHECK(dlm::reference_continuation(prompts[0]) ==
        " thick clouds; and the cloud is not rent under them.");
  CHECK(dlm::read_prompts(write_prompts(dir), 2).size() == 2);

  using dlm_test::require_usage_error;
  require_usage_error([&] { dlm::read_prompts(dir.file("missing.jsonl")); },
                      {"missing.jsonl", "cannot read prompts file"});
  dlm_test::write_file(dir.file("bad.jsonl"), "{\"prompt\": \"a\"}\n{\"prompt\": \n");
  require_usage_error([&] { dlm::read_prompts(dir.file("bad.jsonl")); }, {"line 2", "not valid JSON"});
  dlm_test::write_file(dir.file("noprompt.jsonl"), "{\"text\": \"a\"}\n");
  require_usage_error([&] { dlm::read_prompts(dir.file("noprompt.jsonl")); },
                      {"line 1", "\"prompt\""});
  dlm_test::write_file(dir.file("empty.jsonl"), "\n");
  require_usage_error([&] { dlm::read_prompts(dir.file("empty.jsonl")); }, {"no prompts"});
}

TEST_CASE("the judge scores a real verse below its shuffled words", "[sweep][judge]") {
  const dlm::Judge judge(judge_checkpoint());
  const std::string prompt = "And God said,";
  const std::string verse = " Let there be light: and there was light. And God saw the light, "
                            "that it was good: and God divided the light from the darkness.";
  std::vector<std::string> words;
  std::istringstream in(verse);
  for (std::string w; in >> w;) words.push_back(w);
  std::string shuffled;  // a fixed permutation: every 7th word, wrapping
  for (std::size_t i = 0; i < words.size(); ++i) shuffled += " " + words[(i * 7) % words.size()];
  REQUIRE(words.size() % 7 != 0);

  const dlm::JudgeScore real = judge.score(prompt, verse);
  const dlm::JudgeScore mixed = judge.score(prompt, shuffled);
  INFO("real ppl " << real.perplexity() << ", shuffled ppl " << mixed.perplexity());
  CHECK(real.tokens > 20);
  CHECK(real.perplexity() < 0.5 * mixed.perplexity());
  CHECK(std::isfinite(real.perplexity()));
  // Only the completion is scored: its tokens, not the prompt's.
  const auto& tok = judge_checkpoint().tokenizer();
  CHECK(real.tokens == static_cast<std::int64_t>(tok.encode(prompt + verse).size() -
                                                 tok.encode(prompt).size()));
  CHECK(judge.score(prompt, "").tokens == 0);
  CHECK(std::isnan(dlm::JudgeScore{}.perplexity()));
}

TEST_CASE("the judge reads texts longer than its context through windows", "[sweep][judge]") {
  const dlm::Judge judge(judge_checkpoint());
  std::string completion;
  for (int i = 0; i < 24; ++i) completion += " And the LORD spake unto Moses, saying, Speak unto the children of Israel.";
  const auto& tok = judge_checkpoint().tokenizer();
  const auto total = static_cast<std::int64_t>(tok.encode("In the beginning" + completion).size());
  REQUIRE(total + 1 > judge_checkpoint().config().max_seq_len);
  const dlm::JudgeScore s = judge.score("In the beginning", completion);
  CHECK(s.tokens == total - static_cast<std::int64_t>(tok.encode("In the beginning").size()));
  CHECK(std::isfinite(s.perplexity()));
  CHECK(s.perplexity() < 10.0);  // the repeats are easy once the window has seen one
}

TEST_CASE("a judge that is not causal or cannot read the text is refused", "[sweep][judge]") {
  using dlm_test::require_usage_error;
  require_usage_error([] { dlm::Judge judge(model()); }, {"not a causal judge"});
  TempDir dir;
  auto ab = dlm::Checkpoint::load(write_ab_judge(dir), "cpu");
  const dlm::Judge judge(*ab);
  judge.check_text("ab ba abab", "prompt 1");  // its own alphabet is fine
  require_usage_error([&] { judge.check_text("And God said unto Moses", "prompt 3"); },
                      {"cannot score the text", "unknown id", "prompt 3"});
  const dlm::Judge kjv(judge_checkpoint());
  kjv.check_text("And God said unto Moses, \xE2\x80\x9Cgo\xE2\x80\x9D", "prompt 1");  // byte fallback
}

TEST_CASE("run_cell measures speed and quality, batched or one by one", "[sweep]") {
  TempDir dir;
  const auto prompts = dlm::read_prompts(write_prompts(dir));
  dlm::SweepGrid grid;
  grid.steps = {4};
  dlm::GenerateOptions base;
  base.max_new_tokens = 8;
  base.eos = dlm::EosPolicy::kNone;  // every step runs: 4 calls per prompt
  const auto cells = dlm::expand_grid(grid, base);
  const dlm::Judge judge(judge_checkpoint());
  const dlm::CellResult alone = dlm::run_cell(model(), judge, prompts, cells[0], 2, 1);
  const dlm::CellResult batched = dlm::run_cell(model(), judge, prompts, cells[0], 1, 2);
  CHECK(alone.speed.tokens_per_s_repeats.size() == 2);
  CHECK(alone.speed.tokens_per_s > 0);
  CHECK(alone.speed.latency_p95_ms >= alone.speed.latency_p50_ms);
  CHECK(alone.speed.nfe_per_prompt == 4.0);
  CHECK(alone.speed.tokens_per_forward == 2.0);
  CHECK(alone.prompts == 3);
  CHECK(alone.quality.judge.tokens > 0);
  CHECK(alone.quality.match5.has_value());  // two prompts carry a reference
  // Batching changes the speed, never the text.
  CHECK(batched.speed.nfe_per_prompt == 4.0);
  CHECK(batched.sample == alone.sample);
  CHECK(batched.quality.judge.nll == alone.quality.judge.nll);
  CHECK(batched.quality.judge.tokens == alone.quality.judge.tokens);
  CHECK(batched.quality.distinct2 == alone.quality.distinct2);
}

TEST_CASE("dlm sweep end to end, then resume after losing a cell", "[sweep][cli]") {
  TempDir dir;
  const std::string prompts = write_prompts(dir), out = dir.file("out");
  const CliResult first = run_dlm(tiny_sweep(prompts, out));
  INFO("stderr: " << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.empty());  // -q
  CHECK_THAT(first.out, Contains("| steps | block | algorithm |"));
  CHECK_THAT(first.out, Contains("Reference continuations (real held-out text): judge ppl"));
  CHECK(std::filesystem::exists(dir.file("out/sweep.png")));

  const json sweep = json::parse(dlm_test::read_file(dir.file("out/sweep.json")));
  for (const char* key : {"machine", "git_commit", "model", "judge", "prompts", "settings", "grid",
                          "cells", "references", "run"}) {
    INFO("sweep.json key " << key);
    CHECK(sweep.contains(key));
  }
  // The commit of the binary (built in, not read from a working tree at run time).
  CHECK(sweep["git_commit"] == dlm::build_commit());
  CHECK(sweep["model"]["sha256"].get<std::string>().size() == 64);
  CHECK(sweep["judge"]["sha256"].get<std::string>().size() == 64);
  CHECK(sweep["machine"]["nproc"].get<int>() >= 1);
  CHECK(sweep["settings"]["max_new_tokens"] == 8);
  CHECK(sweep["run"]["cells_run"] == 2);
  REQUIRE(sweep["cells"].size() == 2);
  for (const auto& cell : sweep["cells"]) {
    CHECK(cell["status"] == "done");
    CHECK(cell["prompts"] == 3);
    CHECK(cell["tokens_per_s"].get<double>() > 0);
    CHECK(cell["latency_ms_p95"].get<double>() >= cell["latency_ms_p50"].get<double>());
    CHECK(cell["nfe_per_prompt"] == cell["steps"]);
    CHECK(cell["tokens_per_forward"].get<double>() == Approx(8.0 / cell["steps"].get<double>()));
    CHECK(cell["judge_ppl"].get<double>() > 1.0);
    CHECK(cell["peak_rss_mib"].get<double>() > 10.0);
    CHECK(cell["match5"].is_number());  // two of the three prompts carry a reference
    CHECK(cell["in_place"].is_number());
  }
  CHECK(sweep["references"]["judge_ppl"].get<double>() > 1.0);
  // The default cache axis is generate's auto: dual for the shipped model.
  CHECK(sweep["cells"][0]["cache"] == "dual");
  // samples.jsonl: every prompt's completion of every cell, in prompt order.
  const auto samples = lines_of(dlm_test::read_file(dir.file("out/samples.jsonl")));
  REQUIRE(samples.size() == 2 * 3);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const json s = json::parse(samples[i]);
    const json& c = sweep["cells"][i / 3];
    INFO("sample " << i << ": " << samples[i]);
    CHECK(s["cell"] == c["id"]);
    CHECK(s["settings_key"] == c["settings_key"]);
    CHECK(s["index"] == i % 3);
    CHECK(s["completion"].is_string());
    CHECK(s["token_ids"] == c["token_ids"][i % 3]);
    CHECK(s["completion_tokens"] == s["token_ids"].size());
    CHECK(s["judge_tokens"].get<int>() >= 0);
    if (i % 3 == 0) {
      CHECK(s["id"] == "Job 26:8");
      CHECK(s["prompt"] == "He bindeth up the waters in his");
      CHECK(s["reference"] == "thick clouds; and the cloud is not rent under them.");
      CHECK(s["completion"] == c["sample"]);  // the cell's one sample is the first prompt's
    }
    if (i % 3 == 2) {
      CHECK(s["id"] == "4");  // no id: the line number
      CHECK(s["reference"].is_null());
    }
  }
  const auto csv = lines_of(dlm_test::read_file(dir.file("out/sweep.csv")));
  REQUIRE(csv.size() == 3);
  CHECK_THAT(csv[0], StartsWith("id,status,reason,steps,"));
  REQUIRE(lines_of(dlm_test::read_file(dir.file("out/cells.jsonl"))).size() == 2);

  // Lose the steps=8 cell, as if the sweep had been interrupted; the rerun runs only it.
  drop_lines_with(dir.file("out/cells.jsonl"), "\"steps=8 ");
  drop_lines_with(dir.file("out/sweep.csv"), "steps=8 ");
  const CliResult second = run_dlm(tiny_sweep(prompts, out) + " --python /bin/false");
  INFO("stderr of the rerun: " << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.err.empty());  // -q: the failed plot's warning is not an error
  const json again = json::parse(dlm_test::read_file(dir.file("out/sweep.json")));
  CHECK(again["run"]["cells_run"] == 1);
  CHECK(again["run"]["cells_resumed"] == 1);
  CHECK(again["cells"].size() == 2);
  CHECK(lines_of(dlm_test::read_file(dir.file("out/cells.jsonl"))).size() == 2);
  CHECK(lines_of(dlm_test::read_file(dir.file("out/sweep.csv"))).size() == 3);
  // The lost cell's samples were dropped before it ran again: each cell's samples once.
  const auto resumed_samples = lines_of(dlm_test::read_file(dir.file("out/samples.jsonl")));
  REQUIRE(resumed_samples.size() == 2 * 3);
  std::map<std::string, int> per_cell;
  for (const auto& line : resumed_samples) ++per_cell[json::parse(line)["cell"].get<std::string>()];
  CHECK(per_cell.size() == 2);
  for (const auto& [id, count] : per_cell) CHECK(count == 3);

  // A third run with nothing left to do, without -q: the failed plot is one warning line.
  const CliResult third = run_dlm("sweep -t 1 -n 8 --steps 4,8 --eos none -i " + shell_quote(prompts) +
                                  " -o " + shell_quote(out) + " --python /bin/false");
  REQUIRE(third.exit_code == 0);
  const auto err_lines = lines_of(third.err);
  const auto warnings = std::count_if(err_lines.begin(), err_lines.end(), [](const std::string& l) {
    return l.find("warning") != std::string::npos;
  });
  CHECK(warnings == 1);
  CHECK_THAT(third.err, Contains("sweep.png not drawn"));
  CHECK_THAT(third.err, Contains("0 cells run, 2 resumed"));
  CHECK_THAT(third.err, !Contains("resolved"));  // only with -v

  // -v prints the resolved settings: files, every single-valued option, every axis.
  const CliResult verbose = run_dlm("sweep -v -t 1 -n 8 --steps 4,8 --temperature 0.5 -i " +
                                    shell_quote(prompts) + " -o " + shell_quote(dir.file("v")) +
                                    " --limit 1 --no-plot");
  INFO("stderr with -v: " << verbose.err);
  REQUIRE(verbose.exit_code == 0);
  CHECK_THAT(verbose.err, Contains("resolved: model "));
  CHECK_THAT(verbose.err, Contains("judge "));
  CHECK_THAT(verbose.err, Contains("(1 used, --limit 1)"));
  CHECK_THAT(verbose.err, Contains("resolved single-valued options: "));
  CHECK_THAT(verbose.err, Contains("--temperature 0.5"));
  CHECK_THAT(verbose.err, Contains("--max-new-tokens 8"));
  CHECK_THAT(verbose.err, Contains("resolved grid: --steps 4,8"));
  CHECK_THAT(verbose.err, Contains("--cache auto (auto: dual here)"));

  // Other single-valued settings do not mix into this directory.
  require_usage_failure("sweep -q -t 1 -n 4 --steps 4 -i " + shell_quote(prompts) + " -o " +
                            shell_quote(out), {"other settings", "cells.jsonl"});
}

TEST_CASE("dlm sweep rejects bad input with one line and exit code 2", "[sweep][cli][usage]") {
  TempDir dir;
  const std::string prompts = write_prompts(dir), out = dir.file("out");
  const std::string base = "sweep -q -t 1 -n 8 -i " + shell_quote(prompts) + " -o " + shell_quote(out);
  require_usage_failure(base + " --steps ,", {"--steps", "empty"});
  require_usage_failure(base + " --steps ''", {"--steps is empty"});
  require_usage_failure(base + " --algorithm confidence,greedy", {"--algorithm 'greedy'"});
  require_usage_failure("sweep -q -i " + shell_quote(dir.file("nope.jsonl")) + " -o " +
                            shell_quote(out), {"nope.jsonl", "cannot read prompts file"});
  dlm_test::write_file(dir.file("bad.jsonl"), "{\"prompt\": \"And God said\"}\nAnd Moses\n");
  require_usage_failure("sweep -q -i " + shell_quote(dir.file("bad.jsonl")) + " -o " +
                            shell_quote(out), {"bad.jsonl line 2", "not valid JSON"});
  dlm_test::write_file(dir.file("a-file"), "x");
  require_usage_failure("sweep -q -i " + shell_quote(prompts) + " -o " +
                            shell_quote(dir.file("a-file")), {"output directory", "a-file"});
  require_usage_failure(base + " --judge " + shell_quote(write_ab_judge(dir)),
                        {"cannot score the text", "unknown id", "prompt 1"});
  require_usage_failure(base + " --judge " + shell_quote(dlm_test::shipped_model_path()),
                        {"not a causal judge"});
  require_usage_failure(base + " -m " + shell_quote(judge_path()), {"not a masked denoiser"});
  require_usage_failure(base + " --repeats 0", {"--repeats", "not in range 1 to 1000"});
  require_usage_failure(base + " --batch-size 100000000", {"--batch-size", "not in range 1 to 4096"});
  require_usage_failure(base + " --limit -1", {"--limit", "not in range"});
  require_usage_failure("sweep -q -i " + shell_quote(prompts), {"--out"});
}

TEST_CASE("dlm sweep writes only inside its output folder: planted links are refused",
          "[sweep][cli][usage]") {
  TempDir dir;
  const std::string prompts = write_prompts(dir), target = dir.file("precious.txt");
  for (const std::string name : {"cells.jsonl", "samples.jsonl", "sweep.json.tmp", "sweep.png", "plot.log"}) {
    INFO(name);
    dlm_test::write_file(target, "keep me\n");
    const std::string out = dir.file("out-" + name);
    std::filesystem::create_directories(out);
    std::filesystem::create_symlink(target, out + "/" + name);
    require_usage_failure("sweep -q -t 1 -n 4 --steps 4 -i " + shell_quote(prompts) + " -o " +
                              shell_quote(out), {"symbolic link '" + name + "'", "inside its folder"});
    CHECK(dlm_test::read_file(target) == "keep me\n");
  }
}
