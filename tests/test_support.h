#pragma once
// Small helpers shared by the test files: the shipped model's path, scratch
// directories, whole-file reads and writes, the UsageError check, and checkpoints loaded
// once per process. No torch here.
#include <stdlib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dlm/error.h"
#include "dlm/io/shell.h"
#include "dlm/model/checkpoint.h"
#include "dlm/sampling/sampler.h"

namespace dlm_test {

inline std::string shipped_model_path() {
  return std::string(DLM_SOURCE_DIR) + "/models/dlm-kjv-tiny.pt";
}

// The checkpoint at `path`, loaded once per process on one thread (ctest runs two tests
// at once) and shared by every test file that asks for it.
inline dlm::Checkpoint& load_once(const std::string& path) {
  static std::map<std::string, std::unique_ptr<dlm::Checkpoint>> loaded;
  auto& slot = loaded[path];
  if (!slot) {
    dlm::configure_runtime({"cpu", 1});
    slot = dlm::Checkpoint::load(path, "cpu");
  }
  return *slot;
}

// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dlm_test_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Runs `action` and requires a dlm::UsageError whose message contains every needle.
template <typename Action>
void require_usage_error(Action&& action, const std::vector<std::string>& needles) {
  try {
    action();
  } catch (const dlm::UsageError& e) {
    for (const auto& needle : needles) CHECK_THAT(e.what(), Catch::Matchers::Contains(needle));
    return;
  }
  FAIL("expected a dlm::UsageError mentioning '" << needles.front() << "'");
}

using dlm::shell_quote;

// Keeps the last canvas the sampler showed: the whole generated span (token ids stop at
// the first eos; this does not).
struct LastCanvas : dlm::GenerationObserver {
  std::vector<std::int64_t> generated;
  void on_step(const dlm::StepEvent& e) override { generated = e.generated; }
};

// What a shell command printed and how it exited.
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line with stdout and stderr captured in files.
inline CliResult run_shell(const std::string& command) {
  TempDir dir;
  const std::string out = dir.file("stdout"), err = dir.file("stderr");
  const int status =
      std::system(("{ " + command + "; } >" + shell_quote(out) + " 2>" + shell_quote(err)).c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

}  // namespace dlm_test
