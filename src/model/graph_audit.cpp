#include "model/graph_audit.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <unordered_set>

namespace dlm {
namespace {

// Operators that touch the file system. TorchScript has no open() or os module: files
// are reached only through these.
bool touches_files(const std::string& kind) {
  static const std::unordered_set<std::string> names{
      "aten::from_file", "aten::save", "aten::_save_for_mobile", "aten::_save_parameters"};
  return names.count(kind) > 0;
}

class Auditor {
 public:
  std::optional<std::string> graph(const torch::jit::Graph& g, const std::string& where) {
    return block(g.block(), where);
  }

 private:
  std::optional<std::string> block(const torch::jit::Block* b, const std::string& where) {
    for (const torch::jit::Node* node : b->nodes()) {
      const std::string kind = node->kind().toQualString();
      if (touches_files(kind)) return kind + " (in " + where + ")";
      for (const torch::jit::Block* inner : node->blocks()) {
        if (auto found = block(inner, where)) return found;
      }
      // A call of a free function: its graph is separate; audit it once.
      if (node->kind() == c10::prim::CallFunction) {
        const auto type = node->input(0)->type()->cast<c10::FunctionType>();
        if (type && seen_.insert(type->function()).second) {
          const auto& callee = torch::jit::toGraphFunction(*type->function());
          if (auto found = graph(*callee.graph(), callee.qualname().qualifiedName())) return found;
        }
      }
    }
    return std::nullopt;
  }

  std::unordered_set<const torch::jit::Function*> seen_;
};

}  // namespace

std::optional<std::string> find_file_operator(const torch::jit::Module& module) {
  Auditor auditor;
  for (const auto& named : module.named_modules()) {
    for (const auto& method : named.value.get_methods()) {
      const std::string where = named.name.empty() ? method.name() : named.name + "." + method.name();
      if (auto found = auditor.graph(*method.graph(), where)) return found;
    }
  }
  return std::nullopt;
}

}  // namespace dlm
