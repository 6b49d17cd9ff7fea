// libFuzzer target: `dlm batch --resume` on an arbitrary existing output file. Opening it
// must repair it (drop a torn last line; with --retry-failed, remove error records) and
// report the records there, or refuse with a one-line UsageError; what stays in the file
// is whole lines, and a second open finds nothing more to repair.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "dlm/io/batch_output.h"
#include "dlm/io/jsonl_output.h"
#include "fuzz_contract.h"

namespace {

const std::string& output_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/dlm-fuzz-resume-" +
           std::to_string(::getpid()) + ".jsonl";
  }();
  return path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dlm::fuzz::require;
  if (size == 0) return 0;
  const bool drop_errors = data[0] & 1;
  const std::string content(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string& path = output_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  dlm::fuzz::expect_usage_error_or_success([&] {
    {
      // dlm batch's reader: its own lines and OpenAI Batch output lines.
      dlm::JsonlOutput out(path, /*resume=*/true, /*overwrite=*/false, 3600.0, drop_errors,
                           dlm::read_batch_output_key);
      const std::string kept = read_all(path);
      require(kept.empty() || kept.back() == '\n', "a torn last line survived the repair");
      require(kept.size() + out.repaired_bytes() <= content.size(), "repair grew the file");
      if (!drop_errors) require(content.compare(0, kept.size(), kept) == 0, "repair changed whole lines");
      out.append("{\"id\":\"fuzz\",\"line\":1}");
    }
    dlm::JsonlOutput again(path, true, false, 3600.0, false, dlm::read_batch_output_key);
    require(again.repaired_bytes() == 0, "a repaired file needed another repair");
    require(again.done_ids().count("fuzz") == 1, "an appended record was not found again");
  });
  std::remove(path.c_str());
  std::remove((path + ".tmp").c_str());
  return 0;
}
