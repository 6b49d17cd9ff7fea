#include "dlm/io/safe_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dlm/error.h"

namespace dlm {

int open_temporary(const std::string& path, bool append) {
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
  if (append) flags |= O_APPEND;
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0 && errno == ELOOP) {
    throw Error(fmt::format("refusing to write '{}': it is a symbolic link (a temporary file of "
                            "dlm's; remove the link)", path));
  }
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  return fd;
}

void write_all_synced(int fd, const std::string& data, const std::string& path) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
    written += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    throw Error(fmt::format("cannot sync '{}' to disk: {}", path, std::strerror(errno)));
  }
}

void write_atomically(const std::string& path, const std::string& data) {
  const std::string temp = path + ".tmp";
  const int fd = open_temporary(temp);
  try {
    write_all_synced(fd, data, temp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    throw Error(fmt::format("cannot rename '{}' to '{}': {}", temp, path, std::strerror(errno)));
  }
}

}  // namespace dlm
