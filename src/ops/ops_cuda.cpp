// CUDA implementations of dlm's operators: the argument checks shared with the CPU, then
// the kernels of kernels.h on the current stream of the tensors' device. Compiled only
// with DLM_WITH_CUDA; ops.cpp references link_registrations() so that this file's
// registration is linked from the static library.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "dlm/error.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace dlm::ops::cuda {
namespace {

void check_launch(cudaError_t status, const char* op) {
  if (status != cudaSuccess) {
    throw Error(std::string(op) + ": CUDA kernel launch failed: " + cudaGetErrorString(status));
  }
}

// A small id list on the device (undefined when empty).
at::Tensor device_ids(const std::vector<std::int64_t>& ids, const at::Device& device) {
  if (ids.empty()) return at::Tensor();
  return at::tensor(ids, at::kLong).to(device);
}

kernels::LogitType logit_type(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return kernels::LogitType::kBFloat16;
    case at::kHalf:
      return kernels::LogitType::kFloat16;
    default:
      return kernels::LogitType::kFloat32;
  }
}

std::tuple<at::Tensor, at::Tensor> score(const at::Tensor& logits, const at::Tensor& seeds,
                                         const at::Tensor& positions, const at::Tensor& steps,
                                         std::int64_t style, std::int64_t algorithm,
                                         double temperature, std::int64_t top_k, double top_p,
                                         double min_p, at::IntArrayRef banned, at::IntArrayRef deferred) {
  detail::check_score(logits, seeds, positions, steps);
  const TokenRule rule =
      detail::token_rule(style, algorithm, temperature, top_k, top_p, min_p, banned, deferred);
  const c10::cuda::CUDAGuard guard(logits.device());
  const at::Tensor l = logits.contiguous();
  const at::Tensor s = seeds.contiguous(), p = positions.contiguous(), t = steps.contiguous();
  const auto rows = l.size(0), vocab = l.size(1);
  at::Tensor tokens = at::empty({rows}, l.options().dtype(at::kLong));
  at::Tensor scores = at::empty({rows}, l.options().dtype(at::kDouble));
  const at::Tensor banned_ids = device_ids(rule.banned, l.device());
  const at::Tensor deferred_ids = device_ids(rule.deferred, l.device());
  at::Tensor scratch;  // freed on return: the caching allocator keeps it for this stream's work

  kernels::ScoreProblem problem;
  problem.logits = l.data_ptr();
  problem.logit_type = logit_type(l.scalar_type());
  problem.rows = rows;
  problem.vocab = vocab;
  problem.seeds = s.data_ptr<std::int64_t>();
  problem.positions = p.data_ptr<std::int64_t>();
  problem.steps = t.data_ptr<std::int64_t>();
  problem.style = rule.style;
  problem.algorithm = rule.algorithm;
  problem.temperature = rule.temperature;
  problem.top_k = rule.top_k;
  problem.top_p = rule.top_p;
  problem.min_p = rule.min_p;
  if (banned_ids.defined()) {
    problem.banned = banned_ids.data_ptr<std::int64_t>();
    problem.n_banned = banned_ids.numel();
  }
  if (deferred_ids.defined()) {
    problem.deferred = deferred_ids.data_ptr<std::int64_t>();
    problem.n_deferred = deferred_ids.numel();
  }
  if (kernels::score_filters_active(rule.top_k, rule.top_p, rule.min_p, vocab)) {
    scratch = at::empty({rows, vocab}, l.options().dtype(at::kDouble));
    problem.filtered = scratch.data_ptr<double>();
  }
  problem.tokens = tokens.data_ptr<std::int64_t>();
  problem.scores = scores.data_ptr<double>();
  check_launch(kernels::launch_score(problem, at::cuda::getCurrentCUDAStream()), "dlm::score");
  return {tokens, scores};
}

at::Tensor commit(const at::Tensor& scores, const at::Tensor& tokens, const at::Tensor& eligible,
                  at::Tensor& canvas, const at::Tensor& k, std::int64_t rule, double value) {
  const CommitRule how = detail::check_commit(scores, tokens, eligible, canvas, k, rule);
  const c10::cuda::CUDAGuard guard(scores.device());
  const at::Tensor s = scores.contiguous(), t = tokens.contiguous(), e = eligible.contiguous();
  const at::Tensor counts = how == CommitRule::kTopK ? k.contiguous() : at::Tensor();
  at::Tensor chosen = at::empty(s.sizes(), s.options().dtype(at::kBool));
  at::Tensor sorted;
  kernels::CommitProblem problem;
  problem.scores = s.data_ptr<double>();
  problem.tokens = t.data_ptr<std::int64_t>();
  problem.eligible = e.data_ptr<bool>();
  problem.canvas = canvas.data_ptr<std::int64_t>();  // written in place, through its strides
  problem.canvas_row_stride = canvas.stride(0);
  problem.canvas_col_stride = canvas.stride(1);
  if (counts.defined()) problem.k = counts.data_ptr<std::int64_t>();
  problem.rows = s.size(0);
  problem.width = s.size(1);
  problem.rule = static_cast<int>(how);
  problem.value = value;
  if (how == CommitRule::kFactor) {
    sorted = at::empty(s.sizes(), s.options());
    problem.sorted = sorted.data_ptr<double>();
  }
  problem.chosen = chosen.data_ptr<bool>();
  check_launch(kernels::launch_commit(problem, at::cuda::getCurrentCUDAStream()), "dlm::commit");
  return chosen;
}

void cache_write(at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets) {
  detail::check_cache_write(cache, fresh, offsets);  // bounds only for host offsets
  const c10::cuda::CUDAGuard guard(cache.device());
  const at::Tensor where = offsets.to(cache.device()).contiguous();
  kernels::CacheWriteProblem problem;
  problem.cache = cache.data_ptr();
  problem.fresh = fresh.data_ptr();
  problem.offsets = where.data_ptr<std::int64_t>();
  for (int d = 0; d < 5; ++d) {
    problem.sizes[d] = fresh.size(d);
    problem.cache_strides[d] = cache.stride(d);
    problem.fresh_strides[d] = fresh.stride(d);
  }
  problem.cache_length = cache.size(3);
  problem.element_size = static_cast<int>(cache.element_size());
  check_launch(kernels::launch_cache_write(problem, at::cuda::getCurrentCUDAStream()),
               "dlm::cache_write");
}

}  // namespace

void link_registrations() {}

}  // namespace dlm::ops::cuda

TORCH_LIBRARY_IMPL(dlm, CUDA, m) {
  m.impl("score", &dlm::ops::cuda::score);
  m.impl("commit", &dlm::ops::cuda::commit);
  m.impl("cache_write", &dlm::ops::cuda::cache_write);
}
