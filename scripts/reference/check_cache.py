#!/usr/bin/python3
"""Self-check of the reference's key/value cache (common.KVCache), Python alone.

1. cache_refresh = 1 makes every call a full pass, so prefix and dual must give exactly the
   uncached tokens and nfe (asserted, over block, threshold, factor, CFG, eos and ragged
   settings, both temperatures, both the aligned and a shifted-logits checkpoint).
2. Plain prefix/dual (stale cache between full passes) against uncached at temperature 0:
   the share of generated positions with the same token, over held-out prompts, and where
   each run first differs.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/reference/check_cache.py [--model M] [--shifted S]
       [--prompts 24] [--tokens 64] [--block 32] [--steps 64]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dlmpy.paths import ROOT, SCRIPT_DATA, SHIPPED_MODEL

from common import Model, match_dlm_threads
from run_cases import DEFAULTS, sampler_for

# Settings of the exactness check (cache_refresh = 1), on 24 tokens.
EXACT = [
    {"block_length": 8},
    {"block_length": 8, "algorithm": "margin"},
    {"block_length": 16, "cfg_scale": 1.0},
    {"block_length": 8, "eos": "defer"},
    {"max_new_tokens": 30, "block_length": 8, "steps": 20},
    {"block_length": 8, "threshold": 0.7},
    {"block_length": 16, "factor": 1.0},
]


def run(model: Model, prompt: list, opts: dict) -> tuple:
    model.nfe = 0
    canvas = sampler_for(opts)(model, prompt, opts)
    return canvas.generated, model.nfe


def check_exact(model: Model, prompts: list) -> int:
    """Asserts cache_refresh = 1 == uncached; returns the number of runs compared."""
    count = 0
    for i, setting in enumerate(EXACT):
        for temperature in (0.0, 0.9):
            opts = {**DEFAULTS, "max_new_tokens": 24, "steps": 12, **setting,
                    "temperature": temperature, "seed": 7 + i, "cache": "none"}
            prompt = model.encode_prompt(prompts[i % len(prompts)])
            plain = run(model, prompt, opts)
            for mode in ("prefix", "dual"):
                cached = run(model, prompt, {**opts, "cache": mode, "cache_refresh": 1})
                assert cached == plain, f"cache_refresh=1 {mode} differs: {setting} T={temperature}"
                count += 1
    return count


def agreement(model: Model, prompts: list, args) -> None:
    """Token agreement of prefix and dual with uncached at temperature 0."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=model.tokenizer_model)
    base = {**DEFAULTS, "max_new_tokens": args.tokens, "block_length": args.block,
            "steps": args.steps, "temperature": 0.0}
    results = {}
    for mode in ("none", "prefix", "dual"):
        start = time.perf_counter()
        results[mode] = [run(model, model.encode_prompt(p), {**base, "cache": mode}) for p in prompts]
        seconds = time.perf_counter() - start
        nfe = sum(n for _, n in results[mode])
        print(f"  {mode:6s}: {seconds:6.1f} s, nfe {nfe}")
    for mode in ("prefix", "dual"):
        same = sum(a == b for (x, _), (y, _) in zip(results["none"], results[mode]) for a, b in zip(x, y))
        whole = sum(x == y for (x, _), (y, _) in zip(results["none"], results[mode]))
        total = len(prompts) * args.tokens
        first = sorted(next((p for p, (a, b) in enumerate(zip(x, y)) if a != b), len(x))
                       for (x, _), (y, _) in zip(results["none"], results[mode]))
        print(f"  {mode} vs none: {same}/{total} tokens agree ({100.0 * same / total:.1f}%), "
              f"{whole}/{len(prompts)} spans identical; first differing position per prompt: {first}")
    for i in range(min(3, len(prompts))):
        print(f"  prompt: {prompts[i]!r}")
        for mode in ("none", "prefix", "dual"):
            ids = [t for t in results[mode][i][0] if t < sp.get_piece_size()]
            print(f"    {mode:6s}: {sp.decode(ids)!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--shifted", default=str(ROOT / "tests/data/shifted-tiny.pt"))
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dlm", help="dlm executable: tokenizes prompts of checkpoints with a "
                    "Hugging Face tokenizer (kind hf)")
    args = ap.parse_args()
    match_dlm_threads(args.threads)
    with open(SCRIPT_DATA / "heldout_prompts.jsonl") as f:
        prompts = [json.loads(line)["prompt"] for line in f][:args.prompts]
    model = Model(args.model, dlm=args.dlm)
    for path in (args.model, args.shifted):
        n = check_exact(Model(path, dlm=args.dlm), prompts)
        print(f"{Path(path).name}: cache_refresh=1 == uncached in {n} runs")
    print(f"{Path(args.model).name}: {len(prompts)} prompts, {args.tokens} tokens, "
          f"block {args.block}, {args.steps} steps, T=0")
    agreement(model, prompts, args)


if __name__ == "__main__":
    main()
