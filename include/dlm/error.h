#pragma once
// Error kinds that the CLI maps to exit codes: UsageError (bad options or input,
// exit 2) and Error (anything else, exit 1). Messages are one line naming the
// problem and the way out.
#include <stdexcept>
#include <string>

namespace dlm {

// Something the user can fix: a bad option, a bad checkpoint, a missing file.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure that is not the user's input (an internal or runtime error).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace dlm
