"""Shared pieces of dlm's reference samplers: the checkpoint, the token rule (candidate
and score per masked position) and the selection rules, in plain PyTorch / numpy.

Every random number comes from the Python twin of dlm's counter-based generator
(scripts/dlm_rng.py), keyed by (seed, position in the generated span, step, stream,
index), so a reference run and a dlm run with the same settings draw the same numbers.
Arithmetic is float64 with sequential sums (np.cumsum), the order dlm's C++ uses.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import dlm_rng  # noqa: E402

NEG_INF = -np.inf
PAD_MULTIPLE = 16  # dlm's default --pad-multiple (GenerateOptions::pad_multiple)


def match_dlm_threads(threads: int) -> None:
    """Same thread layout as dlm: torch intra-op threads, OpenBLAS single-threaded."""
    torch.set_num_threads(threads)
    for name in ("openblas", "blas"):
        path = ctypes.util.find_library(name)
        if not path:
            continue
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(1)
            return


class Model:
    """A dlm checkpoint (format v1) run through torch.jit."""

    def __init__(self, path: str):
        extra = {"config.json": "", "tokenizer.model": ""}
        self.module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
        self.module.eval()
        self.config = json.loads(extra["config.json"])
        self.tokenizer_model = extra["tokenizer.model"]
        self.vocab = int(self.config["vocab_size"])
        self.mask_id = int(self.config["mask_token_id"])
        self.eos_id = int(self.config["eos_token_id"])
        self.eot_id = self.config.get("eot_token_id")
        self.shifted = self.config.get("logits", "aligned") == "shifted"
        self.nfe = 0

    def encode_prompt(self, text: str) -> List[int]:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_proto=self.tokenizer_model)
        ids = [int(self.config["bos_token_id"])] if self.config.get("add_bos", True) else []
        return ids + list(sp.encode(text))

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [L, V'] float32 of one canvas, run in dlm's layout: right-padded with the pad
        id to a multiple of PAD_MULTIPLE, padding masked out as keys, positions 0..L-1."""
        self.nfe += 1
        length = len(ids)
        padded = -(-length // PAD_MULTIPLE) * PAD_MULTIPLE
        x = torch.full((1, padded), int(self.config["pad_token_id"]), dtype=torch.long)
        x[0, :length] = torch.tensor(list(ids), dtype=torch.long)
        mask = torch.zeros((1, padded), dtype=torch.bool)
        mask[0, :length] = True
        positions = torch.zeros((1, padded), dtype=torch.long)
        positions[0, :length] = torch.arange(length)
        with torch.inference_mode():
            return self.module(x, mask, positions)[0, :length].float()

    def out_row(self, i: int) -> int:
        """Output row predicting canvas index i (Dream's shifted logits: i - 1)."""
        return max(i - 1, 0) if self.shifted else i


def span_logits(model: Model, canvas: List[int], prompt_len: int, a: int, b: int,
                cfg_scale: float) -> np.ndarray:
    """Rows predicting generated positions [a, b), float32 (LLaDA's guidance when cfg_scale > 0:
    a second pass with every prompt position masked, u + (w + 1) * (c - u))."""
    lo, hi = model.out_row(prompt_len + a), model.out_row(prompt_len + b - 1) + 1
    rows = model.forward(canvas)[lo:hi]
    if cfg_scale > 0:
        uncond = [model.mask_id] * prompt_len + canvas[prompt_len:]
        u = model.forward(uncond)[lo:hi]
        rows = u + (cfg_scale + 1) * (rows - u)
    return rows.contiguous().numpy()


def row_of(model: Model, rows: np.ndarray, prompt_len: int, a: int, p: int) -> np.ndarray:
    return rows[model.out_row(prompt_len + p) - model.out_row(prompt_len + a)]


@dataclass
class TokenRule:
    style: str = "llada"          # llada | dream
    algorithm: str = "confidence"  # confidence | margin | entropy | random | origin | ancestral
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    banned: List[int] = field(default_factory=list)
    deferred: List[int] = field(default_factory=list)


def softmax(l: np.ndarray) -> np.ndarray:
    e = np.exp(l - l.max())
    return e / np.cumsum(e)[-1]


def apply_filters(l: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """Dream's top_p_logits then top_k_logits: excluded ids become -inf."""
    l = l.copy()
    n = len(l)
    if top_p < 1.0:
        order = np.argsort(-l, kind="stable")
        cum = np.cumsum(softmax(l[order]))
        remove = np.zeros(n, dtype=bool)
        remove[1:] = cum[:-1] > top_p  # shifted right: the id that crosses top_p stays
        l[order[remove]] = NEG_INF
    if 0 < top_k < n:
        kth = np.sort(l)[::-1][top_k - 1]
        l[l < kth] = NEG_INF
    return l


def propose(row: np.ndarray, vocab: int, rule: TokenRule, seed: int, pos: int, step: int):
    """(token, score) of one masked position; see include/dlm/scoring.h."""
    l = row[:vocab].astype(np.float64)
    l[rule.banned] = NEG_INF
    t = rule.temperature
    filtered = apply_filters(l / t if t > 0 else l, rule.top_k, rule.top_p)
    if rule.style == "llada":
        if t == 0:
            token = int(np.argmax(np.where(filtered == NEG_INF, NEG_INF, l)))
        else:
            u = dlm_rng.uniform_array(seed, pos, step, dlm_rng.STREAM_GUMBEL, vocab)
            with np.errstate(divide="ignore"):
                noisy = np.exp(l) / np.power(-np.log(u), t)  # LLaDA's add_gumbel_noise, float64
            token = int(np.argmax(np.where(filtered == NEG_INF, NEG_INF, noisy)))
        dist = softmax(l)
    else:
        dist = softmax(filtered)
        if t == 0:
            token = int(np.argmax(dist))
        else:
            u = dlm_rng.uniforms(seed, pos, step, dlm_rng.STREAM_TOKEN_SAMPLE, [0])[0]
            cum = np.cumsum(dist)
            token = min(int(np.searchsorted(cum, u * cum[-1], side="right")), vocab - 1)
            while token > 0 and dist[token] == 0.0:
                token -= 1
    if token in rule.deferred:
        return token, NEG_INF
    if rule.algorithm == "margin":
        top = np.sort(dist)[::-1]
        return token, float(top[0] - top[1])
    if rule.algorithm == "entropy":
        return token, float(np.cumsum(dist * np.log(dist + 1e-10))[-1])
    if rule.algorithm == "random":
        return token, dlm_rng.uniforms(seed, pos, step, dlm_rng.STREAM_POSITION_SCORE, [0])[0]
    return token, float(dist[token])


def ranked(scores: Sequence[float]) -> List[int]:
    """Indices by descending score, ties to the lowest index."""
    return [int(i) for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]


def select_top_k(scores: Sequence[float], k: int) -> List[int]:
    return sorted(ranked(scores)[:k])


def select_threshold(scores: Sequence[float], threshold: float) -> List[int]:
    """Fast-dLLM: always the best; every other whose score >= threshold."""
    order = ranked(scores)
    return sorted(order[:1] + [i for i in order[1:] if scores[i] >= threshold])


def select_factor(scores: Sequence[float], factor: float) -> List[int]:
    """Fast-dLLM's factor rule, its treatment of the last candidate included."""
    order = ranked(scores)
    m = len(order)
    count = m
    for j in range(2, m + 1):
        if scores[order[j - 1]] < 1.0 - factor / (j + 1):
            count = m if j == m else j - 1
            break
    return sorted(order[:count])


def select_sampled(scores: Sequence[float], positions: Sequence[int], k: int, alg_temp: float,
                   seed: int, step: int) -> List[int]:
    """Dream's alg_temp draw without replacement from softmax(score / alg_temp), as Gumbel-top-k."""
    keys = []
    for s, p in zip(scores, positions):
        u = dlm_rng.uniforms(seed, p, step, dlm_rng.STREAM_SELECT, [0])[0]
        keys.append(s / alg_temp - np.log(-np.log(u)))
    return select_top_k(keys, k)


def final_prefix_has_eos(generated: List[int], mask_id: int, eos_id: int) -> bool:
    for tok in generated:
        if tok == mask_id:
            return False
        if tok == eos_id:
            return True
    return False


def token_rule(opts: dict, model: Model) -> TokenRule:
    ends = [model.eos_id] + ([int(model.eot_id)] if model.eot_id is not None else [])
    eos = opts.get("eos", "none")
    return TokenRule(style=opts.get("style", "llada"), algorithm=opts.get("algorithm", "confidence"),
                     temperature=float(opts.get("temperature", 0.0)), top_k=int(opts.get("top_k", 0)),
                     top_p=float(opts.get("top_p", 1.0)),
                     banned=ends if eos == "suppress" else [], deferred=ends if eos == "defer" else [])


@dataclass
class Canvas:
    """prompt ++ generated span, with the step counter shared by every sampler."""
    model: Model
    prompt: List[int]
    generated: List[int]
    seed: int
    step: int = 0

    @property
    def ids(self) -> List[int]:
        return self.prompt + self.generated

    def commit(self, p: int, token: int) -> None:
        self.generated[p] = token

    def masked(self, a: int, b: int) -> List[int]:
        return [p for p in range(a, b) if self.generated[p] == self.model.mask_id]

    def should_stop(self, eos_policy: str) -> bool:
        return eos_policy == "stop" and final_prefix_has_eos(self.generated, self.model.mask_id,
                                                             self.model.eos_id)


def scored_step(c: Canvas, a: int, b: int, rule: TokenRule, opts: dict, select) -> bool:
    """One forward on the canvas; propose for the masked positions of [a, b); commit the
    positions `select(scores, positions)` returns. True when generation should stop."""
    rows = span_logits(c.model, c.ids, len(c.prompt), a, b, float(opts.get("cfg_scale", 0.0)))
    positions = c.masked(a, b)
    proposals = [propose(row_of(c.model, rows, len(c.prompt), a, p), c.model.vocab, rule, c.seed, p, c.step)
                 for p in positions]
    for i in select([s for _, s in proposals], positions):
        c.commit(positions[i], proposals[i][0])
    c.step += 1
    return c.should_stop(opts.get("eos", "none"))


def top_k_selector(k: int, opts: dict, c: Canvas):
    alg_temp = float(opts.get("alg_temp", 0.0))
    if alg_temp > 0:
        return lambda scores, positions: select_sampled(scores, positions, k, alg_temp, c.seed, c.step)
    return lambda scores, positions: select_top_k(scores, k)
