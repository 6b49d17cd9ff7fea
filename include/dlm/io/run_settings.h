#pragma once
// The run-level settings a `dlm batch` output was started with, kept beside it in
// OUT.settings.json (the output's records keep their format), so that --resume refuses
// to continue an output with settings that would change its records.
#include <map>
#include <string>

namespace dlm {

// Setting name ("--temperature", "--model") -> its value as text.
using RunSettings = std::map<std::string, std::string>;

// Where the settings of output `output` are kept: OUT.settings.json.
std::string settings_path(const std::string& output);

// Writes `settings` to settings_path(output) atomically (temp file + rename).
void write_settings(const std::string& output, const RunSettings& settings);

// On resume: throws UsageError naming the first setting that differs from those stored
// for `output`. Nothing stored (an output of an older dlm) or an output that is missing or
// empty passes. A setting the stored file lacks (one an older dlm did not record) counts as
// its value in `implicit`, where it has one: what the older dlm did without it.
void check_resume_settings(const std::string& output, const RunSettings& settings,
                           const RunSettings& implicit = {});

}  // namespace dlm
