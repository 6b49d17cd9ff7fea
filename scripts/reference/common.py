"""Shared pieces of dlm's reference samplers: the checkpoint, the token rule (candidate
and score per masked position) and the selection rules, in plain PyTorch / numpy.

Every random number comes from the Python twin of dlm's counter-based generator
(dlmpy/rng.py), keyed by (seed, position in the generated span, step, stream,
index), so a reference run and a dlm run with the same settings draw the same numbers.
Arithmetic is float64 with sequential sums (np.cumsum), the order dlm's C++ uses.

Logits come from KVCache: plain forward calls, or Fast-dLLM's prefix/dual key/value
cache on the block schedule (full passes at block boundaries, window passes between).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import torch

from dlmpy import checkpoint
from dlmpy import rng as dlm_rng

NEG_INF = -np.inf
PAD_MULTIPLE = 16  # dlm's default --pad-multiple (GenerateOptions::pad_multiple)


def match_dlm_threads(threads: int) -> None:
    """Same thread layout as dlm: OpenBLAS on `threads` threads, torch's pool at one (torch's
    pool at `threads` where OpenBLAS is not the BLAS)."""
    torch.set_num_threads(threads)
    for name in ("openblas", "blas"):
        path = ctypes.util.find_library(name)
        if not path:
            continue
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(threads)
            torch.set_num_threads(1)
            return


class Model:
    """A dlm checkpoint (format v1) run through torch.jit. `dlm`: the dlm executable, which
    tokenizes prompts of checkpoints with a Hugging Face tokenizer (kind "hf")."""

    def __init__(self, path: str, dlm: Optional[str] = None):
        self.path, self.dlm = path, dlm
        loaded = checkpoint.load(path)
        self.module = loaded.module
        self.config = loaded.config
        self.tokenizer_model = loaded.tokenizer
        self.vocab = int(self.config["vocab_size"])
        self.mask_id = int(self.config["mask_token_id"])
        self.eos_id = int(self.config["eos_token_id"])
        self.eot_id = self.config.get("eot_token_id")
        self.shifted = self.config.get("logits", "aligned") == "shifted"
        self.nfe = 0

    def encode_prompt(self, text: str) -> List[int]:
        """The prompt's ids as dlm encodes them: bos (if add_bos) then the tokenizer's ids.
        Kind "sentencepiece" here; kind "hf" through `DLM tokenize -m MODEL -p TEXT --json`
        (one JSON list of ids, without bos)."""
        ids = [int(self.config["bos_token_id"])] if self.config.get("add_bos", True) else []
        kind = self.config.get("tokenizer", "sentencepiece")
        if kind == "hf":
            return ids + self.dlm_tokenize(text)
        if kind != "sentencepiece":
            raise SystemExit(f"{self.path}: unknown tokenizer kind {kind!r}")
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_proto=self.tokenizer_model)
        return ids + list(sp.encode(text))

    def dlm_tokenize(self, text: str) -> List[int]:
        if not self.dlm:
            raise SystemExit(f"{self.path} has a Hugging Face tokenizer (kind hf): the reference "
                             "tokenizes its prompts with dlm; give --dlm PATH (the dlm executable)")
        r = subprocess.run([self.dlm, "tokenize", "-m", self.path, "-p", text, "--json"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{self.dlm} tokenize failed (exit {r.returncode}): {r.stderr.strip()}")
        try:
            ids = json.loads(r.stdout)
            assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
        except (ValueError, AssertionError):
            raise SystemExit(f"{self.dlm} tokenize --json printed {r.stdout[:80]!r}, not a JSON list of ids")
        return ids

    @property
    def has_cache(self) -> bool:
        """Whether the checkpoint exports the cache methods forward_kv and forward_window."""
        return hasattr(self.module, "forward_kv") and hasattr(self.module, "forward_window")

    def layout(self, ids: Sequence[int]):
        """dlm's layout of one canvas: input ids right-padded with the pad id to a multiple of
        PAD_MULTIPLE, attention mask true for real tokens, positions 0..L-1 (0 for padding)."""
        length = len(ids)
        padded = -(-length // PAD_MULTIPLE) * PAD_MULTIPLE
        x = torch.full((1, padded), int(self.config["pad_token_id"]), dtype=torch.long)
        x[0, :length] = torch.tensor(list(ids), dtype=torch.long)
        mask = torch.zeros((1, padded), dtype=torch.bool)
        mask[0, :length] = True
        positions = torch.zeros((1, padded), dtype=torch.long)
        positions[0, :length] = torch.arange(length)
        return x, mask, positions

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [L, V'] float32 of one canvas, run in dlm's layout (padding masked out as keys)."""
        self.nfe += 1
        with torch.inference_mode():
            return self.module(*self.layout(ids))[0, :len(ids)].float()

    def forward_kv(self, ids: Sequence[int]):
        """The cache's full pass: forward()'s logits [L, V'] and every layer's keys and values
        of the padded canvas, [n_layers, 1, H, padded, head_dim] each."""
        self.nfe += 1
        with torch.inference_mode():
            logits, keys, values = self.module.forward_kv(*self.layout(ids))
        return logits[0, :len(ids)].float(), keys, values

    def forward_window(self, ids: Sequence[int], lo: int, hi: int, keys: torch.Tensor,
                       values: torch.Tensor):
        """The cache's window pass: only canvas[lo:hi] runs (true positions lo..hi-1), against
        the cache `keys`/`values` in which its fresh keys/values replace entries lo..hi-1;
        queries attend to the L real positions. Returns the window's logits [hi - lo, V'] and
        its fresh keys/values [n_layers, 1, H, hi - lo, head_dim]; the cache is not modified."""
        self.nfe += 1
        key_mask = torch.zeros((1, keys.shape[3]), dtype=torch.bool)
        key_mask[0, :len(ids)] = True
        window = torch.tensor([list(ids[lo:hi])], dtype=torch.long)
        positions = torch.arange(lo, hi, dtype=torch.long).unsqueeze(0)
        offsets = torch.tensor([lo], dtype=torch.long)
        with torch.inference_mode():
            logits, fresh_keys, fresh_values = self.module.forward_window(
                window, positions, offsets, keys, values, key_mask)
        return logits[0].float(), fresh_keys, fresh_values

    def out_row(self, i: int) -> int:
        """Output row predicting canvas index i (Dream's shifted logits: i - 1)."""
        return max(i - 1, 0) if self.shifted else i


CACHE_MODES = ("none", "prefix", "dual", "elastic")


def cache_mode(opts: dict, model: Model) -> str:
    """The settings' cache mode, "auto" resolved as dlm resolves it: dual on the block
    schedule when the checkpoint has the cache methods, else none."""
    mode = opts.get("cache", "none")
    block = opts.get("schedule", "block") == "block"
    if mode == "auto":
        return "dual" if block and model.has_cache else "none"
    if mode not in CACHE_MODES:
        raise ValueError(f"cache: unknown mode {mode!r}")
    if mode != "none" and not block:
        raise ValueError("cache: prefix and dual need the block schedule")
    if mode != "none" and not model.has_cache:
        raise ValueError("cache: the checkpoint has no forward_kv/forward_window")
    return mode


class KVCache:
    """Where the logits of one model input come from (CFG's two inputs, the canvas and the
    prompt-masked canvas, keep one each, with the same full/window decisions).

    mode "none": every call runs Model.forward on the whole canvas. "prefix"/"dual":
    Fast-dLLM's key/value cache, as dlm runs it. Within a block (start_block() at its start)
    call number c (from 0) is a FULL pass when c == 0 or (refresh > 0 and c % refresh == 0):
    the whole padded canvas through forward_kv, whose logits are forward()'s and whose
    keys/values become the cache. Any other call is a WINDOW pass over canvas[lo:hi], with
    lo = out_row(block start) (so the block's first prediction is fresh even for shifted
    logits) and hi = the block end (dual) or the canvas end (prefix); the window's fresh
    keys/values are written back into the cache at [lo, hi), so the cache stays current
    there while the rest stays as the last full pass left it.

    mode "elastic": dual, plus Elastic-Cache's idea of refreshing only when the cache has
    gone stale, tested on what the model API returns (keys, not attention weights): a
    window pass measures, at each window position whose token is the same as at this
    input's previous call ("stable"), the cosine similarity (float64) between the last
    layer's fresh key and the cached key it replaces; when the lowest is below `gamma`,
    the next call is a full pass (`stale`; with guidance the two inputs' tests combine, see
    span_logits)."""

    def __init__(self, model: Model, mode: str = "none", refresh: int = 0, gamma: float = 0.9):
        if refresh < 0:
            raise ValueError("cache_refresh must be >= 0")
        self.model, self.mode, self.refresh, self.gamma = model, mode, refresh, gamma
        self.keys: Optional[torch.Tensor] = None
        self.values: Optional[torch.Tensor] = None
        self.calls = 0
        self.stale = False
        self.similarity = 1.0
        self.last_ids: List[int] = []

    def start_block(self) -> None:
        self.calls = 0
        self.stale = False

    def rows(self, ids: List[int], block: tuple, lo: int, hi: int) -> torch.Tensor:
        """Output rows [lo, hi) of canvas `ids`, whose current block is canvas[block[0]:block[1]]
        (rows of that block's predictions only, when the cache is on)."""
        if self.mode == "none":
            return self.model.forward(ids)[lo:hi]
        full = self.calls == 0 or (self.refresh > 0 and self.calls % self.refresh == 0) or self.stale
        self.calls += 1
        self.stale, self.similarity = False, 1.0
        if full:
            logits, self.keys, self.values = self.model.forward_kv(ids)
            self.last_ids = list(ids)
            return logits[lo:hi]
        start = self.model.out_row(block[0])
        end = len(ids) if self.mode == "prefix" else block[1]
        assert start <= lo and hi <= end, "rows outside the window"
        logits, fresh_keys, fresh_values = self.model.forward_window(ids, start, end, self.keys,
                                                                     self.values)
        if self.mode == "elastic":
            stable = [t for t in range(end - start)
                      if start + t < len(self.last_ids) and self.last_ids[start + t] == ids[start + t]]
            self.similarity = key_similarity(self.keys[-1, 0, :, start:end], fresh_keys[-1, 0], stable)
            self.stale = self.similarity < self.gamma
        self.last_ids = list(ids)
        with torch.inference_mode():
            self.keys[:, :, :, start:end] = fresh_keys
            self.values[:, :, :, start:end] = fresh_values
        return logits[lo - start:hi - start]


def key_similarity(cached: torch.Tensor, fresh: torch.Tensor, stable: List[int]) -> float:
    """Lowest cosine similarity (float64) of the stable positions' keys [H, W, hd], heads
    concatenated; 1 when none is stable. The same ATen operations as dlm's forward.cpp."""
    if not stable:
        return 1.0
    with torch.inference_mode():
        where = torch.tensor(stable, dtype=torch.long)
        a = cached.index_select(1, where).permute(1, 0, 2).reshape(len(stable), -1).to(torch.float64)
        b = fresh.index_select(1, where).permute(1, 0, 2).reshape(len(stable), -1).to(torch.float64)
        cos = (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1)).clamp_min(1e-300)
        return float(cos.min().item())


def row_of(model: Model, rows: np.ndarray, prompt_len: int, a: int, p: int) -> np.ndarray:
    return rows[model.out_row(prompt_len + p) - model.out_row(prompt_len + a)]


@dataclass
class TokenRule:
    style: str = "llada"          # llada | dream
    algorithm: str = "confidence"  # confidence | margin | entropy | random | origin | ancestral
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    banned: List[int] = field(default_factory=list)
    deferred: List[int] = field(default_factory=list)


def softmax(l: np.ndarray) -> np.ndarray:
    e = np.exp(l - l.max())
    return e / np.cumsum(e)[-1]


def apply_filters(l: np.ndarray, top_k: int, top_p: float, min_p: float = 0.0) -> np.ndarray:
    """Dream's top_p_logits, then top_k_logits, then Hugging Face's MinPLogitsWarper (ids
    whose probability is below min_p times the largest): excluded ids become -inf."""
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
    if min_p > 0:
        p = softmax(l)
        l[p < min_p * p.max()] = NEG_INF
    return l


def propose(row: np.ndarray, vocab: int, rule: TokenRule, seed: int, pos: int, step: int):
    """(token, score) of one masked position; see include/dlm/sampling/scoring.h."""
    l = row[:vocab].astype(np.float64)
    l[rule.banned] = NEG_INF
    t = rule.temperature
    filtered = apply_filters(l / t if t > 0 else l, rule.top_k, rule.top_p, rule.min_p)
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


def select_entropy_bounded(scores: Sequence[float], entropies: Sequence[float],
                           gamma: float) -> List[int]:
    """EB-sampler (arXiv 2505.24857): positions best score first (the error proxy), the
    longest prefix U of that order with sum_{i in U} H_i - max_{i in U} H_i <= gamma (the
    first always passes); sequential float64 sums, as dlm."""
    out: List[int] = []
    total, largest = 0.0, 0.0
    for i in ranked(scores):
        h = float(entropies[i])
        total += h
        largest = max(largest, h)
        if out and total - largest > gamma:
            break
        out.append(i)
    return sorted(out)


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
                     top_p=float(opts.get("top_p", 1.0)), min_p=float(opts.get("min_p", 0.0)),
                     banned=[model.mask_id] + (ends if eos == "suppress" else []),  # never the mask
                     deferred=ends if eos == "defer" else [])


@dataclass
class Canvas:
    """prompt ++ generated span, with the step counter shared by every sampler and the
    key/value cache of each model input (the canvas; CFG's prompt-masked canvas)."""
    model: Model
    prompt: List[int]
    generated: List[int]
    seed: int
    step: int = 0
    cache: str = "none"
    cache_refresh: int = 0
    suffix_window: int = 0  # DPad's bounded suffix: positions visible past the block (0: all)

    elastic_gamma: float = 0.9

    def __post_init__(self) -> None:
        self.caches = tuple(KVCache(self.model, self.cache, self.cache_refresh, self.elastic_gamma)
                            for _ in range(2))

    @property
    def ids(self) -> List[int]:
        return self.prompt + self.generated

    def start_block(self) -> None:
        """A new block begins: its first model call is a full pass."""
        for cache in self.caches:
            cache.start_block()

    def commit(self, p: int, token: int) -> None:
        self.generated[p] = token

    def masked(self, a: int, b: int) -> List[int]:
        return [p for p in range(a, b) if self.generated[p] == self.model.mask_id]

    def should_stop(self, eos_policy: str) -> bool:
        return eos_policy == "stop" and final_prefix_has_eos(self.generated, self.model.mask_id,
                                                             self.model.eos_id)


def new_canvas(model: Model, prompt: List[int], opts: dict) -> Canvas:
    """max_new_tokens masks after the prompt, with the settings' seed and cache."""
    n = int(opts["max_new_tokens"])
    return Canvas(model, list(prompt), [model.mask_id] * n, int(opts.get("seed", 0)),
                  cache=cache_mode(opts, model), cache_refresh=int(opts.get("cache_refresh", 0)),
                  suffix_window=int(opts.get("suffix_window", 0)),
                  elastic_gamma=float(opts.get("elastic_gamma", 0.9)))


def span_logits(c: Canvas, a: int, b: int, cfg_scale: float) -> np.ndarray:
    """Rows predicting generated positions [a, b) (the current block, on the block schedule),
    float32 (LLaDA's guidance when cfg_scale > 0: a second pass with every prompt position
    masked, u + (w + 1) * (c - u))."""
    model, prompt_len = c.model, len(c.prompt)
    block = (prompt_len + a, prompt_len + b)
    lo, hi = model.out_row(prompt_len + a), model.out_row(prompt_len + b - 1) + 1
    # DPad's bounded suffix: the model sees the canvas up to suffix_window positions past
    # the block; the later masks are not in the call at all (their turn comes with their block).
    visible = prompt_len + b + c.suffix_window if c.suffix_window > 0 else len(c.ids)
    conditional, unconditional = c.caches
    rows = conditional.rows(c.ids[:visible], block, lo, hi)
    if cfg_scale > 0:
        u = unconditional.rows(([model.mask_id] * prompt_len + c.generated)[:visible], block, lo, hi)
        rows = u + (cfg_scale + 1) * (rows - u)
        # dlm refreshes a row's caches together: stale when either input's keys drifted.
        conditional.stale = unconditional.stale = conditional.stale or unconditional.stale
    return rows.contiguous().numpy()


class Processors:
    """Hugging Face's logits processors that read the canvas, as dlm applies them (see
    include/dlm/sampling/logits_processors.h) to the float32 rows before the token rule:
    RepetitionPenaltyLogitsProcessor over the committed tokens (prompt and committed
    generated ids, read once per step) and min_new_tokens (eos and eot at -inf at generated
    positions < N). The same torch operations as dlm, so the same float32 values."""

    def __init__(self, c: "Canvas", opts: dict):
        self.penalty = float(opts.get("repeat_penalty", 1.0))
        self.min_new = int(opts.get("min_new_tokens", 0))
        model = c.model
        self.ends = [model.eos_id] + ([int(model.eot_id)] if model.eot_id is not None else [])
        vocab = model.vocab
        self.present = sorted({t for t in c.ids if t != model.mask_id and 0 <= t < vocab})

    def row(self, row: np.ndarray, p: int) -> np.ndarray:
        """The processed copy of the logits row predicting generated position p."""
        t = torch.from_numpy(np.array(row, dtype=np.float32))
        if self.penalty != 1.0 and self.present:
            ids = torch.tensor(self.present, dtype=torch.long)
            logits = t.index_select(0, ids)
            t.index_copy_(0, ids, torch.where(logits < 0, logits * self.penalty, logits / self.penalty))
        if p < self.min_new:
            t[[e for e in self.ends if 0 <= e < t.shape[0]]] = float("-inf")
        return t.numpy()


def entropy_rule(rule: TokenRule) -> TokenRule:
    """The rule scoring each candidate by its (negative) entropy, deferral off: EB-sampler's
    bound reads H = -score of it."""
    return TokenRule(style=rule.style, algorithm="entropy", temperature=rule.temperature,
                     top_k=rule.top_k, top_p=rule.top_p, min_p=rule.min_p, banned=rule.banned,
                     deferred=[])


def editing(opts: dict) -> bool:
    """Whether LLaDA 2.1's token editing (edit_threshold) is on."""
    return opts.get("edit_threshold") is not None


def token_edits(c: Canvas, rows: np.ndarray, a: int, b: int, rule: TokenRule, opts: dict) -> list:
    """LLaDA 2.1's token-to-token editing (T2T; inclusionAI's JointThreshold): each position
    of [a, b) committed before this step takes the rule's candidate when it differs from
    the current token and its probability (the confidence rule's score: softmax of the
    unperturbed logits at the candidate for llada, of the filtered ones for dream; -inf
    for a deferred end id) is > edit_threshold. Returns (position, token) pairs."""
    if not editing(opts):
        return []
    threshold = float(opts["edit_threshold"])
    p_rule = TokenRule(style=rule.style, algorithm="confidence", temperature=rule.temperature,
                       top_k=rule.top_k, top_p=rule.top_p, banned=rule.banned,
                       deferred=rule.deferred)
    out = []
    for p in range(a, b):
        if c.generated[p] == c.model.mask_id:
            continue
        token, prob = propose(row_of(c.model, rows, len(c.prompt), a, p), c.model.vocab, p_rule,
                              c.seed, p, c.step)
        if token != c.generated[p] and prob > threshold:
            out.append((p, token))
    return out


def edit_block(c: Canvas, a: int, b: int, rule: TokenRule, opts: dict) -> bool:
    """Token editing's post steps once block [a, b) has no mask: at most max_post_steps
    model calls, each applying token_edits, ending early at a call that edits nothing.
    Then the block is final: True when generation should stop (eos stop reads the text
    only up to the open block while editing)."""
    if not editing(opts):
        return False
    for _ in range(int(opts.get("max_post_steps", 16))):
        rows = span_logits(c, a, b, float(opts.get("cfg_scale", 0.0)))
        edits = token_edits(c, rows, a, b, rule, opts)
        for p, token in edits:
            c.commit(p, token)
        c.step += 1
        if not edits:
            break
    return c.should_stop(opts.get("eos", "none"))


def scored_step(c: Canvas, a: int, b: int, rule: TokenRule, opts: dict, select,
                with_entropy: bool = False) -> bool:
    """One forward on the canvas; propose for the masked positions of [a, b); commit the
    positions `select(scores, positions)` returns (`select(scores, entropies, positions)`
    with_entropy), and with token editing the edits of the block's committed positions.
    True when generation should stop (with editing, only edit_block says so)."""
    rows = span_logits(c, a, b, float(opts.get("cfg_scale", 0.0)))
    edits = token_edits(c, rows, a, b, rule, opts)
    positions = c.masked(a, b)
    processors = Processors(c, opts)
    logits = [processors.row(row_of(c.model, rows, len(c.prompt), a, p), p) for p in positions]
    proposals = [propose(l, c.model.vocab, rule, c.seed, p, c.step) for l, p in zip(logits, positions)]
    if with_entropy:
        h_rule = entropy_rule(rule)
        entropies = [-propose(l, c.model.vocab, h_rule, c.seed, p, c.step)[1]
                     for l, p in zip(logits, positions)]
        chosen = select([s for _, s in proposals], entropies, positions)
    else:
        chosen = select([s for _, s in proposals], positions)
    for i in chosen:
        c.commit(positions[i], proposals[i][0])
    for p, token in edits:
        c.commit(p, token)
    c.step += 1
    return not editing(opts) and c.should_stop(opts.get("eos", "none"))


def top_k_selector(k: int, opts: dict, c: Canvas):
    alg_temp = float(opts.get("alg_temp", 0.0))
    if alg_temp > 0:
        return lambda scores, positions: select_sampled(scores, positions, k, alg_temp, c.seed, c.step)
    return lambda scores, positions: select_top_k(scores, k)
