#include "eval/sweep_report.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "dlm/io/safe_file.h"
#include "dlm/error.h"
#include "dlm/io/shell.h"
#include "dlm/model/model_paths.h"

namespace fs = std::filesystem;

namespace dlm {
namespace {

Json optional_number(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? Json(*v) : Json(nullptr);
}

Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// Columns of sweep.csv, in order; every one is a field of the cell record.
const std::vector<std::string> kCsvColumns{
    "id", "status", "reason", "steps", "block_length", "algorithm", "threshold", "factor",
    "alg_temp", "eb_gamma", "suffix_window", "edit_threshold", "cache", "elastic_gamma", "prompts", "repeats", "max_new_tokens", "tokens_per_s",
    "latency_ms_p50", "latency_ms_p95", "nfe_per_prompt", "tokens_per_forward", "peak_rss_mib",
    "judge_ppl", "judge_tokens", "entropy", "distinct2", "match5", "in_place",
    "completion_tokens", "elapsed_s"};

std::string csv_field(const Json& v) {
  if (v.is_null()) return {};
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  if (v.is_number()) return v.dump();
  const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A number for the Markdown table, or "-" when absent.
std::string md(const Json& record, const char* key, const char* format, double scale = 1.0) {
  if (!record.contains(key) || !record.at(key).is_number()) return "-";
  return fmt::format(format, record.at(key).get<double>() * scale);
}

std::string md_axis(const Json& record, const char* key) {
  if (!record.contains(key)) return "none";  // a record of a sweep before the axis existed
  const Json& v = record.at(key);
  if (v.is_null()) return "none";
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string markdown(const std::vector<Json>& records, const Json& references) {
  bool factor = false, alg_temp = false, eb_gamma = false, suffix_window = false, edit = false;
  const auto set = [](const Json& r, const char* key) {
    return r.contains(key) && !r.at(key).is_null() && r.at(key) != Json(0);
  };
  for (const auto& r : records) {
    factor |= !r.at("factor").is_null();
    alg_temp |= !r.at("alg_temp").is_null();
    eb_gamma |= set(r, "eb_gamma");
    suffix_window |= set(r, "suffix_window");
    edit |= set(r, "edit_threshold");
  }
  std::string head = "| steps | block | algorithm | threshold |";
  std::string rule = "|---|---|---|---|";
  if (factor) head += " factor |", rule += "---|";
  if (alg_temp) head += " alg-temp |", rule += "---|";
  if (eb_gamma) head += " eb-gamma |", rule += "---|";
  if (suffix_window) head += " suffix |", rule += "---|";
  if (edit) head += " edit |", rule += "---|";
  head += " cache | tokens/s | latency p50 ms | latency p95 ms | NFE/prompt | tokens/NFE | "
          "peak MiB | judge ppl | entropy | distinct-2 | match@5 | in-place |";
  rule += "---|---|---|---|---|---|---|---|---|---|---|---|";
  std::string out = head + "\n" + rule + "\n";
  std::vector<std::string> skipped;
  for (const auto& r : records) {
    if (r.at("status") != "done") {
      skipped.push_back(fmt::format("- {}: {}", r.at("id").get<std::string>(),
                                    r.at("reason").get<std::string>()));
      continue;
    }
    const bool parallel = !r.at("threshold").is_null() || !r.at("factor").is_null() ||
                          set(r, "eb_gamma");
    out += fmt::format("| {} | {} | {} | {} |", parallel ? "any" : md_axis(r, "steps"),
                       md_axis(r, "block_length"),
                       md_axis(r, "algorithm"), md_axis(r, "threshold"));
    if (factor) out += fmt::format(" {} |", md_axis(r, "factor"));
    if (alg_temp) out += fmt::format(" {} |", md_axis(r, "alg_temp"));
    if (eb_gamma) out += fmt::format(" {} |", md_axis(r, "eb_gamma"));
    if (suffix_window) out += fmt::format(" {} |", md_axis(r, "suffix_window"));
    if (edit) out += fmt::format(" {} |", md_axis(r, "edit_threshold"));
    out += fmt::format(
        " {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        r.contains("elastic_gamma") && !r.at("elastic_gamma").is_null()
            ? fmt::format("elastic {}", md_axis(r, "elastic_gamma"))
            : md_axis(r, "cache"),
        md(r, "tokens_per_s", "{:.1f}"), md(r, "latency_ms_p50", "{:.0f}"),
        md(r, "latency_ms_p95", "{:.0f}"), md(r, "nfe_per_prompt", "{:.1f}"),
        md(r, "tokens_per_forward", "{:.2f}"), md(r, "peak_rss_mib", "{:.0f}"),
        md(r, "judge_ppl", "{:.2f}"), md(r, "entropy", "{:.3f}"), md(r, "distinct2", "{:.3f}"),
        md(r, "match5", "{:.1f}%", 100.0), md(r, "in_place", "{:.1f}%", 100.0));
  }
  if (references.is_object()) {
    out += fmt::format("\nReference continuations (real held-out text): judge ppl {} over {} "
                       "tokens, entropy {}, distinct-2 {}\n", md(references, "judge_ppl", "{:.2f}"),
                       references.at("judge_tokens").dump(), md(references, "entropy", "{:.3f}"),
                       md(references, "distinct2", "{:.3f}"));
  }
  if (!skipped.empty()) out += "\nSkipped cells:\n" + fmt::format("{}\n", fmt::join(skipped, "\n"));
  return out;
}

std::string plot_script_path() {
  return first_existing(shipped_file_candidates("DLM_PLOT_SCRIPT", "scripts/eval/plot_sweep.py"));
}

}  // namespace

Json quality_record(const QualitySummary& q) {
  Json j;
  j["judge_ppl"] = finite_or_null(q.judge.perplexity());
  j["judge_tokens"] = q.judge.tokens;
  j["judge_nll"] = q.judge.nll;
  j["entropy"] = optional_number(q.entropy);
  j["distinct2"] = optional_number(q.distinct2);
  j["match5"] = optional_number(q.match5);
  j["in_place"] = optional_number(q.in_place);
  j["completion_tokens"] = q.completion_tokens;
  return j;
}

std::vector<Json> sample_records(const SweepCell& cell, const CellResult& result,
                                 const std::vector<SweepPrompt>& prompts,
                                 const std::string& settings_key) {
  std::vector<Json> out;
  for (std::size_t i = 0; i < result.texts.size() && i < prompts.size(); ++i) {
    Json j;
    j["cell"] = cell.id;
    j["settings_key"] = settings_key;
    j["index"] = i;
    j["id"] = prompts[i].id;
    j["prompt"] = prompts[i].prompt;
    j["reference"] = prompts[i].reference ? Json(*prompts[i].reference) : Json(nullptr);
    j["completion"] = result.texts[i];
    j["completion_tokens"] = i < result.token_ids.size() ? result.token_ids[i].size() : 0;
    j["token_ids"] = i < result.token_ids.size() ? Json(result.token_ids[i]) : Json::array();
    if (i < result.quality.each.size()) {
      j["judge_nll"] = result.quality.each[i].nll;
      j["judge_tokens"] = result.quality.each[i].tokens;
    }
    out.push_back(std::move(j));
  }
  return out;
}

Json cell_record(const SweepCell& cell, const CellResult* result, const std::string& settings_key) {
  const GenerateOptions& o = cell.options;
  Json j;
  j["id"] = cell.id;
  j["status"] = result ? "done" : "skipped";
  j["reason"] = result ? Json(nullptr) : Json(cell.skip_reason);
  j["settings_key"] = settings_key;
  j["steps"] = o.steps;
  j["block_length"] = o.block_length;
  j["algorithm"] = to_string(o.algorithm);
  j["threshold"] = optional_number(o.threshold);
  j["factor"] = optional_number(o.factor);
  j["alg_temp"] = o.alg_temp > 0 ? Json(o.alg_temp) : Json(nullptr);
  j["eb_gamma"] = optional_number(o.eb_gamma);
  j["suffix_window"] = o.suffix_window;
  j["edit_threshold"] = optional_number(o.edit_threshold);
  j["cache"] = cell.cache;
  j["elastic_gamma"] = cell.cache == "elastic" ? Json(o.elastic_gamma) : Json(nullptr);
  j["max_new_tokens"] = o.max_new_tokens;
  if (!result) return j;
  j["prompts"] = result->prompts;
  j["repeats"] = result->repeats;
  const SpeedSummary& s = result->speed;
  j["tokens_per_s"] = s.tokens_per_s;
  j["tokens_per_s_repeats"] = s.tokens_per_s_repeats;
  j["latency_ms_p50"] = s.latency_p50_ms;
  j["latency_ms_p95"] = s.latency_p95_ms;
  j["nfe_per_prompt"] = s.nfe_per_prompt;
  j["tokens_per_forward"] = s.tokens_per_forward;
  j["peak_rss_mib"] = optional_number(s.peak_rss_mib);
  j.update(quality_record(result->quality));
  j["elapsed_s"] = result->elapsed_s;
  j["sample"] = result->sample;
  j["token_ids"] = result->token_ids;
  return j;
}

SweepOutput::SweepOutput(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_)) {
    throw UsageError(fmt::format("cannot use output directory '{}': {}; pass -o a writable "
                                 "directory", dir_, ec ? ec.message() : "not a directory"));
  }
  // sweep writes only inside its folder: a symbolic link under one of its file names would
  // send a write (an append to cells.jsonl, the plot, its log) to the link's target.
  for (const char* name : {"cells.jsonl", "samples.jsonl", "sweep.csv", "sweep.json", "sweep.png",
                           "plot.log", "cells.jsonl.tmp", "samples.jsonl.tmp", "sweep.csv.tmp",
                           "sweep.json.tmp"}) {
    if (fs::is_symlink(fs::symlink_status(path(name), ec))) {
      throw UsageError(fmt::format("output directory '{}' holds a symbolic link '{}'; dlm sweep "
                                   "writes only inside its folder: remove the link or pass "
                                   "another -o", dir_, name));
    }
  }
  // A new file (O_EXCL | O_NOFOLLOW: whatever is planted under the name is not followed).
  const std::string probe = path(".dlm-write-probe");
  fs::remove(probe, ec);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw UsageError(fmt::format("output directory '{}' is not writable ({}); pass -o a "
                                 "writable directory", dir_, std::strerror(errno)));
  }
  ::close(fd);
  fs::remove(probe, ec);
}

std::string SweepOutput::path(const std::string& name) const {
  return (fs::path(dir_) / name).string();
}

void SweepOutput::load_finished(const std::string& settings_key) {
  records_.clear();
  const std::string file = path("cells.jsonl");
  std::ifstream in(file, std::ios::binary);
  if (!in) return;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::istringstream lines(text);
  std::string line;
  std::size_t number = 0;
  bool torn = false;
  std::set<std::string> ids;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json record;
    try {
      record = Json::parse(line);
    } catch (const Json::parse_error&) {
      if (lines.peek() == EOF) {  // the last line, cut by an interruption
        torn = true;
        break;
      }
      throw UsageError(fmt::format("{} line {} is not a JSON record; delete that line (its cell "
                                   "will run again) or pass another -o", file, number));
    }
    if (!record.is_object() || !record.contains("id") || record.value("status", "") != "done") {
      continue;
    }
    if (record.value("settings_key", "") != settings_key) {
      throw UsageError(fmt::format(
          "{} holds cells of a sweep with other settings (model, judge, prompts, -n, repeats, "
          "threads or other single-valued options); pass another -o DIR or delete the file",
          file));
    }
    if (ids.insert(record.at("id").get<std::string>()).second) records_.push_back(record);
  }
  if (torn || (!text.empty() && text.back() != '\n')) {
    std::string clean;
    for (const auto& r : records_) clean += r.dump() + "\n";
    write_atomically(file, clean);
  }
  keep_finished_samples();
}

void SweepOutput::keep_finished_samples() const {
  const std::string file = path("samples.jsonl");
  std::ifstream in(file, std::ios::binary);
  if (!in) return;
  std::string kept, line;
  bool dropped = false;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const Json sample = Json::parse(line, nullptr, false);  // a torn line is discarded
    if (!sample.is_discarded() && sample.is_object() && sample.contains("cell") &&
        sample.at("cell").is_string() && finished(sample.at("cell").get<std::string>())) {
      kept += line + "\n";
    } else {
      dropped = true;
    }
  }
  if (dropped || in.bad()) write_atomically(file, kept);
}

bool SweepOutput::finished(const std::string& id) const {
  for (const auto& r : records_) {
    if (r.at("id") == id) return true;
  }
  return false;
}

void SweepOutput::append(const Json& record, const std::vector<Json>& samples) {
  // Opened on the first finished cell, as batch output is: whole lines, synced each time
  // (a cell takes seconds), a torn tail from an interrupted run dropped first.
  if (!cells_) {
    samples_ = std::make_unique<JsonlOutput>(path("samples.jsonl"), true, false, 3600.0);
    cells_ = std::make_unique<JsonlOutput>(path("cells.jsonl"), true, false, 0.0);
  }
  for (const Json& sample : samples) {
    samples_->append(sample.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  samples_->sync();
  cells_->append(record.dump(-1, ' ', false, Json::error_handler_t::replace));
  records_.push_back(record);
}

std::string SweepOutput::write_summary(const std::vector<SweepCell>& grid, Json meta,
                                       const std::optional<QualitySummary>& references) const {
  std::vector<Json> cells;
  std::set<std::string> listed;
  const auto record_of = [&](const std::string& id) -> const Json* {
    for (const auto& r : records_) {
      if (r.at("id") == id) return &r;
    }
    return nullptr;
  };
  for (const SweepCell& cell : grid) {
    if (!listed.insert(cell.id).second) continue;
    if (cell.skipped()) {
      cells.push_back(cell_record(cell, nullptr, meta.value("settings_key", "")));
    } else if (const Json* r = record_of(cell.id)) {
      cells.push_back(*r);
    }
  }
  for (const auto& r : records_) {
    if (listed.insert(r.at("id").get<std::string>()).second) cells.push_back(r);
  }

  std::string csv = fmt::format("{}\n", fmt::join(kCsvColumns, ","));
  for (const auto& r : cells) {
    std::vector<std::string> row;
    for (const auto& column : kCsvColumns) {
      row.push_back(csv_field(r.contains(column) ? r.at(column) : Json(nullptr)));
    }
    csv += fmt::format("{}\n", fmt::join(row, ","));
  }
  write_atomically(path("sweep.csv"), csv);

  const Json refs = references ? quality_record(*references) : Json(nullptr);
  meta["references"] = refs;
  meta["cells"] = cells;
  write_atomically(path("sweep.json"),
                   meta.dump(1, ' ', false, Json::error_handler_t::replace) + "\n");
  return markdown(cells, refs);
}

std::string SweepOutput::plot(const std::string& python) const {
  const std::string script = plot_script_path();
  if (script.empty()) return "scripts/eval/plot_sweep.py was not found (set DLM_PLOT_SCRIPT)";
  const std::string log = path("plot.log");
  const std::string command =
      fmt::format("MPLBACKEND=Agg {} {} {} {} >{} 2>&1 </dev/null", shell_quote(python),
                  shell_quote(script), shell_quote(path("sweep.json")),
                  shell_quote(path("sweep.png")), shell_quote(log));
  const int status = std::system(command.c_str());
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    std::error_code ec;
    fs::remove(log, ec);
    return {};
  }
  const int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return fmt::format("{} {} failed (exit {}; see {})", python, script, code, log);
}

}  // namespace dlm
