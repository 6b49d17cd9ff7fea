#pragma once
// Files the user names on the command line (-f, -i, --config): one-line usage errors,
// naming the path and the option, for a path that is missing, unreadable or a directory.
#include <string>

namespace dlm::cli {

// Throws UsageError unless `path` is a file that opens for reading; `what` names it in
// the message ("prompt file"), `flag` is the option that gave it ("-f").
void require_readable_file(const std::string& path, const std::string& what,
                           const std::string& flag);

// The whole file, after require_readable_file.
std::string read_input_file(const std::string& path, const std::string& what,
                            const std::string& flag);

}  // namespace dlm::cli
