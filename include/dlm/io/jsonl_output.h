#pragma once
// An append-only JSON Lines output that survives interruption: every record is one
// write() of a whole line, flushed at once and synced to disk at intervals; reopening
// with resume repairs a torn last line and reports which records are already there.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace dlm {

// What --resume needs to know of one output line: the record it answers.
struct OutputKey {
  std::string id;                   // the record's id
  std::optional<std::int64_t> line; // its input line, where the output keeps it
  std::string input_hash;           // its input fingerprint, where the output keeps it ("": none)
  bool failed = false;              // an error record
};
// Reads one output line (without the newline); nullopt: not a record of ours (kept, not done).
using OutputKeyReader = std::function<std::optional<OutputKey>(const std::string& line)>;
// The reader of dlm's own records: "id", "line", "input_hash", finish_reason "error".
std::optional<OutputKey> read_dlm_output_key(const std::string& line);

class JsonlOutput {
 public:
  // `path` "-" is stdout (no resume). An existing non-empty file is refused (UsageError)
  // unless `resume` (keep it, append) or `overwrite` (truncate it). With `resume` and
  // `drop_errors`, the error records (finish_reason "error") are removed first, the file
  // rewritten atomically (temp file + rename), so that their records run again and the
  // output keeps one record per input line. `read_key` tells the records of the file apart.
  JsonlOutput(const std::string& path, bool resume, bool overwrite, double sync_seconds,
              bool drop_errors = false, OutputKeyReader read_key = read_dlm_output_key);
  ~JsonlOutput();
  JsonlOutput(const JsonlOutput&) = delete;
  JsonlOutput& operator=(const JsonlOutput&) = delete;

  // What an earlier run left (resume): the ids and input lines of its records.
  const std::set<std::string>& done_ids() const { return done_ids_; }
  const std::set<std::int64_t>& done_lines() const { return done_lines_; }
  // The input fingerprint ("input_hash") each done id was written with, where it has one.
  const std::map<std::string, std::string>& done_hashes() const { return done_hashes_; }
  std::size_t repaired_bytes() const { return repaired_bytes_; }  // torn tail dropped
  std::size_t dropped_errors() const { return dropped_errors_; }  // drop_errors: records removed

  // Appends one record (a JSON object without the newline).
  void append(const std::string& json);
  void sync();

 private:
  void scan_existing(bool drop_errors, const OutputKeyReader& read_key);
  void replace_with(const std::string& data);

  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = false;
  double sync_seconds_;
  std::chrono::steady_clock::time_point last_sync_;
  std::set<std::string> done_ids_;
  std::set<std::int64_t> done_lines_;
  std::map<std::string, std::string> done_hashes_;
  std::size_t repaired_bytes_ = 0;
  std::size_t dropped_errors_ = 0;
};

}  // namespace dlm
