#pragma once
// CPU implementations of dlm's operators, with the operators' schema signatures
// (registered in ops.cpp; see there for each schema).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace dlm::ops::cpu {

std::tuple<at::Tensor, at::Tensor> score(const at::Tensor& logits, const at::Tensor& seeds,
                                         const at::Tensor& positions, const at::Tensor& steps,
                                         std::int64_t style, std::int64_t algorithm,
                                         double temperature, std::int64_t top_k, double top_p,
                                         double min_p, at::IntArrayRef banned, at::IntArrayRef deferred);

at::Tensor commit(const at::Tensor& scores, const at::Tensor& tokens, const at::Tensor& eligible,
                  at::Tensor& canvas, const at::Tensor& k, std::int64_t rule, double value);

void cache_write(at::Tensor& cache, const at::Tensor& fresh, const at::Tensor& offsets);

}  // namespace dlm::ops::cpu
