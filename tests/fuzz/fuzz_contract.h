#pragma once
// The contract every fuzz target checks: a parser of untrusted input either returns a
// valid result or throws dlm::UsageError with a one-line message. Any other exception
// escapes LLVMFuzzerTestOneInput, std::terminate aborts, and libFuzzer records a crash;
// a broken invariant aborts through require().
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dlm/error.h"

namespace dlm::fuzz {

// Aborts (a libFuzzer crash) with `what` when `ok` is false.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz contract broken: %s\n", what);
    std::abort();
  }
}

// A user-facing message: non-empty and one line.
inline void require_one_line(const std::string& message) {
  require(!message.empty(), "empty error message");
  require(message.find('\n') == std::string::npos, "error message spans several lines");
}

// Runs `body`; a UsageError must carry a one-line message, anything else propagates.
template <typename Body>
void expect_usage_error_or_success(Body&& body) {
  try {
    body();
  } catch (const dlm::UsageError& e) {
    require_one_line(e.what());
  }
}

}  // namespace dlm::fuzz
