#pragma once
// Forward calls over groups of canvases of one padded length: plain, full (refreshing a
// shared key/value cache block) and window passes. Logits stay on the model's device.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dlm/model/denoiser.h"

namespace dlm::sampling {

// Keys and values of a group of canvases [n_layers, B, H, P, hd], shared by the inputs
// whose full pass ran together; an input reads slot `slot`.
struct CacheBlock {
  at::Tensor keys, values;
};
struct CacheSlot {
  std::shared_ptr<CacheBlock> block;
  std::int64_t slot = 0;
  std::vector<std::int64_t> ids;  // the input's canvas at its last call (elastic's drift test)
};

using Canvases = std::vector<std::vector<std::int64_t>>;

// The output rows a call returns: input j's rows offsets[j] .. offsets[j] + count - 1 of
// its canvas (plain and full passes) or of its window (window pass). With the model's fast
// passes only these rows go through the output head; otherwise they are selected after it.
struct HeadRows {
  std::vector<std::int64_t> offsets;
  std::int64_t count = 0;
};

// Logits [B, rows.count, V'] of the canvases right-padded to `padded` (padding masked out
// as keys, positions explicit).
at::Tensor forward_plain(Denoiser& model, const Canvases& canvases, std::int64_t padded,
                         const HeadRows& rows);

// The same through forward_kv; the keys/values become one cache block, slot j for input j.
at::Tensor forward_full(Denoiser& model, const Canvases& canvases, std::int64_t padded,
                        const std::vector<CacheSlot*>& slots, const HeadRows& rows);

// Input j runs canvas[lo_j, lo_j + width) at its true positions against its cache; the
// fresh keys/values are written into the cache at lo_j (by the model itself with the fast
// passes). Logits [B, rows.count, V'] (row 0 of input j predicts from canvas index
// lo_j + rows.offsets[j]). With `similarity`, also input j's key drift:
// the lowest cosine similarity (float64) between the last layer's fresh key and its cached
// key (heads concatenated) over the window's stable positions (same token as at the
// input's previous call), 1 when none is stable.
at::Tensor forward_window(Denoiser& model, const Canvases& canvases,
                          const std::vector<std::int64_t>& lo, std::int64_t width,
                          std::int64_t padded, const std::vector<CacheSlot*>& slots,
                          const HeadRows& rows, std::vector<double>* similarity = nullptr);

}  // namespace dlm::sampling
