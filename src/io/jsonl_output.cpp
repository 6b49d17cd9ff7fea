#include "dlm/io/jsonl_output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "dlm/error.h"
#include "dlm/io/safe_file.h"

namespace dlm {

std::optional<OutputKey> read_dlm_output_key(const std::string& line) {
  try {
    const auto j = nlohmann::json::parse(line);
    if (!j.is_object()) return std::nullopt;
    OutputKey key;
    if (j.contains("id") && j.at("id").is_string()) key.id = j.at("id").get<std::string>();
    if (j.contains("line") && j.at("line").is_number_integer()) key.line = j.at("line").get<std::int64_t>();
    if (j.contains("input_hash") && j.at("input_hash").is_string()) {
      key.input_hash = j.at("input_hash").get<std::string>();
    }
    key.failed = j.value("finish_reason", "") == "error";
    return key;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

JsonlOutput::JsonlOutput(const std::string& path, bool resume, bool overwrite,
                         double sync_seconds, bool drop_errors, OutputKeyReader read_key)
    : path_(path), sync_seconds_(sync_seconds), last_sync_(std::chrono::steady_clock::now()) {
  if (path == "-") {
    if (resume) throw UsageError("--resume needs an output file; -o - writes to stdout");
    fd_ = STDOUT_FILENO;
    return;
  }
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    throw UsageError(fmt::format("output '{}' is a directory; pass -o a file path (JSONL)", path));
  }
  if (exists && st.st_size > 0 && !resume && !overwrite) {
    throw UsageError(fmt::format("output '{}' exists and is not empty; pass --resume to continue "
                                 "it or --overwrite to replace it", path));
  }
  struct stat link {};
  if (overwrite && !resume && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    throw UsageError(fmt::format("output '{}' is a symbolic link; --overwrite would empty the file "
                                 "it points to: pass that file's own path to -o", path));
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw UsageError(fmt::format("cannot open output '{}': {}; check the path given to -o", path,
                                 std::strerror(errno)));
  }
  owns_fd_ = true;
  // One writer per output: a second run on the same file (two --resume runs) would write
  // records twice. The lock goes with the process, also when it is killed.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw UsageError(fmt::format("output '{}' is being written by another dlm run (it holds "
                                   "the file's lock); wait for it to end, or pass another -o", path));
    }
    throw UsageError(fmt::format("cannot lock output '{}': {}", path, std::strerror(err)));
  }
  // Emptied only once the lock is held, so a run can never empty another's output.
  if (overwrite && !resume && ::ftruncate(fd_, 0) != 0) {
    throw UsageError(fmt::format("cannot empty output '{}': {}", path, std::strerror(errno)));
  }
  if (resume && exists) scan_existing(drop_errors, read_key);
}

JsonlOutput::~JsonlOutput() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    if (owns_fd_) ::close(fd_);
  }
}

void JsonlOutput::scan_existing(bool drop_errors, const OutputKeyReader& read_key) {
  std::ifstream in(path_, std::ios::binary);
  const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::size_t whole = data.rfind('\n') == std::string::npos ? 0 : data.rfind('\n') + 1;
  if (whole < data.size()) repaired_bytes_ = data.size() - whole;  // a torn last line: dropped
  std::string kept;
  std::size_t start = 0;
  while (start < whole) {
    const std::size_t end = data.find('\n', start);
    const std::string line = data.substr(start, end - start);
    start = end + 1;
    // A line that is not a record of ours is left in place, not counted as done.
    if (const auto key = read_key(line)) {
      if (drop_errors && key->failed) {
        ++dropped_errors_;
        continue;
      }
      if (!key->id.empty()) {
        done_ids_.insert(key->id);
        if (!key->input_hash.empty()) done_hashes_.emplace(key->id, key->input_hash);
      }
      if (key->line) done_lines_.insert(*key->line);
    }
    kept += line + "\n";
  }
  if (dropped_errors_ > 0) {
    replace_with(kept);
  } else if (repaired_bytes_ > 0 && ::ftruncate(fd_, static_cast<off_t>(whole)) != 0) {
    throw Error(fmt::format("cannot repair '{}': {}", path_, std::strerror(errno)));
  }
}

// The file becomes `data` all at once: written beside it, synced, renamed over it (a crash
// leaves the old file or the new one, never a mix), then reopened for appending.
void JsonlOutput::replace_with(const std::string& data) {
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(path_, ec);  // through symlinks
  const std::string target = ec ? path_ : real.string();
  const std::string temp = target + ".tmp";
  // The new file is locked before it takes the name: no moment without a writer's lock.
  const int fd = open_temporary(temp, /*append=*/true);
  try {
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      throw Error(fmt::format("cannot lock '{}': {}", temp, std::strerror(errno)));
    }
    write_all_synced(fd, data, temp);
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      throw Error(fmt::format("cannot replace '{}': {}", path_, std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd_);
  fd_ = fd;
}

void JsonlOutput::append(const std::string& json) {
  const std::string line = json + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("cannot write to '{}': {}; the records written so far are kept: "
                              "make room and run again with --resume", path_, std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_sync_).count() >= sync_seconds_) sync();
}

void JsonlOutput::sync() {
  // EINVAL: stdout is a pipe or a terminal, which have nothing to sync.
  if (::fdatasync(fd_) != 0 && errno != EINVAL) {
    throw Error(fmt::format("cannot sync '{}' to disk: {}; the records written so far are kept, "
                            "resume once the disk is fixed", path_, std::strerror(errno)));
  }
  last_sync_ = std::chrono::steady_clock::now();
}

}  // namespace dlm
