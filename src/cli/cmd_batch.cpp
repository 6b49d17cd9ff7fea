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
  std::int64_t read_ahead = 4096;
  std::string shard;
  std::string output_format = "auto";
  double sync_seconds = 1.0;
  LogOptions log;
};

// The input's lines, one at a time, so that memory does not grow with the input: a file
// is read twice (a scan before the model loads, then again while generating); stdin,
// which cannot be read twice, is held whole. Lines are bounded: /dev/zero or a binary file
// is one endless "line" that would otherwise take all memory before anything is said.
class InputLines {
 public:
  explicit InputLines(std::string path) : path_(std::move(path)) {
    if (path_ == "-") {
      std::string line;
      while (read(std::cin, line)) held_.push_back(std::move(line));
      if (std::cin.bad()) throw Error(fmt::format("cannot read input stdin: {}", std::strerror(errno)));
    } else {
      require_readable_file(path_, "input", "-i");
      open();
    }
    number_ = 0;
  }

  // The next line into `line` (its number: number()); false at the end, or at a line end
  // after Ctrl-C (interrupted() then says so).
  bool next(std::string& line) {
    if (path_ == "-") {
      if (at_ == held_.size()) return false;
      line = held_[at_++];
      ++number_;
      return true;
    }
    const bool got = read(file_, line);
    if (file_.bad()) throw Error(fmt::format("cannot read input {}: {}", path_, std::strerror(errno)));
    return got;
  }
  std::int64_t number() const { return number_; }
  bool interrupted() const { return interrupted_; }

  void rewind() {
    number_ = 0;
    at_ = 0;
    if (path_ != "-") open();
  }

 private:
  static constexpr std::size_t kMaxLine = std::size_t{64} << 20;

  void open() {
    file_.close();
    file_.clear();
    file_.open(path_, std::ios::binary);
    if (!file_.is_open()) throw Error(fmt::format("cannot read input {}: {}", path_, std::strerror(errno)));
  }

  bool read(std::istream& in, std::string& line) {
    line.clear();
    if (g_interrupted.load()) {  // Ctrl-C while a long input is read: stop at a line end
      interrupted_ = true;
      return false;
    }
    std::streambuf* buf = in.rdbuf();
    bool any = false;
    for (int c = buf->sbumpc(); c != std::char_traits<char>::eof(); c = buf->sbumpc()) {
      any = true;
      if (c == '\n') break;
      line.push_back(static_cast<char>(c));
      if (line.size() > kMaxLine) {
        throw UsageError(fmt::format("input {} line {} is longer than 64 MiB; is it a JSONL file "
                                     "(one JSON object per line)?", path_, number_ + 1));
      }
    }
    if (!any) return false;
    ++number_;
    return true;
  }

  std::string path_;
  std::ifstream file_;
  std::vector<std::string> held_;  // stdin's lines
  std::size_t at_ = 0;
  std::int64_t number_ = 0;
  bool interrupted_ = false;
};

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
// envelope's "body", and there is one), dlm's otherwise (a file that mixes flat records in
// is dlm's extension of the format).
OutputFormat output_format(const std::string& name, bool openai_input) {
  if (name == "openai") return OutputFormat::kOpenAI;
  if (name == "dlm") return OutputFormat::kDlm;
  return openai_input ? OutputFormat::kOpenAI : OutputFormat::kDlm;
}

// The model's name in OpenAI output bodies: the checkpoint's file stem (its folder's name
// for a model folder).
std::string model_name(const std::string& model) {
  std::filesystem::path p(model);
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) ? p.filename().string() : p.stem().string();
}

// Most input records held at once (--read-ahead), rows per batch and padded tokens per batch:
// bounds checked before anything loads, far above what any machine runs at once.
constexpr std::int64_t kMaxReadAhead = 1 << 20;
constexpr std::int64_t kMaxBatchSize = 4096;
constexpr std::int64_t kMaxBatchTokens = std::int64_t{1} << 24;

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
  if (c.read_ahead < 1 || c.read_ahead > kMaxReadAhead) {
    throw UsageError(fmt::format("--read-ahead {} must be in [1, {}]; try 4096", c.read_ahead, kMaxReadAhead));
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
  // The whole input is scanned before the model loads (each record parsed, then dropped):
  // the output format follows the input's, unknown fields are named at once, and the
  // progress line knows the total.
  InputLines input(c.input);
  std::map<std::string, std::pair<std::int64_t, std::size_t>> unknown;  // first line, lines
  std::int64_t lines = 0, nonblank = 0;
  bool any_object = false, all_envelopes = true;
  BatchCounts counts;
  for (std::string line; input.next(line);) {
    ++lines;
    if (blank(line)) continue;
    ++nonblank;
    std::set<std::string> fields;
    const BatchRecord r = parse_batch_record(line, input.number(), c.flags.options,
                                             c.flags.options.seed, fields);
    for (const auto& name : fields) ++unknown.try_emplace(name, r.line, 0).first->second.second;
    // A line that is not a JSON object (error code invalid_json) says nothing of the format.
    if (r.error_code != "invalid_json") {
      any_object = true;
      all_envelopes = all_envelopes && r.envelope;
    }
    if (in_shard(shard, r.id)) ++counts.total;
  }
  if (g_interrupted.load()) {
    std::cerr << "dlm: interrupted while reading the input; nothing was written\n";
    return 130;
  }
  const std::string input_name = c.input == "-" ? "stdin" : "'" + c.input + "'";
  if (nonblank == 0) {
    spdlog::warn("input {} {}; there is nothing to generate", input_name,
                 lines == 0 ? "is empty" : "has only blank lines");
  }
  for (const auto& [name, where] : unknown) {
    const auto& [first, count] = where;
    spdlog::warn("unknown field \"{}\" ignored (line {}{})", name, first,
                 count > 1 ? fmt::format(" and {} more", count - 1) : "");
  }
  OutputContext context;
  context.format = output_format(c.output_format, any_object && all_envelopes);
  context.model = model_name(model);
  const RunSettings settings = batch_settings(c.flags.options, model, shard, to_string(context.format),
                                              c.flags.runtime.dtype);
  if (c.resume && c.output != "-") check_resume_settings(c.output, settings, implicit_batch_settings());
  configure_runtime(c.flags.runtime);
  auto checkpoint = Checkpoint::load(model, c.flags.runtime);
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

  Progress progress(counts, !c.log.quiet && isatty(STDERR_FILENO) == 1);

  // The records of one read-ahead window: deduped, what is done skipped, error records
  // written at once; the rest are returned with their prompts' ids.
  std::set<std::string> seen;  // ids so far, over every window
  std::vector<BatchRecord> pending;
  std::vector<std::vector<std::int64_t>> prompt_ids;
  const auto admit = [&](BatchRecord&& r) {
    if (!in_shard(shard, r.id)) return;
    const bool duplicate = !seen.insert(r.id).second;
    if (!r.has_id && !duplicate) require_unchanged_line(out, r, c);
    if (duplicate ? out.done_lines().count(r.line) > 0 : out.done_ids().count(r.id) > 0) {
      ++counts.skipped;
      return;
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
      return;
    }
    pending.push_back(std::move(r));
    prompt_ids.push_back(std::move(ids));
  };

  // Generates the window's pending records. A row is one sample of a record. Rows of
  // equal padded length share forward calls: order by it, then chunk.
  const auto generate_pending = [&] {
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
        // --max-memory bounds the whole batch: each row adds its cache, logits and
        // activations (a row
        // alone always fits: validate() checked it).
        const MemoryEstimate need =
            estimate_memory(o, *checkpoint, static_cast<std::int64_t>(prompt_ids[i].size()));
        if (!requests.empty() && o.max_memory > 0 && bytes + need.per_row() > o.max_memory) break;
        bytes += need.per_row();
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
    pending.clear();
    prompt_ids.clear();
  };

  // The input again, --read-ahead records at a time: memory stays bounded by the window,
  // not the input, and the first records are generated while the rest are still unread.
  input.rewind();
  std::string line;
  bool more = true;
  while (more && !g_interrupted.load()) {
    for (std::int64_t parsed = 0; parsed < c.read_ahead && (more = input.next(line));) {
      if (blank(line)) continue;
      ++parsed;
      std::set<std::string> fields;  // named by the scan already
      admit(parse_batch_record(line, input.number(), c.flags.options, c.flags.options.seed, fields));
    }
    generate_pending();
  }
  if (counts.failed > kShownFailures) {
    spdlog::warn("{} more records failed; the error records in {} say why",
                 counts.failed - kShownFailures, c.output == "-" ? "the output" : c.output);
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
  cmd->add_option("--batch-size", c->batch_size, "Records generated together")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, kMaxBatchSize));
  cmd->add_option("--max-batch-tokens", c->max_batch_tokens, "Most padded canvas tokens in one batch")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, kMaxBatchTokens));
  cmd->add_option("--read-ahead", c->read_ahead, "Input records read, parsed and grouped by length at a time (a file input is never held whole; stdin is)")
      ->capture_default_str();
  cmd->add_option("--output-format", c->output_format, "auto, openai or dlm: the output lines' format; auto: openai for an OpenAI Batch input (every record in the envelope)")
      ->capture_default_str()
      ->transform(CLI::IsMember({"auto", "openai", "dlm"}, CLI::ignore_case));
  cmd->add_option("--shard", c->shard, "I/N: process shard I (from 0) of N (default in a Slurm array: its task)");
  cmd->add_option("--sync-every", c->sync_seconds, "Seconds between syncs of the output to disk (0: after every record)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  add_log_options(*cmd, c->log);
  return [c, cmd] { return run(*c, *cmd); };
}

}  // namespace dlm::cli
