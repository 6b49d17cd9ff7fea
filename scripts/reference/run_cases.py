#!/usr/bin/python3
"""Run dlm's reference samplers over a list of cases in one process.

Input (file argument or stdin): a JSON list of {"prompt": str, "options": {...},
optionally "config": a TOML preset of dlm generate, whose keys the options override} with
dlm's option names in snake_case (max_new_tokens, steps, block_length, temperature,
seed, algorithm, style, schedule, eps, top_k, top_p, min_p, repeat_penalty, min_new_tokens,
threshold, factor, eb_gamma, alg_temp, cfg_scale, eos, cache, cache_refresh, elastic_gamma, suffix_window, edit_threshold,
max_post_steps). Output: one JSON line per case: {"generated":
the final span, "nfe": forward calls}.

With --dlm PATH, the defaults for keys a case omits are dlm's own (`PATH options --json`,
the option registry); without it, the copy in DEFAULTS. Checkpoints with a Hugging Face
tokenizer (config "tokenizer": "hf") need --dlm: their prompts are tokenized by
`dlm tokenize`.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/reference/run_cases.py --model M [--dlm build/dlm] [--threads 2] cases.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import dream
import fast_dllm
import llada
import mdlm
from common import Model, match_dlm_threads


def sampler_for(opts: dict):
    """The reference a setting reproduces."""
    if opts.get("schedule", "block") == "timestep":
        return mdlm.generate if opts.get("algorithm") == "ancestral" else dream.generate
    if any(opts.get(key) is not None for key in ("threshold", "factor", "eb_gamma")):
        return fast_dllm.generate
    return llada.generate


# dlm generate's defaults (include/dlm/sampling/options.h GenerateOptions) for keys a case
# omits, when run without --dlm (scripts/reference/check_cache.py imports them too).
DEFAULTS = {"max_new_tokens": 128, "steps": 128, "block_length": 32, "temperature": 0.0, "seed": 0,
            "algorithm": "confidence", "style": "llada", "schedule": "block", "eps": 1e-3,
            "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0, "min_new_tokens": 0,
            "alg_temp": 0.0, "cfg_scale": 0.0, "eos": "stop",
            "cache": "auto", "cache_refresh": 0, "elastic_gamma": 0.9, "suffix_window": 0,
            "max_post_steps": 16}


def registry_defaults(dlm: str) -> dict:
    """Every option's default from dlm's option registry, by snake_case key."""
    out = subprocess.run([dlm, "options", "--json"], check=True, capture_output=True, text=True).stdout
    return {entry["key"]: entry["default"] for entry in json.loads(out)}


def preset(path: str) -> dict:
    """A dlm TOML preset with its long option names as snake_case keys."""
    import tomllib
    with open(path, "rb") as f:
        return {key.replace("-", "_"): value for key, value in tomllib.load(f).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dlm", help="dlm executable whose option registry gives the defaults "
                    "(and which tokenizes prompts of checkpoints with a Hugging Face tokenizer)")
    ap.add_argument("cases", nargs="?", default="-")
    args = ap.parse_args()
    match_dlm_threads(args.threads)
    defaults = registry_defaults(args.dlm) if args.dlm else DEFAULTS
    cases = json.load(sys.stdin if args.cases == "-" else open(args.cases))
    model = Model(args.model, dlm=args.dlm)
    for case in cases:
        given = {**(preset(case["config"]) if case.get("config") else {}), **case["options"]}
        opts = {**defaults, **given}
        if "steps" not in given:  # as dlm: steps follow max_new_tokens unless given
            opts["steps"] = opts["max_new_tokens"]
        model.nfe = 0
        prompt = model.encode_prompt(case["prompt"])
        canvas = sampler_for(opts)(model, prompt, opts)
        print(json.dumps({"generated": canvas.generated, "nfe": model.nfe}), flush=True)


if __name__ == "__main__":
    main()
