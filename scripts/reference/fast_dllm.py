"""Fast-dLLM's parallel decoding on LLaDA's blocks (NVlabs, generate.py), in plain PyTorch,
and the EB-sampler (entropy-bounded unmasking, arXiv 2505.24857) on the same loop.

Each block loops until it has no masks; every step runs the model once and commits
by the threshold rule (the best always, every other whose score >= threshold), by
the factor rule (sorted scores against 1 - factor / (j + 1)) or by the entropy bound
(best score first while the entropies' sum minus their largest stays <= eb_gamma);
--steps is ignored. With token editing (edit_threshold) each step also edits the block's
committed tokens and a filled block gets common.edit_block's post steps.
"""
from __future__ import annotations

from typing import List

from common import (Canvas, Model, edit_block, new_canvas, scored_step, select_entropy_bounded,
                    select_factor, select_threshold, token_rule)
from llada import plan_blocks


def generate(model: Model, prompt: List[int], opts: dict) -> Canvas:
    c = new_canvas(model, prompt, opts)
    n = len(c.generated)
    rule = token_rule(opts, model)
    eb = opts.get("eb_gamma") is not None
    if eb:
        gamma = float(opts["eb_gamma"])
        select = lambda scores, entropies, positions: select_entropy_bounded(scores, entropies, gamma)  # noqa: E731
    elif opts.get("threshold") is not None:
        threshold = float(opts["threshold"])
        select = lambda scores, positions: select_threshold(scores, threshold)  # noqa: E731
    else:
        factor = float(opts["factor"])
        select = lambda scores, positions: select_factor(scores, factor)  # noqa: E731
    for start, length, _ in plan_blocks(n, int(opts["block_length"]), n):
        c.start_block()
        while c.masked(start, start + length):
            if scored_step(c, start, start + length, rule, opts, select, with_entropy=eb):
                return c
        if edit_block(c, start, start + length, rule, opts):
            return c
    return c
