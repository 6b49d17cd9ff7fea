#!/usr/bin/python3
"""Throughput of `dlm batch` at --batch-size 1 versus 16 on the shipped model.

64 held-out prompts of mixed lengths (cut at 8..60 words), 64 new tokens, 64 steps,
run by `dlm batch` with each batch size (alternating, --rounds times, to share the
machine's noise), without the key/value cache and with the dual cache; prints generated
tokens/s (median) and peak memory (max RSS).

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_batch.py [--dlm build/dlm] [--rounds 1] [--threads 2]
       [--caches none,dual]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlmpy.kjv import heldout_texts
from dlmpy.paths import ROOT


def prompts(count: int) -> list:
    """`count` prompts of 8..60 words, each from three consecutive held-out verses."""
    texts = heldout_texts()
    out = []
    for i in range(count):
        words = " ".join(texts[3 * i:3 * i + 3]).split()
        out.append(" ".join(words[:8 + (i * 13) % 53]))
    return out


def run(dlm: str, inp: Path, batch_size: int, threads: int, cache: str) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        cmd = [dlm, "batch", "-q", "-i", str(inp), "-o", str(out), "-n", "64", "--steps", "64", "--eos", "none",
               "--batch-size", str(batch_size), "-t", str(threads), "--cache", cache]
        t0 = time.time()
        child = subprocess.Popen(cmd)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        seconds = time.time() - t0
        if status != 0:
            raise SystemExit(f"{' '.join(cmd)} failed with status {status}")
        peak_kb = usage.ru_maxrss
        records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 64 and all(r["finish_reason"] != "error" for r in records)
    return 64 * 64 / seconds, peak_kb / 1024, {r["id"]: r["token_ids"] for r in records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--caches", default="none,dual", help="cache modes to measure, comma-separated")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        inp.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p}) + "\n"
                               for i, p in enumerate(prompts(64))))
        runs = [(cache, bs) for cache in args.caches.split(",") for bs in (1, 16)]
        speeds = {run_key: [] for run_key in runs}
        peaks = {run_key: 0.0 for run_key in runs}
        tokens = {}
        for _ in range(args.rounds):
            for cache, bs in runs:
                speed, peak, toks = run(args.dlm, inp, bs, args.threads, cache)
                speeds[(cache, bs)].append(speed)
                peaks[(cache, bs)] = max(peaks[(cache, bs)], peak)
                tokens[(cache, bs)] = toks
                print(f"cache {cache}, batch-size {bs}: {speed:.2f} tokens/s", file=sys.stderr, flush=True)
    print("| cache | batch size | tokens/s (median, incl. load) | peak RSS MiB |")
    print("|---|---|---|---|")
    for cache, bs in runs:
        print(f"| {cache} | {bs} | {statistics.median(speeds[(cache, bs)]):.2f} | {peaks[(cache, bs)]:.0f} |")
    print()
    for cache in args.caches.split(","):
        one, sixteen = (cache, 1), (cache, 16)
        same = sum(tokens[one][k] == tokens[sixteen][k] for k in tokens[one])
        print(f"cache {cache}: speed-up 16 vs 1: "
              f"{statistics.median(speeds[sixteen]) / statistics.median(speeds[one]):.2f}x; "
              f"records with identical tokens in both runs: {same}/64")

if __name__ == "__main__":
    main()
