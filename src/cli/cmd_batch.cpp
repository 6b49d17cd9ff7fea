// `dlm batch`: JSONL in, JSONL out; batched, resumable, one output record per input line.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/input_file.h"
#include "cli/sampling_flags.h"
#include "dlm/io/batch.h"
#include "dlm/io/batch_output.h"
#include "dlm/model/checkpoint.h"
#include "dlm/error.h"
#include "dlm/io/jsonl_output.h"
#include "dlm/io/run_settings.h"
#include "dlm/model/model_paths.h"
#include "dlm/sampling/sampler.h"

namespace dlm::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

struct BatchCommand {
  SamplingFlags flags;
  std::string input;
  std::string output;
  bool resume = false;
  bool overwrite = false;
  bool retry_failed = false;
  std::int64_t batch_size = 16;
  std::int64_t max_batch_tokens = 16384;
  std::string shard;
  std::string output_format = "auto";
  double sync_seconds = 1.0;
  LogOptions log;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    require_readable_file(path, "input", "-i");
    file.open(path, std::ios::binary);
    in = &file;
  }
  // Lines are bounded: /dev/zero or a binary file is one endless "line" that would
  // otherwise take all memory before anything is said.
  constexpr std::size_t kMaxLine = std::size_t{64} << 20;
  std::vector<std::string> lines;
  std::streambuf* buf = in->rdbuf();
  std::string line;
  bool any = false;
  for (int c = buf->sbumpc(); c != std::char_traits<char>::eof(); c = buf->sbumpc()) {
    any = true;
    if (c == '\n') {
      if (g_interrupted.load()) break;  // Ctrl-C while a long input is read: stop here
      lines.push_back(std::move(line));
      line.clear();
      any = false;
      continue;
    }
    line.push_back(static_cast<char>(c));
    if (line.size() > kMaxLine) {
      throw UsageError(fmt::format("input {} line {} is longer than 64 MiB; is it a JSONL file "
                                   "(one JSON object per line)?", path, lines.size() + 1));
    }
  }
  if (any) lines.push_back(std::move(line));
  if (in->bad() || (path != "-" && !file.is_open())) {
    throw Error(fmt::format("cannot read input {}: {}", path, std::strerror(errno)));
  }
  return lines;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// Progress on stderr when it is a terminal: records accounted for (of the same tally as
// the summary), tokens/s, ETA.
class Progress {
 public:
  Progress(const BatchCounts& counts, bool enabled) : counts_(counts), enabled_(enabled) {}
  void record(std::int64_t tokens) {  // a record finished (all its samples)
    ++generated_;
    tokens_ += tokens;
    if (!enabled_) return;
    const double s = seconds();
    const double rate = s > 0 ? tokens_ / s : 0;
    const double eta = s / generated_ * (counts_.total - counts_.accounted());
    std::cerr << progress_line(counts_, rate, eta) << std::flush;
  }
  void end() {
    if (enabled_ && generated_ > 0) std::cerr << "\n";
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  std::int64_t tokens() const { return tokens_; }

 private:
  const BatchCounts& counts_;
  bool enabled_;
  std::size_t generated_ = 0;
  std::int64_t tokens_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Refuses an output that is the input (also through a symlink or a hard link): opening it
// would truncate or append to what is being read.
void require_distinct_files(const std::string& input, const std::string& output) {
  if (input == "-" || output == "-") return;
  std::error_code ec;
  if (std::filesystem::equivalent(input, output, ec)) {
    throw UsageError(fmt::format("-o '{}' is the input file -i '{}'; write the output to "
                                 "another file", output, input));
  }
}

// A record without an id is known in the output by its line ("line-N"): when that line's
// text changed since the output was written (a line inserted above it, a prompt edited),
// skipping or rerunning by line number would mix two inputs, so --resume refuses.
void require_unchanged_line(const JsonlOutput& out, const BatchRecord& r, const BatchCommand& c) {
  const auto it = out.done_hashes().find(r.id);
  if (it == out.done_hashes().end() || it->second == r.input_hash) return;
  throw UsageError(fmt::format(
      "--resume: input line {} differs from the line {} was written from (its record has no id, "
      "so records are matched by line); restore the input, add --retry-failed if that record "
      "was an error you fixed, or pass --overwrite in place of --resume to start again", r.line,
      c.output));
}

// The output format: --output-format (CLI11 has checked the name), where "auto" is OpenAI's
// when the input is an OpenAI Batch file (every line that is a JSON object has the
// envelope's "body"), dlm's otherwise (a file that mixes flat records in is dlm's extension
// of the format).
OutputFormat output_format(const std::string& name, const std::vector<BatchRecord>& records) {
  if (name == "openai") return OutputFormat::kOpenAI;
  if (name == "dlm") return OutputFormat::kDlm;
  // A line that is not a JSON object (error code invalid_json) says nothing either way.
  const auto object = [](const BatchRecord& r) { return r.error_code != "invalid_json"; };
  const bool any = std::any_of(records.begin(), records.end(), object);
  const bool all = std::all_of(records.begin(), records.end(),
                               [&](const BatchRecord& r) { return r.envelope || !object(r); });
  return any && all ? OutputFormat::kOpenAI : OutputFormat::kDlm;
}

// The model's name in OpenAI output bodies: the checkpoint's file stem (its folder's name
// for a model folder).
std::string model_name(const std::string& model) {
  std::filesystem::path p(model);
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) ? p.filename().string() : p.stem().string();
}

// How many error reasons are shown on stderr; the rest are only in the output.
constexpr std::size_t kShownFailures = 3;

int run(BatchCommand& c, CLI::App& cmd) {
  std::signal(SIGINT, on_interrupt);  // from the start: a Ctrl-C during loading is clean too
  std::signal(SIGTERM, on_interrupt);
  std::signal(SIGHUP, on_interrupt);  // the terminal went away (ssh dropped): stop as cleanly
  resolve_sampling_flags(cmd, c.flags);
  // Without --steps, each record's steps follow its own length (record_defaults takes the
  // smaller of this and the record's max_new_tokens).
  if (!steps_given(c.flags)) c.flags.options.steps = std::numeric_limits<std::int64_t>::max();
  // Usage errors come out before the model loads: the run's defaults as a record without
  // settings runs with them (records that set options are checked once the model is in).
  const std::string model = model_path(c.flags);
  check_before_load(record_defaults(c.flags.options), model);
  apply_log_options(c.log);
  if (c.batch_size < 1) throw UsageError(fmt::format("--batch-size {} must be >= 1; try 16", c.batch_size));
  if (c.max_batch_tokens < 1) {
    throw UsageError(fmt::format("--max-batch-tokens {} must be >= 1", c.max_batch_tokens));
  }
  if (c.resume && c.overwrite) throw UsageError("--resume and --overwrite exclude each other; pick one");
  require_distinct_files(c.input, c.output);
  Shard shard;
  if (!c.shard.empty()) {
    shard = parse_shard(c.shard);
  } else if (auto slurm = slurm_shard([](const char* n) { return std::getenv(n); })) {
    shard = *slurm;
    spdlog::info("Slurm job array: shard {}/{}", shard.index, shard.count);
  }
  const auto lines = read_lines(c.input);
  if (g_interrupted.load()) {
    std::cerr << "dlm: interrupted while reading the input; nothing was written\n";
    return 130;
  }
  const std::string input_name = c.input == "-" ? "stdin" : "'" + c.input + "'";
  if (std::all_of(lines.begin(), lines.end(), blank)) {
    spdlog::warn("input {} {}; there is nothing to generate", input_name,
                 lines.empty() ? "is empty" : "has only blank lines");
  }
  // Every record is parsed before the model loads: the output format follows the input's,
  // and unknown fields are named at once.
  std::map<std::string, std::pair<std::int64_t, std::size_t>> unknown;  // first line, lines
  std::vector<BatchRecord> records;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    std::set<std::string> fields;
    records.push_back(parse_batch_record(lines[i], static_cast<std::int64_t>(i + 1),
                                         c.flags.options, c.flags.options.seed, fields));
    for (const auto& name : fields) {
      ++unknown.try_emplace(name, records.back().line, 0).first->second.second;
    }
  }
  for (const auto& [name, where] : unknown) {
    const auto& [first, count] = where;
    spdlog::warn("unknown field \"{}\" ignored (line {}{})", name, first,
                 count > 1 ? fmt::format(" and {} more", count - 1) : "");
  }
  OutputContext context;
  context.format = output_format(c.output_format, records);
  context.model = model_name(model);
  const RunSettings settings = batch_settings(c.flags.options, model, shard, to_string(context.format));
  if (c.resume && c.output != "-") check_resume_settings(c.output, settings, implicit_batch_settings());
  configure_runtime(c.flags.runtime);
  auto checkpoint = Checkpoint::load(model, c.flags.runtime.device);
  notice_uncached(c.flags.options, *checkpoint);
  JsonlOutput out(c.output, c.resume, c.overwrite, c.sync_seconds, c.retry_failed,
                  read_batch_output_key);
  if (c.output != "-") write_settings(c.output, settings);
  if (out.repaired_bytes() > 0) {
    spdlog::warn("dropped a torn last line ({} bytes) left by an interrupted run in {}",
                 out.repaired_bytes(), c.output);
  }
  if (out.dropped_errors() > 0) {
    spdlog::info("--retry-failed: removed {} error records from {}; their records run again",
                 out.dropped_errors(), c.output);
  }
  const auto now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };

  // Dedupe, skip what is done; error records go out at once.
  std::set<std::string> seen;
  std::vector<BatchRecord> pending;
  std::vector<std::vector<std::int64_t>> prompt_ids;
  BatchCounts counts;
  for (BatchRecord& r : records) {
    if (!in_shard(shard, r.id)) continue;
    ++counts.total;
    const bool duplicate = !seen.insert(r.id).second;
    if (!r.has_id && !duplicate) require_unchanged_line(out, r, c);
    if (duplicate ? out.done_lines().count(r.line) > 0 : out.done_ids().count(r.id) > 0) {
      ++counts.skipped;
      continue;
    }
    if (duplicate && r.error.empty()) {
      r.error = fmt::format("line {}: duplicate id '{}' (an earlier line has it)", r.line, r.id);
      r.error_code = "duplicate_custom_id";
    }
    std::vector<std::int64_t> ids;
    if (r.error.empty()) {
      try {
        r.prompt = render_batch_prompt(r, checkpoint->config());
        ids = encode_prompt(*checkpoint, r.prompt);
        validate(r.options, *checkpoint, static_cast<std::int64_t>(ids.size()));
      } catch (const UsageError& e) {
        r.error = fmt::format("line {}: {}", r.line, e.what());
      }
    }
    if (!r.error.empty()) {
      context.created = now();
      out.append(batch_error_json(r, context));
      if (++counts.failed <= kShownFailures) spdlog::warn("{}", r.error);
      continue;
    }
    pending.push_back(std::move(r));
    prompt_ids.push_back(std::move(ids));
  }
  if (counts.failed > kShownFailures) {
    spdlog::warn("{} more records failed; the error records in {} say why",
                 counts.failed - kShownFailures, c.output == "-" ? "the output" : c.output);
  }

  // A row is one sample of a record. Rows of equal padded length share forward calls:
  // order by it, then chunk.
  struct Row {
    std::size_t record;
    std::int64_t sample;
  };
  std::vector<Row> rows;
  std::vector<std::vector<GenerationResult>> results(pending.size());
  std::vector<std::int64_t> remaining(pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    for (std::int64_t k = 0; k < pending[i].samples; ++k) rows.push_back({i, k});
    results[i].resize(static_cast<std::size_t>(pending[i].samples));
    remaining[i] = pending[i].samples;
  }
  const auto padded = [&](std::size_t i) {
    return padded_length(static_cast<std::int64_t>(prompt_ids[i].size()) +
                             pending[i].options.max_new_tokens,
                         pending[i].options.pad_multiple);
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const Row& a, const Row& b) { return padded(a.record) < padded(b.record); });

  Progress progress(counts, !c.log.quiet && isatty(STDERR_FILENO) == 1);
  std::size_t next = 0;
  while (next < rows.size() && !g_interrupted.load()) {
    std::vector<BatchRequest> requests;
    std::vector<Row> members;
    std::int64_t tokens = 0;
    std::int64_t bytes = checkpoint->parameter_bytes();
    while (next < rows.size() && static_cast<std::int64_t>(requests.size()) < c.batch_size) {
      const Row row = rows[next];
      const std::size_t i = row.record;
      GenerateOptions o = pending[i].options;
      o.seed = sample_seed(o.seed, row.sample);
      const std::int64_t cost = padded(i) * (o.cfg_scale > 0 ? 2 : 1);
      if (!requests.empty() && tokens + cost > c.max_batch_tokens) break;
      // --max-memory bounds the whole batch: each row adds its cache and logits (a row
      // alone always fits: validate() checked it).
      const MemoryEstimate need =
          estimate_memory(o, *checkpoint, static_cast<std::int64_t>(prompt_ids[i].size()));
      if (!requests.empty() && o.max_memory > 0 && bytes + need.cache + need.logits > o.max_memory) break;
      bytes += need.cache + need.logits;
      tokens += cost;
      requests.push_back(BatchRequest{prompt_ids[i], o, nullptr});
      members.push_back(row);
      ++next;
    }
    generate_batch(*checkpoint, requests,
                   [&](std::size_t k, GenerationResult&& result) {
                     const auto [i, sample] = members[k];
                     const BatchRecord& r = pending[i];
                     if (r.messages) result.prompt = r.prompt;  // the rendered conversation
                     results[i][static_cast<std::size_t>(sample)] = std::move(result);
                     if (--remaining[i] > 0) return;
                     // Every sample is in: the record's line.
                     double elapsed_ms = 0;
                     for (const auto& s : results[i]) elapsed_ms = std::max(elapsed_ms, s.total_ms - s.load_ms);
                     context.created = now();
                     out.append(batch_output_json(r, results[i], elapsed_ms, context));
                     results[i].clear();
                     ++counts.done;
                     progress.record(r.options.max_new_tokens * r.samples);
                   },
                   &g_interrupted);
  }
  progress.end();
  out.sync();
  const double seconds = progress.seconds();
  if (g_interrupted.load()) {
    // The same command with --resume: with --overwrite in it, that would refuse the pair.
    std::cerr << fmt::format("dlm: interrupted: {} records written to {}; run the same command "
                             "with --resume{} to continue\n", counts.done + counts.failed,
                             c.output, c.overwrite ? " in place of --overwrite" : "");
    return 130;
  }
  if (!c.log.quiet) std::cerr << summary_line(counts, progress.tokens(), seconds) << "\n";
  return counts.failed > 0 ? 3 : 0;
}

}  // namespace

Runner add_batch(CLI::App& app) {
  auto c = std::make_shared<BatchCommand>();
  CLI::App* cmd = app.add_subcommand("batch", "Generate for every record of a JSONL file; resumable");
  add_sampling_flags(*cmd, c->flags);
  cmd->add_option("-i,--input", c->input, "Input JSONL ('-': stdin): {\"id\", \"prompt\" or \"messages\", settings...} or OpenAI Batch request lines")->required();
  cmd->add_option("-o,--output", c->output, "Output JSONL ('-': stdout), one record per input line")->required();
  auto* resume = cmd->add_flag("--resume", c->resume, "Continue an interrupted run: skip records already in the output");
  cmd->add_flag("--overwrite", c->overwrite, "Replace an existing output");
  cmd->add_flag("--retry-failed", c->retry_failed, "With --resume: run again the records whose output is an error record (those are removed)")
      ->needs(resume);
  cmd->add_option("--batch-size", c->batch_size, "Records generated together")->capture_default_str();
  cmd->add_option("--max-batch-tokens", c->max_batch_tokens, "Most padded canvas tokens in one batch")->capture_default_str();
  cmd->add_option("--output-format", c->output_format, "auto, openai or dlm: the output lines' format; auto: openai for an OpenAI Batch input (every record in the envelope)")
      ->capture_default_str()
      ->transform(CLI::IsMember({"auto", "openai", "dlm"}, CLI::ignore_case));
  cmd->add_option("--shard", c->shard, "I/N: process shard I (from 0) of N (default in a Slurm array: its task)");
  cmd->add_option("--sync-every", c->sync_seconds, "Seconds between syncs of the output to disk")->capture_default_str();
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
