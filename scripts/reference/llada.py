"""LLaDA's semi-autoregressive sampler (generate.py), in plain PyTorch.

The generated span splits into blocks; each block gets its share of the steps and
commits masked // steps positions per step (plus one on the first masked % steps);
each step runs the model on the whole canvas, proposes a candidate per masked position
of the block and commits the top-k scores (or Dream's alg_temp draw). dlm's length
contract extends the reference where it asserts divisibility: a shorter last block and
the remaining steps to the first blocks. With a key/value cache (settings "cache",
"cache_refresh"; see common.KVCache) the steps are the same; only their logits' source changes.
With token editing (edit_threshold, see common.token_edits) every step also edits the
block's committed tokens, and a filled block gets edit_block's post steps before its
spare steps.
"""
from __future__ import annotations

from typing import List

from common import Canvas, Model, edit_block, new_canvas, scored_step, token_rule, top_k_selector


def plan_blocks(gen_length: int, block_length: int, steps: int) -> List[tuple]:
    """(start, length, steps) per block."""
    block = min(block_length, gen_length)
    blocks = -(-gen_length // block)
    return [(b * block, min(block, gen_length - b * block), steps // blocks + (1 if b < steps % blocks else 0))
            for b in range(blocks)]


def num_transfer_tokens(masked: int, steps: int) -> List[int]:
    return [masked // steps + (1 if i < masked % steps else 0) for i in range(steps)]


def generate(model: Model, prompt: List[int], opts: dict) -> Canvas:
    c = new_canvas(model, prompt, opts)
    n = len(c.generated)
    rule = token_rule(opts, model)
    for start, length, steps in plan_blocks(n, int(opts["block_length"]), int(opts["steps"])):
        c.start_block()
        spare = 0
        for k in num_transfer_tokens(length, steps):
            if k == 0:  # a ragged block's spare steps (always last) commit nothing
                spare += 1
                continue
            if scored_step(c, start, start + length, rule, opts, top_k_selector(k, opts, c)):
                return c
        if edit_block(c, start, start + length, rule, opts):
            return c
        c.step += spare
    return c
