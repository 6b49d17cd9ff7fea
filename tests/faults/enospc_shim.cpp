// LD_PRELOAD fault injection: a disk that fills up. Writes to the file named by
// DLM_FAULT_FILE succeed for the first DLM_FAULT_BYTES bytes (the write that crosses the
// limit is cut short there); after that write() and fdatasync()/fsync() on it fail with
// ENOSPC. Other files are untouched. Used by tests/test_batch.cpp ("full disk").
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

namespace {

std::atomic<long long> g_written{0};

// Whether `fd` is the file under test (compared by its /proc path, so any open of it counts).
bool is_target(int fd) {
  const char* want = getenv("DLM_FAULT_FILE");
  if (!want || !*want) return false;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  char real[PATH_MAX];
  return realpath(want, real) != nullptr && strcmp(real, path) == 0;
}

long long limit() {
  const char* v = getenv("DLM_FAULT_BYTES");
  return v ? atoll(v) : 0;
}

template <typename F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" ssize_t write(int fd, const void* buf, size_t count) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (count == 0 || !is_target(fd)) return real(fd, buf, count);
  const long long room = limit() - g_written.load();
  if (room <= 0) {
    errno = ENOSPC;
    return -1;
  }
  const size_t n = count < static_cast<size_t>(room) ? count : static_cast<size_t>(room);
  const ssize_t done = real(fd, buf, n);
  if (done > 0) g_written += done;
  return done;
}

extern "C" int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (is_target(fd) && g_written.load() >= limit()) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd);
}

extern "C" int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  if (is_target(fd) && g_written.load() >= limit()) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd);
}
