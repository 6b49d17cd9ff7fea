#include "dlm/io/jsonl_output.h"

#include <fcntl.h>
#include <fmt/format.h>
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

namespace dlm {

JsonlOutput::JsonlOutput(const std::string& path, bool resume, bool overwrite,
                         double sync_seconds, bool drop_errors)
    : path_(path), sync_seconds_(sync_seconds), last_sync_(std::chrono::steady_clock::now()) {
  if (path == "-") {
    if (resume) throw UsageError("--resume needs an output file; -o - writes to stdout");
    fd_ = STDOUT_FILENO;
    return;
  }
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && st.st_size > 0 && !resume && !overwrite) {
    throw UsageError(fmt::format("output '{}' exists and is not empty; pass --resume to continue "
                                 "it or --overwrite to replace it", path));
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (overwrite && !resume) flags |= O_TRUNC;
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) {
    throw UsageError(fmt::format("cannot open output '{}': {}; check the path given to -o", path,
                                 std::strerror(errno)));
  }
  owns_fd_ = true;
  if (resume && exists) scan_existing(drop_errors);
}

JsonlOutput::~JsonlOutput() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    if (owns_fd_) ::close(fd_);
  }
}

void JsonlOutput::scan_existing(bool drop_errors) {
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
    try {
      const auto j = nlohmann::json::parse(line);
      if (drop_errors && j.is_object() && j.value("finish_reason", "") == "error") {
        ++dropped_errors_;
        continue;
      }
      if (j.contains("id") && j.at("id").is_string()) done_ids_.insert(j.at("id").get<std::string>());
      if (j.contains("line") && j.at("line").is_number_integer()) {
        done_lines_.insert(j.at("line").get<std::int64_t>());
      }
    } catch (const nlohmann::json::exception&) {
      // not a record of ours: left in place, not counted as done
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
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error(fmt::format("cannot write '{}': {}", temp, std::strerror(errno)));
  }
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("cannot write '{}': {}", temp, std::strerror(err)));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fdatasync(fd);
  ::close(fd);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    throw Error(fmt::format("cannot replace '{}': {}", path_, std::strerror(errno)));
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw Error(fmt::format("cannot reopen '{}': {}", path_, std::strerror(errno)));
}

void JsonlOutput::append(const std::string& json) {
  const std::string line = json + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("cannot write to '{}': {}", path_, std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_sync_).count() >= sync_seconds_) sync();
}

void JsonlOutput::sync() {
  ::fdatasync(fd_);
  last_sync_ = std::chrono::steady_clock::now();
}

}  // namespace dlm
