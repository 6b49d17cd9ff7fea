"""The masked-diffusion objective (LLaDA / MDLM): the 1/t-weighted masked cross-entropy
per token (the NELBO), its mask ratios, and its held-out measurement."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlmpy.kjv import MASK_ID

MIN_T = 1e-3  # the smallest mask ratio drawn in training: bounds the 1/t weight


def mask_ratios(gen: torch.Generator, batch: int) -> Tensor:
    """Per-row mask ratios in [MIN_T, 1), low-discrepancy across the batch as in MDLM:
    t_i = (u + i/B) mod 1, which tames the variance of the 1/t weight."""
    u = float(torch.rand((), generator=gen))
    return ((u + torch.arange(batch) / batch) % 1.0) * (1 - MIN_T) + MIN_T


def masked_nelbo(model: nn.Module, x: Tensor, t: Tensor, gen: torch.Generator) -> Tensor:
    """1/t-weighted masked cross-entropy per token: every position but 0 (<bos>) of row i
    is masked with probability t[i]; the noise is drawn on the CPU from `gen`."""
    noise = torch.rand(x.shape, generator=gen, device="cpu").to(x.device)
    masked = noise < t[:, None]
    masked[:, 0] = False
    logits = model(torch.where(masked, torch.full_like(x, MASK_ID), x))
    ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x.reshape(-1),
                         reduction="none").view(x.shape)
    return (ce * masked / t[:, None]).sum() / (x.shape[0] * (x.shape[1] - 1))


@torch.no_grad()
def heldout_nelbo(model: nn.Module, rows: Tensor, device: str, n_t: int = 8) -> float:
    """NELBO in nats/token over `rows` with fixed masks (seeded) at t = 1/16, 3/16, ...,
    15/16 (n_t = 8): comparable across runs and checkpoints."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    total, count = 0.0, 0
    for k in range(n_t):
        t = torch.full((rows.shape[0],), (k + 0.5) / n_t, device=device)
        for i in range(0, rows.shape[0], 32):
            x = rows[i:i + 32].to(device)
            total += float(masked_nelbo(model, x, t[:x.shape[0]], gen)) * x.shape[0]
            count += x.shape[0]
    model.train(was_training)
    return total / count
