#include "sampling/forward.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dlm/error.h"
#include "dlm/ops/ops.h"

namespace dlm::sampling {
namespace {

// Model inputs of canvases of one padded length, filled on the host and moved once.
struct PaddedBatch {
  at::Tensor ids, mask, positions;
};

PaddedBatch pad_canvases(const Denoiser& model, const Canvases& canvases, std::int64_t padded) {
  const auto rows = static_cast<std::int64_t>(canvases.size());
  at::Tensor ids = at::full({rows, padded}, model.config().pad_id, at::kLong);
  at::Tensor positions = at::zeros({rows, padded}, at::kLong);
  at::Tensor real = at::zeros({rows, padded}, at::kBool);
  auto* id = ids.data_ptr<std::int64_t>();
  auto* pos = positions.data_ptr<std::int64_t>();
  auto* mask = real.data_ptr<bool>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& c = canvases[r];
    for (std::size_t i = 0; i < c.size(); ++i) {
      const std::size_t at = static_cast<std::size_t>(r * padded) + i;
      id[at] = c[i];
      pos[at] = static_cast<std::int64_t>(i);
      mask[at] = true;
    }
  }
  const auto device = model.device();
  return {ids.to(device), real.to(device), positions.to(device)};
}

// A model output whose shape differs from what the call asked for is refused before
// anything reads it (a module ignoring the batch dimension or returning fewer positions
// would otherwise be read out of bounds). Checked on every call: a few integer compares.
void check_logits(const Denoiser& model, const at::Tensor& logits, std::int64_t rows,
                  std::int64_t length, const char* method) {
  if (logits.dim() != 3 || logits.size(0) != rows || logits.size(1) != length ||
      logits.size(2) != model.logits_width()) {
    throw Error(fmt::format("the model's {} returned logits [{}] for input [{}, {}]; expected "
                            "[{}, {}, {}]: the checkpoint is broken, re-export it", method,
                            fmt::join(logits.sizes(), ", "), rows, length, rows, length,
                            model.logits_width()));
  }
}

void check_kv(const KvOut& out, std::int64_t rows, std::int64_t length, const char* method) {
  const auto& k = out.keys;
  if (k.dim() != 5 || k.size(1) != rows || k.size(3) != length ||
      !out.values.sizes().equals(k.sizes())) {
    throw Error(fmt::format("the model's {} returned keys [{}] and values [{}] for input [{}, {}]; "
                            "expected [n_layers, {}, heads, {}, head_dim]: the checkpoint is "
                            "broken, re-export it", method, fmt::join(k.sizes(), ", "),
                            fmt::join(out.values.sizes(), ", "), rows, length, rows, length));
  }
}

// The rows' offsets as a tensor on the model's device, after checking that they fit an
// output of `length` rows (on the host, so that no device copy is needed to check).
OutputRows device_rows(const Denoiser& model, const HeadRows& rows, std::int64_t length) {
  for (const std::int64_t o : rows.offsets) {
    if (rows.count < 1 || o < 0 || o + rows.count > length) {
      throw Error(fmt::format("output rows [{}, {}) outside an output of {} rows", o,
                              o + rows.count, length));
    }
  }
  return {at::tensor(rows.offsets, at::TensorOptions().dtype(at::kLong)).to(model.device()),
          rows.count};
}

// Rows `rows` of logits [B, L, V'] that went through the head on every row.
at::Tensor select_rows(const at::Tensor& logits, const OutputRows& rows) {
  const at::Tensor index =
      rows.offsets.unsqueeze(1) + at::arange(rows.count, rows.offsets.options()).unsqueeze(0);
  return logits.gather(1, index.unsqueeze(2).expand({-1, -1, logits.size(2)}));
}

// The cache block holding these inputs' slots in order: their common block when they are
// exactly its slots 0..B-1 (the usual case: rows that refreshed together), else a new
// block gathered from theirs, to which the inputs move.
std::shared_ptr<CacheBlock> gather_cache(const std::vector<CacheSlot*>& slots) {
  const auto& first = slots.front()->block;
  bool same = first->keys.size(1) == static_cast<std::int64_t>(slots.size());
  for (std::size_t j = 0; j < slots.size() && same; ++j) {
    same = slots[j]->block == first && slots[j]->slot == static_cast<std::int64_t>(j);
  }
  if (same) return first;
  std::vector<at::Tensor> keys, values;
  for (const CacheSlot* s : slots) {
    keys.push_back(s->block->keys.narrow(1, s->slot, 1));
    values.push_back(s->block->values.narrow(1, s->slot, 1));
  }
  auto block = std::make_shared<CacheBlock>(CacheBlock{at::cat(keys, 1), at::cat(values, 1)});
  for (std::size_t j = 0; j < slots.size(); ++j) {
    *slots[j] = CacheSlot{block, static_cast<std::int64_t>(j), std::move(slots[j]->ids)};
  }
  return block;
}

// Elastic-Cache's drift test on what the model API returns (keys, not attention): the
// lowest cosine similarity between each stable window position's fresh last-layer key and
// the cached one it replaces. `cached`, `fresh`: [H, W, hd] of one input.
double key_similarity(const at::Tensor& cached, const at::Tensor& fresh,
                      const std::vector<std::int64_t>& stable) {
  if (stable.empty()) return 1.0;
  const at::Tensor where = at::tensor(stable, at::TensorOptions().dtype(at::kLong)).to(cached.device());
  const auto flat = [&](const at::Tensor& k) {
    return k.index_select(1, where).permute({1, 0, 2}).reshape({static_cast<std::int64_t>(stable.size()), -1})
        .to(at::kDouble);
  };
  const at::Tensor a = flat(cached), b = flat(fresh);
  const at::Tensor cos = (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1)).clamp_min(1e-300);
  return cos.min().item<double>();
}

}  // namespace

at::Tensor forward_plain(Denoiser& model, const Canvases& canvases, std::int64_t padded,
                         const HeadRows& head) {
  const PaddedBatch in = pad_canvases(model, canvases, padded);
  const auto rows = static_cast<std::int64_t>(canvases.size());
  const OutputRows out_rows = device_rows(model, head, padded);
  if (model.supports_fast_passes()) {
    at::Tensor logits = model.forward_rows(in.ids, in.mask, in.positions, out_rows);
    check_logits(model, logits, rows, head.count, "forward_rows");
    return logits;
  }
  at::Tensor logits = model.forward(in.ids, in.mask, in.positions);
  check_logits(model, logits, rows, padded, "forward");
  return select_rows(logits, out_rows);
}

at::Tensor forward_full(Denoiser& model, const Canvases& canvases, std::int64_t padded,
                        const std::vector<CacheSlot*>& slots, const HeadRows& head) {
  const PaddedBatch in = pad_canvases(model, canvases, padded);
  const auto rows = static_cast<std::int64_t>(canvases.size());
  const OutputRows out_rows = device_rows(model, head, padded);
  const bool fast = model.supports_fast_passes();
  KvOut out = fast ? model.forward_kv_rows(in.ids, in.mask, in.positions, out_rows)
                   : model.forward_kv(in.ids, in.mask, in.positions);
  check_logits(model, out.logits, rows, fast ? head.count : padded, fast ? "forward_kv_rows" : "forward_kv");
  check_kv(out, rows, padded, fast ? "forward_kv_rows" : "forward_kv");
  auto block = std::make_shared<CacheBlock>(CacheBlock{out.keys, out.values});
  for (std::size_t j = 0; j < slots.size(); ++j) {
    *slots[j] = CacheSlot{block, static_cast<std::int64_t>(j), canvases[j]};
  }
  return fast ? out.logits : select_rows(out.logits, out_rows);
}

at::Tensor forward_window(Denoiser& model, const Canvases& canvases,
                          const std::vector<std::int64_t>& lo, std::int64_t width,
                          std::int64_t padded, const std::vector<CacheSlot*>& slots,
                          const HeadRows& head, std::vector<double>* similarity) {
  const auto rows = static_cast<std::int64_t>(canvases.size());
  at::Tensor window = at::empty({rows, width}, at::kLong);
  at::Tensor pos = at::empty({rows, width}, at::kLong);
  at::Tensor offsets = at::empty({rows}, at::kLong);
  at::Tensor mask = at::zeros({rows, padded}, at::kBool);
  auto* win = window.data_ptr<std::int64_t>();
  auto* where = pos.data_ptr<std::int64_t>();
  auto* real = mask.data_ptr<bool>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& c = canvases[r];
    // Checked here, on the host, so that dlm::cache_write needs no host copy of the offsets.
    if (lo[r] < 0 || lo[r] + width > padded) {
      throw Error(fmt::format("window [{}, {}) outside a canvas padded to {}", lo[r],
                              lo[r] + width, padded));
    }
    for (std::int64_t t = 0; t < width; ++t) {
      win[r * width + t] = c[lo[r] + t];
      where[r * width + t] = lo[r] + t;
    }
    offsets.data_ptr<std::int64_t>()[r] = lo[r];
    std::fill(real + r * padded, real + r * padded + static_cast<std::int64_t>(c.size()), true);
  }
  const auto device = model.device();
  window = window.to(device);
  pos = pos.to(device);
  offsets = offsets.to(device);
  mask = mask.to(device);
  const auto block = gather_cache(slots);
  const OutputRows out_rows = device_rows(model, head, width);
  // The stable positions of each input and their cached last-layer keys, read before the
  // pass replaces them.
  const std::int64_t last = block->keys.size(0) - 1;
  std::vector<std::vector<std::int64_t>> stable(similarity ? rows : 0);
  std::vector<at::Tensor> cached(stable.size());
  for (std::size_t r = 0; r < stable.size(); ++r) {
    const auto& before = slots[r]->ids;
    for (std::int64_t t = 0; t < width; ++t) {
      const std::int64_t i = lo[r] + t;
      if (i < static_cast<std::int64_t>(before.size()) && before[i] == canvases[r][i]) stable[r].push_back(t);
    }
    cached[r] = block->keys[last][static_cast<std::int64_t>(r)].narrow(1, lo[r], width).clone();
  }
  at::Tensor logits;
  if (model.supports_fast_passes()) {
    logits = model.forward_window_update(window, pos, offsets, block->keys, block->values, mask,
                                         out_rows);
    check_logits(model, logits, rows, head.count, "forward_window_update");
  } else {
    KvOut out = model.forward_window(window, pos, offsets, block->keys, block->values, mask);
    check_logits(model, out.logits, rows, width, "forward_window");
    check_kv(out, rows, width, "forward_window");
    if (out.keys.size(0) != block->keys.size(0) || out.keys.size(2) != block->keys.size(2) ||
        out.keys.size(4) != block->keys.size(4)) {
      throw Error(fmt::format("the model's forward_window returned keys [{}] that do not fit its "
                              "cache [{}]: the checkpoint is broken, re-export it",
                              fmt::join(out.keys.sizes(), ", "), fmt::join(block->keys.sizes(), ", ")));
    }
    ops::cache_write(block->keys, out.keys, offsets);
    ops::cache_write(block->values, out.values, offsets);
    logits = select_rows(out.logits, out_rows);
  }
  if (similarity) {
    similarity->assign(static_cast<std::size_t>(rows), 1.0);
    for (std::int64_t r = 0; r < rows; ++r) {
      (*similarity)[r] = key_similarity(cached[r], block->keys[last][r].narrow(1, lo[r], width),
                                        stable[r]);
    }
  }
  for (std::int64_t r = 0; r < rows; ++r) slots[r]->ids = canvases[r];
  return logits;
}

}  // namespace dlm::sampling
