// dlm batch: record parsing, shards, the crash-safe output, batch invariance, and the
// command's guarantees (exit codes, resume, SIGKILL at random moments).
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "dlm/io/batch.h"
#include "dlm/model/checkpoint.h"
#include "dlm/io/jsonl_output.h"
#include "dlm/sampling/sampler.h"
#include "test_support.h"

namespace {

using nlohmann::json;
using dlm_test::TempDir;

dlm::Checkpoint& model() { return dlm_test::load_once(dlm_test::shipped_model_path()); }

dlm::BatchRecord parse(const std::string& line, std::set<std::string>* unknown_out = nullptr) {
  std::set<std::string> unknown;
  dlm::GenerateOptions defaults;
  defaults.max_new_tokens = 32;
  defaults.steps = 32;
  auto r = dlm::parse_batch_record(line, 7, defaults, 42, unknown);
  if (unknown_out) *unknown_out = unknown;
  return r;
}

using dlm_test::run_shell;

std::string dlm_batch(const std::string& args) {
  return std::string(DLM_EXECUTABLE) + " batch -q -t 1 " + args + " </dev/null";
}

// Input lines of varying prompt lengths and settings.
std::string input_lines(int count) {
  const char* prompts[] = {"In the beginning", "And the LORD said unto Moses,", "Blessed are the",
                           "And it came to pass, when the king heard", "Praise ye the LORD."};
  std::ostringstream out;
  for (int i = 0; i < count; ++i) {
    json j{{"id", "r" + std::to_string(i)}, {"prompt", prompts[i % 5]}};
    if (i % 3 == 1) j["temperature"] = 0.8;
    out << j.dump() << "\n";
  }
  return out.str();
}

// Every line of `path` parses; returns the count of records per input line.
std::map<std::int64_t, int> records_per_line(const std::string& path) {
  std::map<std::int64_t, int> count;
  if (!std::filesystem::exists(path)) return count;  // killed before the output was opened
  std::istringstream in(dlm_test::read_file(path));
  for (std::string line; std::getline(in, line);) {
    INFO("output line: " << line);
    const json j = json::parse(line);  // throws (fails) on a partial record
    ++count[j.at("line").get<std::int64_t>()];
  }
  return count;
}

}  // namespace

TEST_CASE("batch records: flat, OpenAI envelope, aliases and derived seeds", "[batch]") {
  auto r = parse(R"({"id": "q1", "prompt": "Hi", "max_tokens": 8, "temperature": 0.5, "stop": "x"})");
  CHECK(r.error.empty());
  CHECK(r.id == "q1");
  CHECK(r.line == 7);
  CHECK(r.options.max_new_tokens == 8);
  CHECK(r.options.steps == 8);  // shortened without naming steps: steps follow
  CHECK(r.options.temperature == 0.5);
  CHECK(r.options.stop == std::vector<std::string>{"x"});
  CHECK(r.options.seed == dlm::derive_seed(42, "q1"));
  CHECK(dlm::derive_seed(42, "q1") != dlm::derive_seed(42, "q2"));
  CHECK(dlm::derive_seed(42, "q1") != dlm::derive_seed(43, "q1"));

  r = parse(R"({"custom_id": "c7", "method": "POST", "body": {"prompt": "Hello", "seed": 5, "top_p": 0.9}})");
  CHECK(r.error.empty());
  CHECK(r.id == "c7");
  CHECK(r.prompt == "Hello");
  CHECK(r.options.seed == 5);
  CHECK(r.options.top_p == 0.9);

  r = parse(R"({"prompt": "no id", "algorithm": "low_confidence", "threshold": 0.8})");
  CHECK(r.id == "line-7");
  CHECK(r.options.algorithm == dlm::Algorithm::kConfidence);
  CHECK(r.options.threshold == 0.8);
}

TEST_CASE("bad batch records become errors naming the line, never exceptions", "[batch]") {
  CHECK_THAT(parse("{not json").error, Catch::Matchers::Contains("line 7: malformed JSON"));
  CHECK_THAT(parse("[1, 2]").error, Catch::Matchers::Contains("JSON object"));
  CHECK_THAT(parse(R"({"id": "x"})").error, Catch::Matchers::Contains("missing \"prompt\""));
  CHECK_THAT(parse(R"({"prompt": 3})").error, Catch::Matchers::Contains("missing \"prompt\""));
  CHECK_THAT(parse(R"({"prompt": "a", "steps": "many"})").error,
             Catch::Matchers::Contains("\"steps\" has the wrong type"));
  CHECK_THAT(parse(R"({"prompt": "a", "algorithm": "greedy"})").error,
             Catch::Matchers::Contains("--algorithm 'greedy'"));
  // Numbers past a double, nesting deep enough to overflow a recursive printer, and
  // floats where integers belong (truncated or undefined behaviour before) are the
  // record's error.
  CHECK_THAT(parse(R"({"prompt": "x", "temperature": 1e999})").error,
             Catch::Matchers::Contains("line 7: malformed JSON"));
  CHECK_THAT(parse("{\"prompt\": \"x\", \"y\": " + std::string(80000, '[') + std::string(80000, ']') + "}").error,
             Catch::Matchers::Contains("line 7: arrays and objects nest deeper than 64 levels"));
  for (const char* record : {R"({"prompt": "x", "max_new_tokens": 4.9})", R"({"prompt": "x", "seed": 0.5})",
                             R"({"prompt": "x", "steps": 1e300})"}) {
    INFO(record);
    CHECK_THAT(parse(record).error, Catch::Matchers::Contains("must be an integer"));
  }
  CHECK_THAT(parse(R"({"prompt": "x", "max_new_tokens": 18446744073709551615})").error,
             Catch::Matchers::Contains("line 7:"));
  std::set<std::string> unknown;
  CHECK(parse(R"({"prompt": "a", "colour": 1, "reference": "b"})", &unknown).error.empty());
  CHECK(unknown == std::set<std::string>{"colour"});
}

TEST_CASE("batch record errors stay one line when a value holds a newline", "[batch]") {
  // Found by fuzz_batch_record: the bad value was echoed raw, newline included.
  const auto r = parse(R"({"prompt":"x","algorithm":"a\nb"})");
  CHECK_FALSE(r.error.empty());
  CHECK(r.error.find('\n') == std::string::npos);
  CHECK_THAT(r.error, Catch::Matchers::Contains("a\\nb"));
  CHECK(r.input_hash.size() == 16);
  CHECK_FALSE(r.has_id);
  CHECK(parse(R"({"id":"q","prompt":"x"})").has_id);
}

TEST_CASE("batch records take OpenAI chat messages instead of a prompt", "[batch][chat]") {
  auto r = parse(R"({"id": "m", "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi"}], "max_tokens": 8})");
  REQUIRE(r.error.empty());
  REQUIRE(r.messages);
  CHECK(r.messages->size() == 2);
  CHECK(r.options.max_new_tokens == 8);
  dlm::ModelConfig chatml;
  chatml.chat_format = "chatml";
  CHECK(dlm::render_batch_prompt(r, chatml) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(dlm::render_batch_prompt(r, dlm::ModelConfig{}) == "Be brief. Hi");  // plain: no chat format

  // The OpenAI Batch envelope, and content as a list of text parts (joined with newlines).
  r = parse(R"({"custom_id": "e", "body": {"messages": [{"role": "user", "content":
               [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}]}})");
  REQUIRE(r.error.empty());
  CHECK(r.id == "e");
  CHECK(r.messages->at(0).content == "one\ntwo");
  // A record with a prompt renders as its prompt.
  CHECK(dlm::render_batch_prompt(parse(R"({"prompt": "p"})"), chatml) == "p");
}

TEST_CASE("bad chat messages are the record's error", "[batch][chat]") {
  const auto error = [](const std::string& line) { return parse(line).error; };
  CHECK_THAT(error(R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})"),
             Catch::Matchers::Contains("line 7: message 1: content part 1 has type \"image_url\""));
  CHECK_THAT(error(R"({"messages": []})"), Catch::Matchers::Contains("non-empty list"));
  CHECK_THAT(error(R"({"messages": "hi"})"), Catch::Matchers::Contains("non-empty list"));
  CHECK_THAT(error(R"({"messages": [{"content": "x"}]})"), Catch::Matchers::Contains("message 1 must be an object"));
  CHECK_THAT(error(R"({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "x"}]})"),
             Catch::Matchers::Contains("message 2: role 'tool'"));
  CHECK_THAT(error(R"({"messages": [{"role": "user", "content": 3}]})"),
             Catch::Matchers::Contains("string or a list of text parts"));
  CHECK_THAT(error(R"({"prompt": "a", "messages": [{"role": "user", "content": "x"}]})"),
             Catch::Matchers::Contains("both \"prompt\" and \"messages\""));
}

TEST_CASE("dlm batch runs messages records and records the prompt text used", "[batch][cli][chat]") {
  TempDir dir;
  dlm_test::write_file(
      dir.file("in.jsonl"),
      "{\"id\": \"p\", \"prompt\": \"And God said\"}\n"
      "{\"id\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"And God said\"}]}\n"
      "{\"id\": \"bad\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"audio\"}]}]}\n");
  const auto r = run_shell(dlm_batch("-n 8 -i " + dir.file("in.jsonl") + " -o " + dir.file("out.jsonl")));
  CHECK(r.exit_code == 3);
  std::istringstream in(dlm_test::read_file(dir.file("out.jsonl")));
  std::map<std::string, json> by_id;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    by_id[j["id"]] = j;
  }
  REQUIRE(by_id.size() == 3);
  CHECK_FALSE(by_id["p"].contains("prompt"));
  CHECK(by_id["m"]["prompt"] == "And God said");  // the shipped model is plain: the content as is
  CHECK(by_id["m"]["prompt_token_ids"] == by_id["p"]["prompt_token_ids"]);
  CHECK(by_id["bad"]["finish_reason"] == "error");
  CHECK_THAT(by_id["bad"]["error"].get<std::string>(), Catch::Matchers::Contains("line 3: message 1"));
}

TEST_CASE("shards partition the records; Slurm arrays give the default shard", "[batch]") {
  std::map<std::string, int> owners;
  for (int s = 0; s < 4; ++s) {
    for (int i = 0; i < 200; ++i) {
      const std::string id = "id" + std::to_string(i);
      if (dlm::in_shard(dlm::Shard{s, 4}, id)) ++owners[id];
    }
  }
  CHECK(owners.size() == 200);
  for (const auto& [id, n] : owners) CHECK(n == 1);
  CHECK(dlm::parse_shard("2/5").index == 2);
  for (const char* bad : {"5/5", "-1/3", "a/b", "1/0", "1", "1/2/3", "0/99999999999999999999", " 1/2", "1/2x", "+1/2"}) {
    CHECK_THROWS_AS(dlm::parse_shard(bad), dlm::UsageError);
  }
  std::map<std::string, std::string> env{{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_MIN", "5"},
                                         {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_STEP", "1"}};
  const auto getenv = [&](const char* n) { return env.count(n) ? env[n].c_str() : nullptr; };
  auto shard = dlm::slurm_shard(getenv);
  REQUIRE(shard);
  CHECK(shard->index == 2);
  CHECK(shard->count == 4);
  env["SLURM_ARRAY_TASK_STEP"] = "2";
  CHECK_THROWS_AS(dlm::slurm_shard(getenv), dlm::UsageError);
  env.clear();
  CHECK_FALSE(dlm::slurm_shard(getenv));
}

TEST_CASE("the output refuses to clobber, repairs a torn line and knows what is done", "[batch]") {
  TempDir dir;
  const std::string path = dir.file("out.jsonl");
  dlm_test::write_file(path, "{\"id\":\"a\",\"line\":1}\n{\"id\":\"b\",\"line\":2}\n{\"id\":\"c\",\"li");
  CHECK_THROWS_AS(dlm::JsonlOutput(path, false, false, 1.0), dlm::UsageError);
  {
    dlm::JsonlOutput out(path, true, false, 1.0);
    CHECK(out.repaired_bytes() == 13);  // the 13 bytes of {"id":"c","li
    CHECK(out.done_ids() == std::set<std::string>{"a", "b"});
    CHECK(out.done_lines() == std::set<std::int64_t>{1, 2});
    out.append("{\"id\":\"c\",\"line\":3}");
  }
  CHECK(dlm_test::read_file(path) ==
        "{\"id\":\"a\",\"line\":1}\n{\"id\":\"b\",\"line\":2}\n{\"id\":\"c\",\"line\":3}\n");
  { dlm::JsonlOutput out(path, false, true, 1.0); }
  CHECK(dlm_test::read_file(path).empty());
}

TEST_CASE("a record's tokens are the same alone and in any batch", "[batch][invariance]") {
  auto& ck = model();
  const std::vector<std::string> prompts{"In the beginning", "And the LORD said unto Moses,",
                                         "Blessed are the", "And it came to pass, when the king",
                                         "Praise ye the LORD.", "Hear, O Israel:"};
  for (const double temperature : {0.0, 0.9}) {
    std::vector<dlm::BatchRequest> requests;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      dlm::GenerateOptions o;
      o.max_new_tokens = 24;
      o.steps = 12;
      o.block_length = 8;
      o.temperature = temperature;
      o.seed = 100 + i;
      o.eos = dlm::EosPolicy::kNone;  // mixed with kStop below
      if (i == 2) o.algorithm = dlm::Algorithm::kRandom;
      if (i == 3) o.threshold = 0.5;
      if (i == 4) o.eos = dlm::EosPolicy::kStop;
      requests.push_back({dlm::encode_prompt(ck, prompts[i]), o, nullptr});
    }
    const auto together = dlm::generate_batch(ck, requests);
    // A different batch composition: reversed, and in pairs.
    std::vector<dlm::BatchRequest> reversed(requests.rbegin(), requests.rend());
    const auto backwards = dlm::generate_batch(ck, reversed);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      INFO("request " << i << " at temperature " << temperature);
      const auto alone = dlm::generate(ck, requests[i].prompt_ids, requests[i].options);
      CHECK(together[i].token_ids == alone.token_ids);
      CHECK(together[i].text == alone.text);
      CHECK(together[i].nfe == alone.nfe);
      CHECK(backwards[requests.size() - 1 - i].token_ids == alone.token_ids);
      const auto pair = dlm::generate_batch(ck, {requests[i], requests[(i + 1) % requests.size()]});
      CHECK(pair[0].token_ids == alone.token_ids);
    }
  }
}

TEST_CASE("dlm batch writes one record per line and exits 3 when some failed", "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"),
                       input_lines(3) + "not json\n{\"id\": \"r0\", \"prompt\": \"dup\"}\n\n" +
                           "{\"id\": \"long\", \"prompt\": \"" + std::string(3000, 'a') + " b\"}\n");
  const auto r = run_shell(dlm_batch("-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " +
                                     dir.file("out.jsonl")));
  CHECK(r.exit_code == 3);
  const auto counts = records_per_line(dir.file("out.jsonl"));
  CHECK(counts == std::map<std::int64_t, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {7, 1}});
  std::istringstream in(dlm_test::read_file(dir.file("out.jsonl")));
  std::map<std::int64_t, json> by_line;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    by_line[j["line"]] = j;
  }
  CHECK(by_line[1]["finish_reason"] != "error");
  CHECK(by_line[1].contains("elapsed_ms"));
  CHECK(by_line[1].contains("token_ids"));
  CHECK(by_line[4]["finish_reason"] == "error");
  CHECK_THAT(by_line[5]["error"].get<std::string>(), Catch::Matchers::Contains("duplicate id"));
  CHECK_THAT(by_line[7]["error"].get<std::string>(), Catch::Matchers::Contains("maximum sequence length"));

  const auto all_ok = run_shell(dlm_batch("-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " +
                                          dir.file("out.jsonl")));
  CHECK(all_ok.exit_code == 2);  // refuses to clobber
  CHECK_THAT(all_ok.err, Catch::Matchers::Contains("--resume"));
}

TEST_CASE("dlm batch reads its input in windows (--read-ahead): the same records, duplicates "
          "caught across windows, from a file or stdin", "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"),
                       input_lines(5) + "\nnot json\n{\"id\": \"r1\", \"prompt\": \"dup\"}\n" +
                           "{\"prompt\": \"no id\", \"seed\": 3}\n");
  // Batch size 1: every row alone, so that the windows cannot change a row's batch.
  const std::string base = "-n 8 --steps 8 --batch-size 1 -i ";
  const auto outputs = [&](const std::string& out) {
    std::map<std::int64_t, json> by_line;
    for (const auto& [line, n] : records_per_line(out)) CHECK(n == 1);
    std::istringstream in(dlm_test::read_file(out));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      j.erase("timings_ms");
      j.erase("elapsed_ms");
      by_line[j["line"]] = j;
    }
    return by_line;
  };
  REQUIRE(run_shell(dlm_batch(base + dir.file("in.jsonl") + " -o " + dir.file("all.jsonl"))).exit_code == 3);
  const auto whole = outputs(dir.file("all.jsonl"));
  CHECK(whole.size() == 8);
  for (const std::string window : {"1", "2", "3"}) {
    INFO("--read-ahead " << window);
    const std::string out = dir.file("w" + window + ".jsonl");
    REQUIRE(run_shell(dlm_batch(base + dir.file("in.jsonl") + " -o " + out + " --read-ahead " + window))
                .exit_code == 3);
    CHECK(outputs(out) == whole);
  }
  const std::string piped = dir.file("stdin.jsonl");
  REQUIRE(run_shell(std::string(DLM_EXECUTABLE) + " batch -q -t 1 " + base + "- -o " + piped +
                    " --read-ahead 2 < " + dir.file("in.jsonl"))
              .exit_code == 3);
  CHECK(outputs(piped) == whole);
  CHECK_THAT(whole.at(8)["error"].get<std::string>(), Catch::Matchers::Contains("duplicate id"));
  // Resuming a run cut after its first window finishes the rest, each record once.
  std::string first_two;
  {
    std::istringstream in(dlm_test::read_file(dir.file("w2.jsonl")));
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line); ++i) first_two += line + "\n";
  }
  const std::string cut = dir.file("cut.jsonl");
  dlm_test::write_file(cut, first_two);
  const auto resumed =
      run_shell(dlm_batch(base + dir.file("in.jsonl") + " -o " + cut + " --read-ahead 2 --resume"));
  CHECK(resumed.exit_code == 3);
  CHECK(outputs(cut) == whole);
}

TEST_CASE("dlm batch exits 2 for unusable arguments or input files", "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(2));
  for (const std::string args :
       {"-i " + dir.file("missing.jsonl") + " -o " + dir.file("o1.jsonl"),
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o2.jsonl") + " --shard 3/3",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o3.jsonl") + " --batch-size 0",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o6.jsonl") + " --read-ahead 0",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o7.jsonl") + " --batch-size 100000000",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o8.jsonl") + " --max-batch-tokens 99999999999",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o9.jsonl") + " --sync-every -1",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o10.jsonl") + " --sync-every 1e12",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("o4.jsonl") + " --resume --overwrite",
        "-i " + dir.file("in.jsonl") + " -o " + dir.file("nodir/o5.jsonl"),
        "-i " + dir.file("in.jsonl") + " -o - --resume"}) {
    INFO(args);
    const auto r = run_shell(dlm_batch(args));
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("dlm batch keeps one writer per output and never writes through planted links",
          "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(2));
  const std::string in = "-i " + dir.file("in.jsonl");
  {  // Another run holds the output's lock: a second run (a second --resume) is refused.
    const std::string out = dir.file("locked.jsonl");
    dlm_test::write_file(out, "");
    const int fd = ::open(out.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    const auto r = run_shell(dlm_batch(in + " -o " + out + " --resume"));
    ::close(fd);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Matchers::Contains("is being written by another dlm run"));
    CHECK(dlm_test::read_file(out).empty());
  }
  {  // --overwrite through a symbolic link would empty the link's target.
    const std::string target = dir.file("precious.txt");
    dlm_test::write_file(target, "keep me\n");
    std::filesystem::create_symlink(target, dir.file("link.jsonl"));
    const auto r = run_shell(dlm_batch(in + " -o " + dir.file("link.jsonl") + " --overwrite"));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Matchers::Contains("is a symbolic link"));
    CHECK(dlm_test::read_file(target) == "keep me\n");
  }
  {  // A link planted where the settings file's temporary goes is refused, not followed.
    const std::string target = dir.file("victim.txt");
    dlm_test::write_file(target, "keep me too\n");
    std::filesystem::create_symlink(target, dir.file("o.jsonl.settings.json.tmp"));
    const auto r = run_shell(dlm_batch(in + " -o " + dir.file("o.jsonl") + " -n 4"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Matchers::Contains("it is a symbolic link"));
    CHECK(dlm_test::read_file(target) == "keep me too\n");
  }
  {  // A directory as output, an endless "line" as input, absurd thread counts.
    const auto as_dir = run_shell(dlm_batch(in + " -o " + dir.path().string()));
    CHECK(as_dir.exit_code == 2);
    CHECK_THAT(as_dir.err, Catch::Matchers::Contains("is a directory"));
    const auto zero = run_shell(dlm_batch("-i /dev/zero -o " + dir.file("z.jsonl")));
    CHECK(zero.exit_code == 2);
    CHECK_THAT(zero.err, Catch::Matchers::Contains("longer than 64 MiB"));
    const auto threads = run_shell(dlm_batch(in + " -o " + dir.file("t.jsonl") + " -t 100000"));
    CHECK(threads.exit_code == 2);
    CHECK_THAT(threads.err, Catch::Matchers::Contains("100000"));
  }
}

// token_ids per id of a finished output (every line must parse).
static std::map<std::string, json> tokens_by_id(const std::string& path) {
  std::map<std::string, json> out;
  std::istringstream in(dlm_test::read_file(path));
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    out[j.at("id").get<std::string>()] = j.at("token_ids");
  }
  return out;
}

TEST_CASE("dlm batch survives SIGKILL at 20 random moments and SIGTERM, SIGINT, SIGHUP",
          "[batch][cli]") {
  TempDir dir;
  const int records = 8;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(records));
  const std::string args = "-n 8 --steps 8 --batch-size 2 --sync-every 0 -i " + dir.file("in.jsonl");
  // The uninterrupted run every interrupted one must reproduce, token for token.
  REQUIRE(run_shell(dlm_batch(args + " -o " + dir.file("ref.jsonl"))).exit_code == 0);
  const auto reference = tokens_by_id(dir.file("ref.jsonl"));
  REQUIRE(reference.size() == static_cast<std::size_t>(records));

  const auto check_complete = [&](const std::string& out) {
    const auto counts = records_per_line(out);
    CHECK(counts.size() == static_cast<std::size_t>(records));
    for (const auto& [line, n] : counts) CHECK(n == 1);
    CHECK(tokens_by_id(out) == reference);
  };
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> when(0.3, 2.0);
  {
    const std::string cmd = dlm_batch(args + " -o " + dir.file("kill.jsonl"));
    for (int attempt = 0; attempt < 20; ++attempt) {
      const auto r = run_shell("timeout -s KILL " + std::to_string(when(rng)) + " " + cmd + " --resume");
      (void)r;  // killed (or done): either way the file must hold whole records only
      for (const auto& [line, n] : records_per_line(dir.file("kill.jsonl"))) CHECK(n == 1);
    }
    CHECK(run_shell(cmd + " --resume").exit_code == 0);
    check_complete(dir.file("kill.jsonl"));
  }
  // The signals: a longer run (24 records one at a time), so that each lands mid-run.
  const int long_records = 24;
  dlm_test::write_file(dir.file("long.jsonl"), input_lines(long_records));
  const std::string long_args = "-n 16 --steps 16 --batch-size 1 --sync-every 0 -i " + dir.file("long.jsonl");
  REQUIRE(run_shell(dlm_batch(long_args + " -o " + dir.file("long-ref.jsonl"))).exit_code == 0);
  const auto long_reference = tokens_by_id(dir.file("long-ref.jsonl"));
  for (const char* signal : {"TERM", "INT", "HUP"}) {
    INFO("SIG" << signal);
    const std::string out = dir.file(std::string("sig-") + signal + ".jsonl");
    const std::string cmd = dlm_batch(long_args + " -o " + out);
    // The signal once the first record is out (so dlm's handlers are in: under load, a fixed
    // delay could land while libtorch is still loading, before main).
    const auto r = run_shell(cmd + " & pid=$!; while kill -0 $pid 2>/dev/null && [ ! -s " +
                             dlm_test::shell_quote(out) + " ]; do sleep 0.1; done; kill -" +
                             std::string(signal) + " $pid 2>/dev/null; wait $pid");
    CHECK((r.exit_code == 130 || r.exit_code == 0));  // 0: it finished before the signal
    for (const auto& [line, n] : records_per_line(out)) CHECK(n == 1);
    CHECK(run_shell(cmd + " --resume").exit_code == 0);
    const auto counts = records_per_line(out);
    CHECK(counts.size() == static_cast<std::size_t>(long_records));
    for (const auto& [line, n] : counts) CHECK(n == 1);
    CHECK(tokens_by_id(out) == long_reference);
  }

  // A torn last line (a crash mid-write) is repaired on resume and its record redone.
  const std::string cmd = dlm_batch(args + " -o " + dir.file("kill.jsonl"));
  const std::string whole = dlm_test::read_file(dir.file("kill.jsonl"));
  const std::size_t last_start = whole.rfind('\n', whole.size() - 2) + 1;
  dlm_test::write_file(dir.file("kill.jsonl"), whole.substr(0, last_start + 10));
  std::string loud = cmd;
  loud.replace(loud.find(" -q "), 4, " ");  // the repair is reported as a warning
  const auto repaired = run_shell(loud + " --resume");
  CHECK(repaired.exit_code == 0);
  CHECK_THAT(repaired.err, Catch::Matchers::Contains("torn last line"));
  check_complete(dir.file("kill.jsonl"));
}

TEST_CASE("dlm batch on a full disk stops with one line and resumes afterwards", "[batch][cli]") {
  TempDir dir;
  const int records = 6;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(records));
  const std::string out = dir.file("out.jsonl");
  const std::string cmd = dlm_batch("-n 8 --steps 8 --batch-size 2 -i " + dir.file("in.jsonl") + " -o " + out);
  // Room for about one and a half records: the second write is cut short mid-line.
  // Appended to LD_PRELOAD: a sanitizer run (scripts/sanitize.sh) preloads its own shim.
  const auto full = run_shell("DLM_FAULT_FILE=" + out + " DLM_FAULT_BYTES=700 LD_PRELOAD=\"${LD_PRELOAD:+$LD_PRELOAD:}" +
                              std::string(DLM_FAULT_ENOSPC) + "\" " + cmd);
  CHECK(full.exit_code == 1);
  CHECK_THAT(full.err, Catch::Matchers::Contains("No space left on device"));
  CHECK_THAT(full.err, Catch::Matchers::Contains("--resume"));
  CHECK(std::count(full.err.begin(), full.err.end(), '\n') == 1);
  const std::string torn = dlm_test::read_file(out);
  CHECK(torn.size() == 700);
  CHECK(torn.back() != '\n');
  // Room again: --resume drops the torn line and completes every record exactly once.
  const auto resumed = run_shell(cmd + " --resume");
  CHECK(resumed.exit_code == 0);
  const auto counts = records_per_line(out);
  CHECK(counts.size() == static_cast<std::size_t>(records));
  for (const auto& [line, n] : counts) CHECK(n == 1);
}

TEST_CASE("dlm batch --resume refuses an input whose id-less lines changed", "[batch][cli]") {
  TempDir dir;
  const std::string in = dir.file("in.jsonl"), out = dir.file("out.jsonl");
  const std::string original =
      "{\"prompt\":\"In the beginning\"}\n{\"prompt\":\"Blessed are the\"}\n";
  dlm_test::write_file(in, original);
  const std::string cmd = dlm_batch("-n 4 --steps 4 -i " + in + " -o " + out);
  REQUIRE(run_shell(cmd).exit_code == 0);
  for (const auto& [id, tokens] : tokens_by_id(out)) CHECK(id.rfind("line-", 0) == 0);
  {
    std::istringstream lines(dlm_test::read_file(out));
    for (std::string line; std::getline(lines, line);) {
      const json j = json::parse(line);
      CHECK(j.at("input_hash").get<std::string>().size() == 16);
    }
  }
  // A line inserted at the top: line 1 is another prompt now.
  dlm_test::write_file(in, "{\"prompt\":\"Praise ye the LORD.\"}\n" + original);
  auto r = run_shell(cmd + " --resume");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("input line 1 differs"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("--overwrite"));
  // A prompt edited in place.
  dlm_test::write_file(in, "{\"prompt\":\"In the beginning\"}\n{\"prompt\":\"Blessed be the\"}\n");
  r = run_shell(cmd + " --resume");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("input line 2 differs"));
  CHECK(records_per_line(out).size() == 2);  // nothing mixed in
  // The input restored: nothing to do; appended lines run.
  dlm_test::write_file(in, original + "{\"prompt\":\"Praise ye the LORD.\"}\n");
  r = run_shell(cmd + " --resume");
  CHECK(r.exit_code == 0);
  CHECK(records_per_line(out).size() == 3);
  // -i X -o X --resume stays refused.
  CHECK(run_shell(dlm_batch("-n 4 --steps 4 --resume -i " + in + " -o " + in)).exit_code == 2);
}

TEST_CASE("Ctrl-C stops dlm batch cleanly and says how to resume", "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(40));
  const auto r = run_shell("timeout --preserve-status -s INT 4 " + dlm_batch("-n 32 --steps 32 --batch-size 2 -i " +
                                                           dir.file("in.jsonl") + " -o " +
                                                           dir.file("out.jsonl")));
  CHECK(r.exit_code == 130);
  CHECK_THAT(r.err, Catch::Matchers::Contains("--resume"));
  for (const auto& [line, n] : records_per_line(dir.file("out.jsonl"))) CHECK(n == 1);
}

TEST_CASE("dlm batch caches per row and keeps within --max-memory", "[batch][cli][cache]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(6));
  const auto tokens_of = [&](const std::string& args) {
    const auto out = dir.file("out.jsonl");
    const auto r = run_shell(dlm_batch("-n 16 --steps 16 --block-length 8 --overwrite -i " +
                                       dir.file("in.jsonl") + " -o " + out + " " + args));
    REQUIRE(r.exit_code == 0);
    std::map<std::string, json> by_id;
    std::istringstream in(dlm_test::read_file(out));
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line);
      by_id[j["id"]] = j["token_ids"];
      CHECK(j["cache"]["mode"] == (args.find("prefix") != std::string::npos ? "prefix" : "dual"));
    }
    CHECK(by_id.size() == 6);
    return by_id;
  };
  // Batches of 6 and of 1 give the same tokens, for both cache modes; a memory limit that
  // fits the weights and about one row's cache, logits and activations (1.9 MiB) splits the
  // batches the same way.
  for (const std::string mode : {"dual", "prefix"}) {
    INFO(mode);
    const auto together = tokens_of("--cache " + mode + " --batch-size 6");
    CHECK(tokens_of("--cache " + mode + " --batch-size 1") == together);
    CHECK(tokens_of("--cache " + mode + " --batch-size 6 --max-memory 25M") == together);
  }
  // A limit below the weights fails every record, naming the size needed.
  const auto r = run_shell(dlm_batch("-n 16 --steps 16 --overwrite --max-memory 1M -i " +
                                     dir.file("in.jsonl") + " -o " + dir.file("out.jsonl")));
  CHECK(r.exit_code == 3);
  CHECK_THAT(dlm_test::read_file(dir.file("out.jsonl")), Catch::Matchers::Contains("needs about"));
}

namespace {

// `dlm batch` with its logging (warnings, the summary) on stderr.
std::string dlm_batch_loud(const std::string& args) {
  return std::string(DLM_EXECUTABLE) + " batch -t 1 " + args + " </dev/null";
}

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("dlm batch refuses an output that is its input, also through a symlink", "[batch][cli]") {
  TempDir dir;
  const std::string in = dir.file("in.jsonl");
  dlm_test::write_file(in, input_lines(2));
  std::filesystem::create_symlink(in, dir.file("link.jsonl"));
  std::filesystem::create_hard_link(in, dir.file("hard.jsonl"));
  for (const std::string out : {in, dir.file("link.jsonl"), dir.file("hard.jsonl")}) {
    for (const std::string mode : {"--overwrite", "--resume", ""}) {
      INFO(out << " " << mode);
      const auto r = run_shell(dlm_batch("-n 8 --steps 8 " + mode + " -i " + in + " -o " + out));
      CHECK(r.exit_code == 2);
      CHECK(lines_in(r.err) == 1);
      CHECK_THAT(r.err, Catch::Matchers::Contains("is the input file"));
      CHECK(dlm_test::read_file(in) == input_lines(2));
    }
  }
}

TEST_CASE("dlm batch started with --overwrite resumes as its interruption message says",
          "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(40));
  dlm_test::write_file(dir.file("out.jsonl"), "{\"id\": \"old\", \"line\": 1}\n");
  const std::string args = "-n 32 --steps 32 --batch-size 2 -i " + dir.file("in.jsonl") + " -o " +
                           dir.file("out.jsonl");
  const auto r = run_shell("timeout --preserve-status -s INT 4 " + dlm_batch(args + " --overwrite"));
  REQUIRE(r.exit_code == 130);
  CHECK_THAT(r.err, Catch::Matchers::Contains("with --resume in place of --overwrite"));
  CHECK(dlm_test::read_file(dir.file("out.jsonl")).find("\"old\"") == std::string::npos);
  const auto resumed = run_shell(dlm_batch(args + " --resume"));
  INFO(resumed.err);
  CHECK(resumed.exit_code == 0);
  const auto counts = records_per_line(dir.file("out.jsonl"));
  CHECK(counts.size() == 40);
  for (const auto& [line, n] : counts) CHECK(n == 1);
}

TEST_CASE("dlm batch --resume refuses other run-level settings, kept in OUT.settings.json",
          "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(2));
  const std::string args = "-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " + dir.file("out.jsonl");
  REQUIRE(run_shell(dlm_batch(args)).exit_code == 0);
  const json settings = json::parse(dlm_test::read_file(dir.file("out.jsonl.settings.json")));
  CHECK(settings.at("--temperature") == "0");
  CHECK(settings.at("--max-new-tokens") == "8");
  CHECK(settings.contains("--model"));
  CHECK(settings.at("--shard") == "0/1");
  // The output keeps its format: records only.
  std::istringstream out(dlm_test::read_file(dir.file("out.jsonl")));
  for (std::string line; std::getline(out, line);) CHECK(json::parse(line).contains("token_ids"));

  const auto other = run_shell(dlm_batch(args + " --resume --temperature 0.5"));
  CHECK(other.exit_code == 2);
  CHECK(lines_in(other.err) == 1);
  CHECK_THAT(other.err, Catch::Matchers::Contains("--temperature 0, this run has --temperature 0.5"));
  CHECK_THAT(other.err, Catch::Matchers::Contains("out.jsonl.settings.json"));
  CHECK(run_shell(dlm_batch(args + " --resume --seed 3")).exit_code == 2);
  // --dtype changes the arithmetic, so it is a run-level setting (auto when not given).
  CHECK(settings.at("--dtype") == "auto");
  const auto dtype = run_shell(dlm_batch(args + " --resume --dtype bf16"));
  CHECK(dtype.exit_code == 2);
  CHECK_THAT(dtype.err, Catch::Matchers::Contains("--dtype auto, this run has --dtype bfloat16"));
  // Settings that do not change records may differ.
  CHECK(run_shell(dlm_batch(args + " --resume --batch-size 1 --max-memory 2G")).exit_code == 0);
  CHECK(records_per_line(dir.file("out.jsonl")).size() == 2);

  // The library check: nothing stored passes; a difference names the setting.
  dlm::RunSettings s{{"--steps", "8"}};
  dlm_test::write_file(dir.file("lib.jsonl"), "{}\n");
  dlm::check_resume_settings(dir.file("lib.jsonl"), s);
  dlm::write_settings(dir.file("lib.jsonl"), s);
  dlm::check_resume_settings(dir.file("lib.jsonl"), s);
  s["--steps"] = "16";
  dlm_test::require_usage_error([&] { dlm::check_resume_settings(dir.file("lib.jsonl"), s); },
                                {"--steps 8", "--steps 16"});
}

TEST_CASE("dlm batch --retry-failed reruns the records whose output was an error", "[batch][cli]") {
  TempDir dir;
  const std::string bad = R"({"id": "fix-me", "prompt": "In the beginning", "max_tokens": 100000})";
  const std::string good = R"({"id": "fix-me", "prompt": "In the beginning", "max_tokens": 8})";
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(2) + bad + "\n");
  const std::string args = "-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " + dir.file("out.jsonl");
  const auto first = run_shell(dlm_batch(args));
  CHECK(first.exit_code == 3);
  CHECK_THAT(dlm_test::read_file(dir.file("out.jsonl")),
             Catch::Matchers::Contains("-n 100000 exceeds the model's maximum sequence length 512"));
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(2) + good + "\n");
  // Plain --resume keeps the error record; --retry-failed needs --resume.
  CHECK(run_shell(dlm_batch(args + " --resume")).exit_code == 0);
  CHECK(run_shell(dlm_batch(args + " --retry-failed")).exit_code == 2);
  const auto retried = run_shell(dlm_batch_loud(args + " --resume --retry-failed"));
  INFO(retried.err);
  CHECK(retried.exit_code == 0);
  CHECK_THAT(retried.err, Catch::Matchers::Contains("1 done, 0 failed, 2 skipped"));
  std::istringstream in(dlm_test::read_file(dir.file("out.jsonl")));
  std::map<std::int64_t, int> per_line;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    ++per_line[j.at("line").get<std::int64_t>()];
    CHECK(j.at("finish_reason") != "error");
  }
  CHECK(per_line == std::map<std::int64_t, int>{{1, 1}, {2, 1}, {3, 1}});
  CHECK_FALSE(std::filesystem::exists(dir.file("out.jsonl.tmp")));

  // The library: error records dropped (with a torn tail), the rest kept and counted done.
  const std::string path = dir.file("lib.jsonl");
  dlm_test::write_file(path, "{\"id\":\"a\",\"line\":1,\"finish_reason\":\"stop\"}\n"
                             "{\"id\":\"b\",\"line\":2,\"finish_reason\":\"error\",\"error\":\"x\"}\n"
                             "not ours\n{\"id\":\"c\",\"li");
  {
    dlm::JsonlOutput out(path, true, false, 1.0, true);
    CHECK(out.dropped_errors() == 1);
    CHECK(out.done_ids() == std::set<std::string>{"a"});
    CHECK(out.done_lines() == std::set<std::int64_t>{1});
    out.append("{\"id\":\"b\",\"line\":2}");
  }
  CHECK(dlm_test::read_file(path) ==
        "{\"id\":\"a\",\"line\":1,\"finish_reason\":\"stop\"}\nnot ours\n{\"id\":\"b\",\"line\":2}\n");
}

TEST_CASE("dlm batch shows the first failures, names unknown fields' lines, warns on empty input",
          "[batch][cli]") {
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"),
                       "{\"id\": \"ok\", \"prompt\": \"In the beginning\", \"colour\": 1}\n"
                       "bad 2\nbad 3\n{\"prompt\": \"x\", \"colour\": 2}\nbad 5\nbad 6\n");
  const auto r = run_shell(dlm_batch_loud("-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " +
                                          dir.file("out.jsonl")));
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Matchers::Contains("line 2: malformed JSON"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("line 3: malformed JSON"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("line 5: malformed JSON"));
  CHECK(r.err.find("line 6: malformed") == std::string::npos);
  CHECK_THAT(r.err, Catch::Matchers::Contains("1 more records failed"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("unknown field \"colour\" ignored (line 1 and 1 more)"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("batch: 2 done, 4 failed, 0 skipped (already in the output) of 6"));

  for (const auto& [content, needle] : std::vector<std::pair<std::string, std::string>>{
           {"", "is empty"}, {"\n  \n", "has only blank lines"}}) {
    dlm_test::write_file(dir.file("empty.jsonl"), content);
    const auto e = run_shell(dlm_batch_loud("-n 8 --steps 8 --overwrite -i " + dir.file("empty.jsonl") +
                                            " -o " + dir.file("empty-out.jsonl")));
    INFO(e.err);
    CHECK(e.exit_code == 0);
    CHECK_THAT(e.err, Catch::Matchers::Contains(needle));
  }
}

TEST_CASE("dlm batch's progress line and summary count the same records", "[batch][cli]") {
  dlm::BatchCounts counts;
  counts.total = 10;
  counts.done = 5;
  counts.failed = 1;
  counts.skipped = 2;
  CHECK_THAT(dlm::progress_line(counts, 12.5, 3), Catch::Matchers::StartsWith("\r8/10 records (1 failed)"));
  CHECK_THAT(dlm::summary_line(counts, 100, 2),
             Catch::Matchers::StartsWith("batch: 5 done, 1 failed, 2 skipped (already in the output) of 10"));

  // Through a terminal (script(1) gives stderr one), with records skipped and failed.
  if (std::system("script -qec true /dev/null >/dev/null 2>&1 </dev/null") != 0) {
    WARN("script(1) is not available: the terminal progress line is not checked");
    return;
  }
  TempDir dir;
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(3));
  const std::string args = "-n 8 --steps 8 -i " + dir.file("in.jsonl") + " -o " + dir.file("out.jsonl");
  REQUIRE(run_shell(dlm_batch(args)).exit_code == 0);
  dlm_test::write_file(dir.file("in.jsonl"), input_lines(5) + "not json\n");
  const auto r = run_shell("script -qec " + dlm_test::shell_quote(dlm_batch_loud(args + " --resume")) +
                           " /dev/null");
  INFO(r.out);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Matchers::Contains("\r6/6 records (1 failed)"));
  CHECK_THAT(r.out, Catch::Matchers::Contains("batch: 2 done, 1 failed, 3 skipped (already in the output) of 6"));
}

TEST_CASE("scripts/dlm_batch.sbatch finds dlm when Slurm runs its spooled copy", "[batch][cli]") {
  TempDir dir;
  // Slurm copies the script to its spool directory and runs it from the submit directory.
  std::filesystem::create_directories(dir.file("spool"));
  std::filesystem::copy_file(std::string(DLM_SOURCE_DIR) + "/scripts/dlm_batch.sbatch",
                             dir.file("spool/slurm_script"));
  std::filesystem::create_directories(dir.file("submit/build"));
  std::filesystem::create_symlink(DLM_EXECUTABLE, dir.file("submit/build/dlm"));
  dlm_test::write_file(dir.file("submit/in.jsonl"), input_lines(2));
  const std::string env = "env -u DLM PATH=/usr/bin:/bin SLURM_SUBMIT_DIR=" +
                          dlm_test::shell_quote(dir.file("submit")) +
                          " SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=1 "
                          "SLURM_ARRAY_TASK_STEP=1 SLURM_CPUS_PER_TASK=1 IN=in.jsonl OUT_DIR=out";
  const auto r = run_shell("cd " + dlm_test::shell_quote(dir.file("submit")) + " && " + env +
                           " bash " + dlm_test::shell_quote(dir.file("spool/slurm_script")) +
                           " -q -n 8 --steps 8 </dev/null");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(records_per_line(dir.file("submit/out/shard-0.jsonl")).size() == 2);

  // DLM set at submission: an absolute path from anywhere, a relative one from the submit
  // directory (the spooled copy runs elsewhere); a DLM that is not an executable says so.
  const std::string elsewhere = dlm_test::shell_quote(dir.file("spool"));
  const std::string task = " SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=1 "
                           "SLURM_ARRAY_TASK_STEP=1 IN=" + dlm_test::shell_quote(dir.file("submit/in.jsonl")) +
                           " OUT_DIR=" + dlm_test::shell_quote(dir.file("submit/out2")) + " bash slurm_script -q -n 8 </dev/null";
  const auto absolute = run_shell("cd " + elsewhere + " && env -u SLURM_SUBMIT_DIR PATH=/usr/bin:/bin DLM=" +
                                  dlm_test::shell_quote(DLM_EXECUTABLE) + task);
  INFO(absolute.err);
  CHECK(absolute.exit_code == 0);
  CHECK(records_per_line(dir.file("submit/out2/shard-0.jsonl")).size() == 2);
  const auto relative = run_shell("cd " + elsewhere + " && env PATH=/usr/bin:/bin DLM=build/dlm SLURM_SUBMIT_DIR=" +
                                  dlm_test::shell_quote(dir.file("submit")) + task);
  INFO(relative.err);
  CHECK(relative.exit_code == 0);
  const auto wrong = run_shell("cd " + elsewhere + " && env PATH=/usr/bin:/bin DLM=/nonexistent/dlm" + task);
  CHECK(wrong.exit_code == 2);
  CHECK_THAT(wrong.err, Catch::Matchers::Contains("DLM=/nonexistent/dlm is not an executable"));

  // Nowhere to find it: one line saying how to point at it.
  const auto lost = run_shell("cd " + dlm_test::shell_quote(dir.path().string()) +
                              " && env -u DLM -u SLURM_SUBMIT_DIR PATH=/usr/bin:/bin IN=x bash " +
                              dlm_test::shell_quote(dir.file("spool/slurm_script")) + " </dev/null");
  CHECK(lost.exit_code == 2);
  CHECK_THAT(lost.err, Catch::Matchers::Contains("DLM=/absolute/path/to/dlm"));
}

TEST_CASE("the README's example batch input and prompt file are valid", "[batch]") {
  const std::string dir = std::string(DLM_SOURCE_DIR) + "/scripts/data/examples/";
  std::istringstream in(dlm_test::read_file(dir + "prompts.jsonl"));
  int records = 0;
  for (std::string line; std::getline(in, line);) {
    std::set<std::string> unknown;
    const auto r = parse(line, &unknown);
    INFO(line);
    CHECK(r.error.empty());
    CHECK(unknown.empty());
    CHECK(!r.prompt.empty());
    ++records;
  }
  CHECK(records == 4);
  CHECK(!dlm_test::read_file(dir + "prompt.txt").empty());
}
