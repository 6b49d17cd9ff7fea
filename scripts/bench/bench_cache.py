#!/usr/bin/python3
"""Measure dlm's key/value cache modes (the README's cache figures) on the shipped model.

Speed: for a few held-out prompts of 64 tokens, runs
  dlm generate -p PROMPT -n 256 --steps 256 --block-length 32 --temperature 0 --cache MODE --json
for MODE in none, prefix, dual (interleaved per prompt, so that machine load hits every
mode alike) and reports tokens/s (generated positions per second of generation, load
excluded), forward calls, cache size, and the ratios to `none`.

Agreement: runs `dlm batch` over held-out prompts (scripts/data/heldout_prompts.jsonl)
with each mode, and with `--cache dual --cache-refresh 1`, and compares each mode's
generated tokens with the uncached run position by position (the whole canvas span is
compared through the output's token_ids, which end at the first eos: a position past one
run's end counts as a disagreement). `--cache-refresh 1` must agree 100%.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_cache.py [--dlm build/dlm] [--prompts 3]
       [--agree-prompts 32] [--agree-n 64] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from dlmpy.kjv import heldout_prompts
from dlmpy.paths import ROOT, SCRIPT_DATA

MODES = ["none", "prefix", "dual"]


def speed(args) -> list:
    prompts = heldout_prompts(args.prompts, 64)
    rows = []
    for i, prompt in enumerate(prompts):
        for mode in MODES:
            cmd = [args.dlm, "generate", "-p", prompt, "-n", str(args.n), "--steps", str(args.steps), "--eos", "none",
                   "--block-length", str(args.block_length), "--temperature", "0", "--seed", str(i),
                   "-t", str(args.threads), "--cache", mode, "--json"]
            rec = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            t = rec["timings_ms"]
            rows.append({"prompt": i, "mode": mode, "tokens_per_s": args.n * 1000 / (t["total"] - t["load"]),
                         "nfe": rec["nfe"], "cache_bytes": rec["cache"]["bytes"],
                         "prompt_tokens": rec["usage"]["prompt_tokens"], "tokens": rec["token_ids"]})
            print(f"prompt {i} ({rec['usage']['prompt_tokens']} tokens) {mode}: "
                  f"{rows[-1]['tokens_per_s']:.2f} tokens/s", file=sys.stderr)
    return rows


def batch_tokens(args, records: Path, out_dir: Path, name: str, extra: list) -> dict:
    out = out_dir / f"{name}.jsonl"
    cmd = [args.dlm, "batch", "-i", str(records), "-o", str(out), "--overwrite", "-q",
           "-n", str(args.agree_n), "--steps", str(args.agree_n), "--eos", "none", "--block-length", "32",
           "--temperature", "0", "--batch-size", "16", "-t", str(args.threads)] + extra
    subprocess.run(cmd, check=True)
    return {r["id"]: r["token_ids"] for r in map(json.loads, out.read_text().splitlines())}


def agreement(reference: dict, other: dict) -> tuple:
    same = total = exact = 0
    for key, ref in reference.items():
        got = other[key]
        n = max(len(ref), len(got))
        same += sum(1 for a, b in zip(ref, got) if a == b)
        total += n
        exact += ref == got
    return same / max(total, 1), exact


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--agree-prompts", type=int, default=32)
    ap.add_argument("--agree-n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    rows = speed(args) if args.prompts > 0 else []
    if rows:
        base = statistics.median(r["tokens_per_s"] for r in rows if r["mode"] == "none")
        print(f"\nSpeed: 64-token held-out prompts, {args.n} new tokens, {args.steps} steps, block "
              f"{args.block_length}, temperature 0, {args.threads} threads, {args.prompts} prompts, medians\n")
        print("| cache | tokens/s | x none | forward calls | cache size | tokens equal to none |")
        print("|---|---|---|---|---|---|")
        for mode in MODES:
            sel = [r for r in rows if r["mode"] == mode]
            tps = statistics.median(r["tokens_per_s"] for r in sel)
            none = {r["prompt"]: r["tokens"] for r in rows if r["mode"] == "none"}
            same = sum(r["tokens"] == none[r["prompt"]] for r in sel)
            print(f"| {mode} | {tps:.2f} | {tps / base:.2f} | {statistics.median(r['nfe'] for r in sel):.0f} | "
                  f"{statistics.median(r['cache_bytes'] for r in sel) / 2**20:.1f} MiB | {same}/{len(sel)} |")

    if args.agree_prompts > 0:
        lines = (SCRIPT_DATA / "heldout_prompts.jsonl").read_text().splitlines()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            records = tmp / "prompts.jsonl"
            records.write_text("\n".join(json.dumps({"id": json.loads(l)["id"], "prompt": json.loads(l)["prompt"]})
                                         for l in lines[:args.agree_prompts]) + "\n")
            runs = {"none": batch_tokens(args, records, tmp, "none", ["--cache", "none"])}
            for mode in ("prefix", "dual"):
                runs[mode] = batch_tokens(args, records, tmp, mode, ["--cache", mode])
            runs["dual, refresh 1"] = batch_tokens(args, records, tmp, "refresh1",
                                                   ["--cache", "dual", "--cache-refresh", "1"])
            runs["dual, refresh 4"] = batch_tokens(args, records, tmp, "refresh4",
                                                   ["--cache", "dual", "--cache-refresh", "4"])
        print(f"\nAgreement with uncached generation: {args.agree_prompts} held-out prompts, "
              f"{args.agree_n} new tokens, {args.agree_n} steps, block 32, temperature 0\n")
        print("| cache | tokens equal to none | identical completions |")
        print("|---|---|---|")
        for name, toks in runs.items():
            if name == "none":
                continue
            frac, exact = agreement(runs["none"], toks)
            print(f"| {name} | {100 * frac:.1f}% | {exact}/{len(toks)} |")


if __name__ == "__main__":
    main()
