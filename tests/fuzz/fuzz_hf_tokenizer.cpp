// libFuzzer target: a checkpoint's tokenizer.json (the Hugging Face byte-level BPE reader,
// make_tokenizer("hf", ...)). A file either loads, and then encodes and decodes a few
// strings without another exception, or is a one-line UsageError naming the file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dlm/tokenizer/tokenizer.h"
#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  dlm::fuzz::expect_usage_error_or_success([&] {
    const auto tokenizer = dlm::make_tokenizer("hf", bytes, "fuzz/tokenizer.json");
    using dlm::fuzz::require;
    require(tokenizer->size() > 0, "an empty vocabulary loaded");
    for (const char* text : {"", "In the beginning", " \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 x\n\t1234",
                             "\xFF\xFE invalid", "<|endoftext|>"}) {
      for (const std::int64_t id : tokenizer->encode(text)) {
        require(id >= 0 && id < tokenizer->size(), "encode gave an id outside the vocabulary");
        (void)tokenizer->piece_bytes(id);
      }
    }
  });
  return 0;
}
