#pragma once
// A TorchScript checkpoint is code: its graphs can call operators that read, create or
// write files (aten::from_file maps any file, shared, writable). The audit walks every
// method of the module and its submodules, and every function they call, before the
// checkpoint's code first runs (the load probe), so such a file is refused unread.
#include <optional>
#include <string>

namespace torch::jit {
struct Module;
}

namespace dlm {

// "aten::from_file (in forward)" for the first file-touching operator the module's code
// can call; nullopt when it calls none.
std::optional<std::string> find_file_operator(const torch::jit::Module& module);

}  // namespace dlm
