#include "dlm/model_paths.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "dlm/error.h"

namespace fs = std::filesystem;

namespace dlm {
namespace {

std::string first_existing(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c;
  }
  return {};
}

}  // namespace

std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::vector<std::string> default_model_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("DLM_MODEL"); env && *env) out.emplace_back(env);
  const fs::path exe = executable_dir();
  out.push_back((exe / ".." / DLM_INSTALL_DATADIR / "models" / kDefaultModelFile).string());
  out.push_back((exe / ".." / "models" / kDefaultModelFile).string());
  out.push_back((fs::path(DLM_SOURCE_DIR) / "models" / kDefaultModelFile).string());
  return out;
}

std::string default_model_path() {
  const auto candidates = default_model_candidates();
  std::string found = first_existing(candidates);
  if (found.empty()) {
    throw UsageError(fmt::format("the default model {} is not in {}; pass -m PATH to a checkpoint",
                                 kDefaultModelFile, fmt::join(candidates, ", ")));
  }
  return fs::path(found).lexically_normal().string();
}

std::vector<std::string> default_judge_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("DLM_JUDGE"); env && *env) out.emplace_back(env);
  const fs::path exe = executable_dir();
  out.push_back((exe / ".." / DLM_INSTALL_DATADIR / "models" / kDefaultJudgeFile).string());
  out.push_back((exe / ".." / "models" / kDefaultJudgeFile).string());
  out.push_back((fs::path(DLM_SOURCE_DIR) / "models" / kDefaultJudgeFile).string());
  return out;
}

std::string default_judge_path() {
  const auto candidates = default_judge_candidates();
  std::string found = first_existing(candidates);
  if (found.empty()) {
    throw UsageError(fmt::format("the default judge {} is not in {}; pass --judge PATH to a causal "
                                 "judge checkpoint", kDefaultJudgeFile, fmt::join(candidates, ", ")));
  }
  return fs::path(found).lexically_normal().string();
}

std::string spm_module_path() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("DLM_SPM_MODULE"); env && *env) candidates.emplace_back(env);
  const fs::path exe = executable_dir();
  candidates.push_back((exe / "libdlm_spm.so").string());
  candidates.push_back((exe / ".." / "libdlm_spm.so").string());
  candidates.push_back((exe / ".." / DLM_INSTALL_LIBDIR / "libdlm_spm.so").string());
  candidates.push_back((fs::path(DLM_BUILD_DIR) / "libdlm_spm.so").string());
  std::string found = first_existing(candidates);
  if (found.empty()) {
    throw Error(fmt::format("the sentencepiece module libdlm_spm.so is not in {}; rebuild dlm or "
                            "set DLM_SPM_MODULE", fmt::join(candidates, ", ")));
  }
  return found;
}

}  // namespace dlm
