#pragma once
// What this dlm binary is: its version and libraries, and the commit it was built from.
#include <string>

namespace dlm {

// "dlm 0.1.0 (libtorch 1.13.1, CPU; commit <hash>)" style description for --version.
std::string build_info();

// The git commit of the source tree the binary was built from, "-dirty" appended when
// tracked files differed from it, "unknown" when built outside a git checkout.
std::string build_commit();

}  // namespace dlm
