#include "dlm/eval/sweep_prompts.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "dlm/io/json_guard.h"

namespace dlm {

std::vector<SweepPrompt> read_prompts(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError(fmt::format("cannot read prompts file '{}': {}; pass -i a JSONL file such "
                                 "as scripts/data/heldout_prompts.jsonl", path,
                                 std::strerror(errno)));
  }
  std::vector<SweepPrompt> prompts;
  std::string line;
  std::size_t number = 0;
  while ((limit == 0 || prompts.size() < limit) && std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto bad = [&](const std::string& what) {
      return UsageError(fmt::format("{} line {}: {}; each line must be a JSON object "
                                    "{{\"prompt\": \"...\", \"reference\": \"...\"}}", path,
                                    number, what));
    };
    if (const auto deep = json_depth_problem(line)) throw bad(*deep);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range (1e999)
      throw bad("not valid JSON");
    }
    if (!j.is_object()) throw bad("not a JSON object");
    if (!j.contains("prompt") || !j.at("prompt").is_string()) throw bad("no \"prompt\" string");
    SweepPrompt p;
    p.prompt = j.at("prompt").get<std::string>();
    if (j.contains("reference") && !j.at("reference").is_null()) {
      if (!j.at("reference").is_string()) throw bad("\"reference\" is not a string");
      p.reference = j.at("reference").get<std::string>();
    }
    if (!j.contains("id") || j.at("id").is_null()) {
      p.id = std::to_string(number);
    } else {
      p.id = j.at("id").is_string() ? j.at("id").get<std::string>() : j.at("id").dump();
    }
    prompts.push_back(std::move(p));
  }
  if (prompts.empty()) {
    throw UsageError(fmt::format("prompts file '{}' holds no prompts; write one JSON object per "
                                 "line with a \"prompt\" field", path));
  }
  return prompts;
}

std::string reference_continuation(const SweepPrompt& p) {
  if (!p.reference || p.reference->empty()) return {};
  const bool space_before = !p.prompt.empty() &&
                            std::isspace(static_cast<unsigned char>(p.prompt.back()));
  const bool space_after = std::isspace(static_cast<unsigned char>(p.reference->front()));
  return (p.prompt.empty() || space_before || space_after ? "" : " ") + *p.reference;
}

}  // namespace dlm
