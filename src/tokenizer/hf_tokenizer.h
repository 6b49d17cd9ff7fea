#pragma once
// Tokenizer kind "hf": a reader of Hugging Face tokenizer.json files for byte-level BPE
// (LLaDA, Qwen2/Dream, Llama 3, GPT-2). Built by make_tokenizer("hf", ...).
#include <memory>
#include <string>

#include "dlm/tokenizer/tokenizer.h"

namespace dlm {

// Parses `json_text` (the bytes of tokenizer.json); throws UsageError naming `origin`
// and the component when the file does not parse or uses what kind hf does not support.
std::unique_ptr<Tokenizer> make_hf_tokenizer(const std::string& json_text, const std::string& origin);

}  // namespace dlm
