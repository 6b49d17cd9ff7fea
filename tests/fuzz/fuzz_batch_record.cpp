// libFuzzer target: one `dlm batch` input line (flat record or OpenAI Batch envelope).
// parse_batch_record never throws: every problem becomes the record's one-line error.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "dlm/io/batch.h"
#include "dlm/sampling/options.h"
#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const dlm::GenerateOptions defaults;
  std::set<std::string> unknown;
  const dlm::BatchRecord r = dlm::parse_batch_record(text, 7, defaults, 42, unknown);
  dlm::fuzz::require(r.line == 7, "line number changed");
  if (!r.error.empty()) {
    dlm::fuzz::require_one_line(r.error);
    return 0;
  }
  // A record that parsed carries options the model-free checks either accept or refuse
  // with a usage error (never another exception, never undefined behaviour).
  dlm::fuzz::require(r.options.seed <= dlm::kMaxSeed, "seed above 2^53 - 1");
  dlm::fuzz::expect_usage_error_or_success([&] { dlm::check_options(dlm::record_defaults(r.options)); });
  return 0;
}
