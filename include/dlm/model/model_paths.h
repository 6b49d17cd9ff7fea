#pragma once
// Where dlm finds its own files: the shipped default model and judge, the plot script and
// the sentencepiece module, relative to the executable (build tree or install prefix) or the source tree,
// never the working directory.
#include <string>
#include <vector>

namespace dlm {

// File name of the shipped default checkpoint, under models/.
inline constexpr const char* kDefaultModelFile = "dlm-kjv-tiny.pt";

// Directory of the running executable.
std::string executable_dir();

// Where a file dlm ships (`relative` to the source tree: models/..., scripts/...) may be,
// most specific first: $env_name if set, the install prefix's data directory, the build
// tree's sibling, the source tree.
std::vector<std::string> shipped_file_candidates(const char* env_name, const std::string& relative);
// The first candidate that is a regular file, normalised; "" when none is.
std::string first_existing(const std::vector<std::string>& candidates);

// Candidate paths of the default model, most specific first ($DLM_MODEL first if set).
std::vector<std::string> default_model_candidates();
// The first existing candidate; throws UsageError listing where it looked, or naming
// $DLM_MODEL when it is set to anything but a file.
std::string default_model_path();

// File name of the shipped causal judge (dlm sweep --judge), under models/.
inline constexpr const char* kDefaultJudgeFile = "kjv-judge.pt";
// Candidate paths of the shipped judge, searched like the model's ($DLM_JUDGE first if set).
std::vector<std::string> default_judge_candidates();
// The first existing candidate; throws UsageError listing where it looked, or naming
// $DLM_JUDGE when it is set to anything but a file.
std::string default_judge_path();

// The sentencepiece module's path (beside the executable, in its install prefix, or in the
// build tree for a build-tree binary); throws Error if absent.
std::string spm_module_path();

}  // namespace dlm
