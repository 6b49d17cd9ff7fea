// libFuzzer target: a checkpoint's config.json (parse_model_config). A valid result obeys
// the format's invariants (README "Checkpoint format v1"); anything else is a one-line
// UsageError naming the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dlm/model/model_config.h"
#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  dlm::fuzz::expect_usage_error_or_success([&] {
    const dlm::ModelConfig c = dlm::parse_model_config(text, "fuzz.pt");
    using dlm::fuzz::require;
    require(c.format_version == 1, "format_version other than 1 accepted");
    require(c.vocab_size > 0, "non-positive vocab_size accepted");
    require(c.max_seq_len > 0, "non-positive max_seq_len accepted");
    for (const std::int64_t id : {c.eos_id, c.pad_id, c.bos_id}) {
      require(id >= 0 && id < c.vocab_size, "special id outside the vocabulary");
    }
    if (!c.causal) require(c.mask_id >= 0 && c.mask_id < c.vocab_size && c.mask_id != c.pad_id,
                           "bad mask id accepted");
    if (c.eot_id) require(*c.eot_id >= 0 && *c.eot_id < c.vocab_size, "eot id outside the vocabulary");
  });
  return 0;
}
