#include "dlm/model/model_paths.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "dlm/error.h"

namespace fs = std::filesystem;

namespace dlm {

std::string first_existing(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return fs::path(c).lexically_normal().string();
  }
  return {};
}

std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

namespace {

// Whether this executable runs from the build tree it was built in (build/dlm,
// build/tests/dlm_tests). Only then do the compiled-in source and build folders count as
// places to look: an installed binary never reads files from where it was once built
// (a folder in /tmp another user could recreate).
bool in_build_tree() {
  std::error_code ec;
  const fs::path build = fs::weakly_canonical(DLM_BUILD_DIR, ec);
  if (ec) return false;
  const fs::path exe = fs::weakly_canonical(executable_dir(), ec);
  if (ec) return false;
  const auto [b, e] = std::mismatch(build.begin(), build.end(), exe.begin(), exe.end());
  return b == build.end();
}

}  // namespace

std::vector<std::string> shipped_file_candidates(const char* env_name, const std::string& relative) {
  std::vector<std::string> out;
  if (const char* env = std::getenv(env_name); env && *env) out.emplace_back(env);
  const fs::path exe = executable_dir();
  out.push_back((exe / ".." / DLM_INSTALL_DATADIR / relative).string());
  out.push_back((exe / ".." / relative).string());
  if (in_build_tree()) out.push_back((fs::path(DLM_SOURCE_DIR) / relative).string());
  return out;
}

namespace {

// The first existing candidate, or a UsageError naming where it looked and `way_out`.
// `$env_name`, when set, must name a file: a typo there is an error, not a silent fallback
// to the shipped file.
std::string find_shipped(const char* env_name, const std::vector<std::string>& candidates,
                         const char* what, const char* file, const char* way_out) {
  if (const char* env = std::getenv(env_name); env && *env) {
    std::error_code ec;
    if (!fs::is_regular_file(env, ec)) {
      throw UsageError(fmt::format("${} is '{}', which {}; point it at a {} checkpoint, or unset "
                                   "it to use the default {}", env_name, env,
                                   fs::exists(env, ec) ? "is not a file" : "does not exist", what,
                                   file));
    }
  }
  const std::string found = first_existing(candidates);
  if (found.empty()) {
    throw UsageError(fmt::format("the default {} {} is not in {}; {}", what, file,
                                 fmt::join(candidates, ", "), way_out));
  }
  return found;
}

}  // namespace

std::vector<std::string> default_model_candidates() {
  return shipped_file_candidates("DLM_MODEL", std::string("models/") + kDefaultModelFile);
}

std::string default_model_path() {
  return find_shipped("DLM_MODEL", default_model_candidates(), "model", kDefaultModelFile,
                      "pass -m PATH to a checkpoint");
}

std::vector<std::string> default_judge_candidates() {
  return shipped_file_candidates("DLM_JUDGE", std::string("models/") + kDefaultJudgeFile);
}

std::string default_judge_path() {
  return find_shipped("DLM_JUDGE", default_judge_candidates(), "judge", kDefaultJudgeFile,
                      "pass --judge PATH to a causal judge checkpoint");
}

std::string spm_module_path() {
  // Only beside the executable or in its install prefix (no environment variable: it
  // would load any shared library, whose constructors run).
  std::vector<std::string> candidates;
  const fs::path exe = executable_dir();
  candidates.push_back((exe / "libdlm_spm.so").string());
  candidates.push_back((exe / ".." / "libdlm_spm.so").string());
  candidates.push_back((exe / ".." / DLM_INSTALL_LIBDIR / "libdlm_spm.so").string());
  if (in_build_tree()) candidates.push_back((fs::path(DLM_BUILD_DIR) / "libdlm_spm.so").string());
  std::string found = first_existing(candidates);
  if (found.empty()) {
    throw Error(fmt::format("the sentencepiece module libdlm_spm.so is not in {}; rebuild or "
                            "reinstall dlm", fmt::join(candidates, ", ")));
  }
  return found;
}

}  // namespace dlm
