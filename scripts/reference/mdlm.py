"""MDLM's ancestral sampler with the log-linear schedule (ddpm_cache), in plain PyTorch.

From t to s a masked position stays masked with probability s/t, else takes a token
drawn from the model's distribution; the model is not time-conditioned, so its output
is reused while the canvas is unchanged, and a step that reveals nothing needs none.
The same reverse process as Dream's `origin`, without the wasted forward calls.
"""
from __future__ import annotations

from typing import List

import dream
from common import Canvas, Model


def generate(model: Model, prompt: List[int], opts: dict) -> Canvas:
    return dream.generate(model, prompt, opts, always_forward=False)
