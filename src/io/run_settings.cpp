#include "dlm/io/run_settings.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "dlm/io/safe_file.h"

namespace dlm {

std::string settings_path(const std::string& output) { return output + ".settings.json"; }

void write_settings(const std::string& output, const RunSettings& settings) {
  const std::string path = settings_path(output);
  write_atomically(path, nlohmann::json(settings).dump(2) + "\n");
}

void check_resume_settings(const std::string& output, const RunSettings& settings,
                           const RunSettings& implicit) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(output, ec);
  if (ec || size == 0) return;  // nothing to continue: a stale settings file does not matter
  const std::string path = settings_path(output);
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  RunSettings stored;
  try {
    stored = nlohmann::json::parse(in).get<RunSettings>();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("--resume: '{}' is not a settings file ({}); delete it to "
                                 "resume without the check", path, e.what()));
  }
  const auto shown = [](const std::string& value) { return value.empty() ? "''" : value; };
  for (const auto& [name, value] : implicit) stored.emplace(name, value);  // kept where stored
  for (const auto& [name, value] : settings) {
    const auto it = stored.find(name);
    const std::string before = it == stored.end() ? "(not set)" : shown(it->second);
    if (it == stored.end() || it->second != value) {
      throw UsageError(fmt::format("--resume: '{}' was started with {} {}, this run has {} {}; "
                                   "resume with the settings in {}, or write to a new -o",
                                   output, name, before, name, shown(value), path));
    }
  }
}

}  // namespace dlm
