#include "cli/input_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "dlm/error.h"

namespace dlm::cli {

void require_readable_file(const std::string& path, const std::string& what,
                           const std::string& flag) {
  std::error_code ec;
  // An ifstream opens a directory and fails on the first read (basic_filebuf::underflow).
  if (std::filesystem::is_directory(path, ec)) {
    throw UsageError(fmt::format("{} '{}' is a directory; give {} a file", what, path, flag));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError(fmt::format("cannot read {} '{}': {}; check the path given to {}", what,
                                 path, std::strerror(errno), flag));
  }
}

std::string read_input_file(const std::string& path, const std::string& what,
                            const std::string& flag) {
  require_readable_file(path, what, flag);
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dlm::cli
