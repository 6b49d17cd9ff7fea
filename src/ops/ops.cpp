// dlm's operators: their schemas, the CPU registrations and the C++ entry points of
// include/dlm/ops/ops.h, which call the operators through the dispatcher (a tensor's device
// picks the implementation). Registrations live in this file, next to the entry points,
// so that any binary calling an entry point links them in from the static library.
#include "dlm/ops/ops.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "ops/ops_cpu.h"

#ifdef DLM_WITH_CUDA
namespace dlm::ops::cuda {
void link_registrations();  // ops_cuda.cpp: referenced so its TORCH_LIBRARY_IMPL is linked
}  // namespace dlm::ops::cuda
#endif

// Schemas. score's rule arguments are the fields of dlm::TokenRule, with style and
// algorithm as the enums' values in declaration order (Style: 0 llada, 1 dream;
// Algorithm: 0 confidence, 1 margin, 2 entropy, 3 random, 4 origin, 5 ancestral).
// commit's rule is CommitRule (0 top-k, 1 threshold, 2 factor).
TORCH_LIBRARY(dlm, m) {
  m.def(
      "score(Tensor logits, Tensor seeds, Tensor positions, Tensor steps, int style, "
      "int algorithm, float temperature, int top_k, float top_p, float min_p, int[] banned, "
      "int[] deferred) -> (Tensor tokens, Tensor scores)");
  m.def(
      "commit(Tensor scores, Tensor tokens, Tensor eligible, Tensor(a!) canvas, Tensor k, "
      "int rule, float value) -> Tensor chosen");
  m.def("cache_write(Tensor(a!) cache, Tensor fresh, Tensor offsets) -> ()");
#ifdef DLM_WITH_CUDA
  dlm::ops::cuda::link_registrations();
#endif
}

TORCH_LIBRARY_IMPL(dlm, CPU, m) {
  m.impl("score", &dlm::ops::cpu::score);
  m.impl("commit", &dlm::ops::cpu::commit);
  m.impl("cache_write", &dlm::ops::cpu::cache_write);
}

namespace dlm::ops {
namespace {

// The operator `dlm::name`, looked up once (after static initialisation registered it).
template <class Signature>
c10::TypedOperatorHandle<Signature> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> score(const at::Tensor& logits, const at::Tensor& seeds,
                                         const at::Tensor& positions, const at::Tensor& steps,
                                         const TokenRule& rule) {
  using Signature = std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, std::int64_t,
      std::int64_t, double, std::int64_t, double, double, at::IntArrayRef, at::IntArrayRef);
  static const auto handle = op<Signature>("dlm::score");
  return handle.call(logits, seeds, positions, steps, static_cast<std::int64_t>(rule.style),
                     static_cast<std::int64_t>(rule.algorithm), rule.temperature, rule.top_k,
                     rule.top_p, rule.min_p, rule.banned, rule.deferred);
}

at::Tensor commit(const at::Tensor& scores, const at::Tensor& tokens, const at::Tensor& eligible,
                  at::Tensor& canvas, const at::Tensor& k, CommitRule rule, double value) {
  using Signature = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::Tensor&,
                               const at::Tensor&, std::int64_t, double);
  static const auto handle = op<Signature>("dlm::commit");
  return handle.call(scores, tokens, eligible, canvas, k, static_cast<std::int64_t>(rule), value);
}

void cache_write(at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets) {
  using Signature = void(at::Tensor&, const at::Tensor&, const at::Tensor&);
  static const auto handle = op<Signature>("dlm::cache_write");
  handle.call(cache, fresh, offsets);
}

}  // namespace dlm::ops
