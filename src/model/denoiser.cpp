#include "dlm/model/denoiser.h"

#include "dlm/error.h"

namespace dlm {
namespace {
[[noreturn]] void no_fast_passes(const char* method) {
  throw Error(std::string("the model has no ") + method +
              " (supports_fast_passes() is false): the caller must use the format v1 passes");
}
}  // namespace

at::Tensor Denoiser::forward_rows(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                  const OutputRows&) {
  no_fast_passes("forward_rows");
}

KvOut Denoiser::forward_kv_rows(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                const OutputRows&) {
  no_fast_passes("forward_kv_rows");
}

at::Tensor Denoiser::forward_window_update(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const OutputRows&) {
  no_fast_passes("forward_window_update");
}

}  // namespace dlm
