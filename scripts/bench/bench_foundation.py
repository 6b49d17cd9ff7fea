#!/usr/bin/python3
"""Measure `dlm generate` on the shipped model (the foundation issue's figures).

For a few held-out prompts of 64 tokens, runs
  dlm generate -p PROMPT -n 256 --steps 256 --block-length 32 --temperature T --json --stats
and reports load time, tokens/s (generated positions per second of generation),
the share of generation wall time spent outside the model's forward, and the share of
generated words that are KJV words (words of the training verses). Prints a Markdown
table and the samples.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_foundation.py [--dlm build/dlm] [--prompts 3]
       [--temperatures 0,0.8] [-n 256] [--steps 256] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys

from dlmpy.kjv import heldout_prompts, read_kjv
from dlmpy.paths import ROOT

WORD = re.compile(r"[A-Za-z]+")


def kjv_words() -> set:
    """Every word of the KJV's verses, lower-cased."""
    return {w.lower() for _, text in read_kjv() for w in WORD.findall(text)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--temperatures", default="0,0.8")
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    vocab = kjv_words()
    prompts = heldout_prompts(args.prompts, 64)
    rows = []
    for temp in (float(t) for t in args.temperatures.split(",")):
        for i, prompt in enumerate(prompts):
            cmd = [args.dlm, "generate", "-p", prompt, "-n", str(args.n), "--steps", str(args.steps), "--eos", "none",
                   "--block-length", str(args.block_length), "--temperature", str(temp),
                   "--seed", str(i), "-t", str(args.threads), "--json", "--stats"]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rec = json.loads(proc.stdout)
            t = rec["timings_ms"]
            gen_s = (t["total"] - t["load"]) / 1000
            words = WORD.findall(rec["text"])
            rows.append({
                "temperature": temp, "prompt": prompt, "text": rec["text"],
                "prompt_tokens": rec["usage"]["prompt_tokens"], "load_ms": t["load"],
                "tokens_per_s": args.n / gen_s, "outside_pct": 100 * (1 - t["forward"] / (t["total"] - t["load"])),
                "words": len(words), "kjv_words": sum(w.lower() in vocab for w in words),
                "finish_reason": rec["finish_reason"], "completion_tokens": rec["usage"]["completion_tokens"],
            })
            print(f"T={temp} prompt {i}: {rows[-1]['tokens_per_s']:.2f} tok/s, "
                  f"outside {rows[-1]['outside_pct']:.2f}%, load {t['load']:.0f} ms", file=sys.stderr)

    print(f"\n{args.n} new tokens, {args.steps} steps, block {args.block_length}, "
          f"{args.threads} threads, 64-token held-out prompts\n")
    print("| temperature | runs | load ms (median) | tokens/s (median) | outside forward % (median) | KJV words | completion tokens (mean) |")
    print("|---|---|---|---|---|---|---|")
    for temp in sorted({r["temperature"] for r in rows}):
        sel = [r for r in rows if r["temperature"] == temp]
        words = sum(r["words"] for r in sel)
        kjv = sum(r["kjv_words"] for r in sel)
        print(f"| {temp} | {len(sel)} | {statistics.median(r['load_ms'] for r in sel):.0f} | "
              f"{statistics.median(r['tokens_per_s'] for r in sel):.2f} | "
              f"{statistics.median(r['outside_pct'] for r in sel):.2f} | "
              f"{100 * kjv / max(words, 1):.1f}% of {words} | "
              f"{statistics.mean(r['completion_tokens'] for r in sel):.1f} |")
    print("\nSamples:")
    for r in rows:
        print(f"- T={r['temperature']} [{r['finish_reason']}] PROMPT: {r['prompt']}\n  COMPLETION:{r['text']}")


if __name__ == "__main__":
    main()
