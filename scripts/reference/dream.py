"""Dream's diffusion_generate (timestep schedule), in plain PyTorch / numpy.

t runs over linspace(1, eps, steps + 1) in float32. Scored rules (maskgit_plus,
topk_margin, entropy, and LLaDA-style scores) reveal k = int(n_masked * (1 - s/t))
positions per step (all remaining on the last), by top-k or by alg_temp sampling;
`origin` reveals each masked position independently with probability 1 - s/t and
runs the model every step. dlm skips the forward of a scored step that reveals nothing.
"""
from __future__ import annotations

from typing import List

import numpy as np


from common import (Canvas, Model, Processors, dlm_rng, new_canvas, propose, row_of, scored_step,
                    span_logits, token_rule, top_k_selector)


def timesteps(eps: float, steps: int) -> np.ndarray:
    """linspace(1, eps, steps + 1) in float32, torch's symmetric scalar formula."""
    n = steps + 1
    start, end = np.float32(1.0), np.float32(eps)
    step = (end - start) / np.float32(n - 1)
    return np.array([start + step * np.float32(i) if i < n // 2 else end - step * np.float32(n - i - 1)
                     for i in range(n)], dtype=np.float32)


def reveal_step(c: Canvas, rule, opts: dict, p_transfer: np.float32, always_forward: bool) -> bool:
    """Each masked position revealed when its draw < p_transfer; tokens from the rule."""
    n = len(c.generated)
    reveal = [p for p in c.masked(0, n)
              if dlm_rng.uniforms(c.seed, p, c.step, dlm_rng.STREAM_REVEAL, [0])[0] < float(p_transfer)]
    rows = c.cached_rows if hasattr(c, "cached_rows") else None
    if always_forward or (reveal and (rows is None or c.changed)):
        rows = span_logits(c, 0, n, float(opts.get("cfg_scale", 0.0)))
        c.cached_rows, c.changed = rows, False
    processors = Processors(c, opts)  # the committed tokens before this step's reveals
    for p in reveal:
        row = processors.row(row_of(c.model, rows, len(c.prompt), 0, p), p)
        c.commit(p, propose(row, c.model.vocab, rule, c.seed, p, c.step)[0])
        c.changed = True
    c.step += 1
    return c.should_stop(opts.get("eos", "none"))


def generate(model: Model, prompt: List[int], opts: dict, always_forward: bool = True) -> Canvas:
    n = int(opts["max_new_tokens"])
    steps = int(opts["steps"])
    c = new_canvas(model, prompt, opts)
    rule = token_rule(opts, model)
    ts = timesteps(float(opts.get("eps", 1e-3)), steps)
    for i in range(steps):
        t, s = ts[i], ts[i + 1]
        last = i == steps - 1
        if rule.algorithm in ("origin", "ancestral"):
            p_transfer = np.float32(1.0) if last else np.float32(1.0) - s / t
            if reveal_step(c, rule, opts, p_transfer, always_forward):
                return c
            continue
        masked = len(c.masked(0, n))
        k = masked if last else int(np.float32(masked) * (np.float32(1.0) - s / t))
        if k == 0:
            c.step += 1
            continue
        if scored_step(c, 0, n, rule, opts, top_k_selector(k, opts, c)):
            return c
    return c
