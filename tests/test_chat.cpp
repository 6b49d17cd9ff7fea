// Chat on the command line: `dlm generate --chat`, and `dlm chat` with piped input on the
// shipped model (no chat format: turns are plain prompt and continuation).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using dlm_test::run_shell;
using dlm_test::shell_quote;
using nlohmann::json;

std::string dlm_command(const std::string& args) { return std::string(DLM_EXECUTABLE) + " " + args; }

// `dlm chat ARGS` fed `input` on stdin.
dlm_test::CliResult chat(const std::string& input, const std::string& args) {
  return run_shell("printf '%s' " + shell_quote(input) + " | " + dlm_command("chat -t 1 " + args));
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The prompts `dlm chat -v` rendered (logged as JSON strings), in order.
std::vector<std::string> prompts(const std::string& err) {
  std::vector<std::string> out;
  const std::string mark = "prompt: ";
  for (const auto& line : lines(err)) {
    const auto at = line.find(mark);
    if (at != std::string::npos) out.push_back(json::parse(line.substr(at + mark.size())).get<std::string>());
  }
  return out;
}

// The shipped model with chat format chatml, chat_system "Be brief." and "," as its end of
// turn (tests/python/chat_checkpoint.py), written once per process.
const std::string& chatml_model() {
  static dlm_test::TempDir dir;
  static const std::string path = [] {
    const std::string out = dir.file("chatml.pt");
    const auto r = run_shell("/usr/bin/python3 " + shell_quote(std::string(DLM_SOURCE_DIR) + "/tests/python/chat_checkpoint.py") +
                             " " + shell_quote(dlm_test::shipped_model_path()) + " " + shell_quote(out) +
                             " --chat-format chatml --chat-system 'Be brief.' --eot-piece ,");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return out;
  }();
  return path;
}

const std::string kChatmlPrompt =
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAnd God said<|im_end|>\n"
    "<|im_start|>assistant\n";

}  // namespace

TEST_CASE("generate --chat renders the checkpoint's chat format; --system replaces its default",
          "[chat][cli]") {
  const std::string m = " -m " + shell_quote(chatml_model());
  const auto r = run_shell(dlm_command("generate -q -t 1 -n 8 --json --chat -p 'And God said'" + m));
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["prompt"] == kChatmlPrompt);
  const auto s = run_shell(dlm_command("generate -q -t 1 -n 8 --json --chat --system Hi -p 'And God said'" + m));
  REQUIRE(s.exit_code == 0);
  CHECK(json::parse(s.out)["prompt"].get<std::string>().rfind("<|im_start|>system\nHi<|im_end|>\n", 0) == 0);
}

TEST_CASE("End of turn ends the text, token_ids and (--eos stop) the generation", "[chat][cli][eot]") {
  const std::string m = " -m " + shell_quote(chatml_model());
  // The shipped model continues "And God said" with " unto him, Behold, ..."; here "," is eot.
  const auto r = run_shell(dlm_command("generate -q -t 1 -n 16 --json --eos none -p 'And God said'" + m));
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["text"] == " unto him");
  CHECK(j["finish_reason"] == "stop");
  CHECK(j["token_ids"].size() == 2);
  CHECK(j["nfe"] == 16);
  const auto stop = run_shell(dlm_command("generate -q -t 1 -n 16 --json -p 'And God said'" + m));  // stop: the default
  REQUIRE(stop.exit_code == 0);
  CHECK(json::parse(stop.out)["text"] == " unto him");
  CHECK(json::parse(stop.out)["nfe"].get<int>() < 16);
}

TEST_CASE("dlm chat re-renders the whole conversation in the chat format each turn", "[chat][cli]") {
  const auto r = chat("And God said\nAnd Moses said\n", "-v -n 16 -m " + shell_quote(chatml_model()));
  REQUIRE(r.exit_code == 0);
  const auto answers = lines(r.out);
  REQUIRE(answers.size() == 2);
  const auto p = prompts(r.err);
  REQUIRE(p.size() == 2);
  CHECK(p[0] == kChatmlPrompt);
  CHECK(p[1] == kChatmlPrompt + answers[0] + "<|im_end|>\n<|im_start|>user\nAnd Moses said<|im_end|>\n" +
                    "<|im_start|>assistant\n");
}

TEST_CASE("generate --chat on a checkpoint without a chat format uses the prompt as is", "[chat][cli]") {
  const auto plain = run_shell(dlm_command("generate -q -t 1 -n 8 --json -p 'And God said'"));
  const auto wrapped = run_shell(dlm_command("generate -t 1 -n 8 --json --chat -p 'And God said'"));
  REQUIRE(plain.exit_code == 0);
  REQUIRE(wrapped.exit_code == 0);
  CHECK_THAT(wrapped.err, Catch::Matchers::Contains("has no chat format"));
  const json a = json::parse(plain.out), b = json::parse(wrapped.out);
  CHECK_FALSE(a.contains("prompt"));
  CHECK(b["prompt"] == "And God said");  // --json records the rendered prompt
  CHECK(a["token_ids"] == b["token_ids"]);
  CHECK(a["prompt_token_ids"] == b["prompt_token_ids"]);

  const auto system = run_shell(dlm_command("generate -q -t 1 -n 8 --json --chat --system 'Amen.' -p 'And God said'"));
  REQUIRE(system.exit_code == 0);
  CHECK(json::parse(system.out)["prompt"] == "Amen. And God said");
}

TEST_CASE("dlm info names the chat format", "[chat][cli]") {
  const auto r = run_shell(dlm_command("info"));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Matchers::Contains("chat format:  none (plain"));
}

TEST_CASE("generate --system without --chat is a usage error", "[chat][cli][usage]") {
  const auto r = run_shell(dlm_command("generate -t 1 -n 8 --system x -p a"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("add --chat"));
}

TEST_CASE("dlm chat with piped input: one answer line per turn, the conversation carried over",
          "[chat][cli]") {
  const auto r = chat("And God said\nAnd Moses said\n", "-v -n 16");
  REQUIRE(r.exit_code == 0);
  CHECK(lines(r.out).size() == 2);
  const auto p = prompts(r.err);
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "And God said");
  // The second prompt is the first turn, its answer, and the new line.
  CHECK(p[1].rfind("And God said", 0) == 0);
  CHECK(p[1].size() > std::string("And God said And Moses said").size() - 1);
  CHECK(p[1].substr(p[1].size() - 14) == "And Moses said");
  CHECK(p[1].find(lines(r.out)[0]) != std::string::npos);  // the answer, as printed
}

TEST_CASE("dlm chat commands: /reset, /system, /help, unknown ones", "[chat][cli]") {
  const auto r = chat("And God said\n/reset\n/system Amen.\nAnd Moses said\n/system\n/reset\nBlessed\n/help\n",
                      "-v -n 8");
  REQUIRE(r.exit_code == 0);
  CHECK(lines(r.out).size() == 3);
  CHECK(prompts(r.err) == std::vector<std::string>{"And God said", "Amen. And Moses said", "Blessed"});
  CHECK_THAT(r.err, Catch::Matchers::Contains("conversation cleared"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("/reset clears the conversation"));

  const auto unknown = chat("/nope\n", "-n 8");
  CHECK(unknown.exit_code == 3);
  CHECK_THAT(unknown.err, Catch::Matchers::Contains("unknown command '/nope'"));
}

TEST_CASE("dlm chat drops the oldest exchanges that no longer fit, and refuses a turn too long alone",
          "[chat][cli]") {
  // -n 480 leaves 32 prompt tokens of the model's 512; every answer is 480 tokens long.
  const std::string args = "-n 480 --block-length 480 --steps 2 --eos suppress";
  const auto r = chat("And God said\nAnd Moses said\n", args);
  REQUIRE(r.exit_code == 0);
  CHECK(lines(r.out).size() == 2);
  CHECK_THAT(r.err, Catch::Matchers::Contains("exceeds the model's max_seq_len 512: dropped the 1 oldest"));

  std::string long_line;
  for (int i = 0; i < 40; ++i) long_line += "and the LORD ";
  const auto too_long = chat(long_line + "\nAnd God said\n", args);
  CHECK(too_long.exit_code == 3);  // the session goes on; the failed turn sets the exit code
  CHECK(lines(too_long.out).size() == 1);
  CHECK_THAT(too_long.err, Catch::Matchers::Contains("shorten the prompt"));
}

TEST_CASE("Ctrl-C stops the current answer of dlm chat and keeps what was final", "[chat][cli]") {
  // A slow answer (400 uncached steps); SIGINT once its prompt is logged, then stdin ends.
  dlm_test::TempDir dir;
  const std::string err = shell_quote(dir.file("err"));
  const auto r = run_shell(
      "{ echo 'And God said'; } | " +
      dlm_command("chat -t 1 -v -n 400 --block-length 400 --steps 400 --cache none") + " 2>" + err +
      " & pid=$!; for i in $(seq 300); do grep -q 'prompt:' " + err +
      " && break; sleep 0.1; done; sleep 1; kill -INT $pid; wait $pid; echo \"rc=$?\"; cat " + err + " >&2");
  CHECK_THAT(r.out, Catch::Matchers::Contains("rc=0"));
  CHECK_THAT(r.err, Catch::Matchers::Contains("answer stopped; what was final is kept"));
}

TEST_CASE("dlm chat at a terminal: Ctrl-C clears the line or stops the answer, history, Ctrl-D",
          "[chat][cli]") {
  // tests/python/pty_chat.py types into a pseudo-terminal and checks what it shows.
  const auto r = run_shell("/usr/bin/python3 " +
                           shell_quote(std::string(DLM_SOURCE_DIR) + "/tests/python/pty_chat.py") +
                           " " + shell_quote(DLM_EXECUTABLE) +
                           " -t 1 -n 400 --block-length 400 --steps 400 --cache none");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ok\n");
}
