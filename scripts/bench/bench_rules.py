#!/usr/bin/python3
"""Speed and forward calls of every unmasking rule on the shipped model.

Runs `dlm generate -n 128 --block-length 32 --steps 128 --json` per rule over a few
held-out prompts and prints a Markdown table: tokens/s (generated positions per second
of generation, median), forward calls (mean), and tokens committed per forward call.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_rules.py [--dlm build/dlm] [--prompts 2] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess

from dlmpy.kjv import heldout_prompts
from dlmpy.paths import ROOT

RULES = [
    ("confidence", []),
    ("margin", ["--algorithm", "margin"]),
    ("entropy", ["--algorithm", "entropy"]),
    ("random", ["--algorithm", "random"]),
    ("confidence, dream style, T=0.8", ["--style", "dream", "--temperature", "0.8"]),
    ("confidence, timestep", ["--schedule", "timestep"]),
    ("origin (timestep, dream)", ["--schedule", "timestep", "--algorithm", "origin", "--style", "dream",
                                  "--temperature", "1"]),
    ("ancestral (timestep, dream)", ["--schedule", "timestep", "--algorithm", "ancestral", "--style", "dream",
                                     "--temperature", "1"]),
    ("confidence + alg-temp 0.5", ["--alg-temp", "0.5"]),
    ("confidence + cfg-scale 1", ["--cfg-scale", "1"]),
    ("threshold 0.9", ["--threshold", "0.9"]),
    ("factor 1", ["--factor", "1"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    prompts = heldout_prompts(args.prompts, 64)
    print("| rule | tokens/s (median) | forward calls (mean) | tokens per forward call |")
    print("|---|---|---|---|")
    for name, extra in RULES:
        speeds, nfes = [], []
        for i, prompt in enumerate(prompts):
            cmd = [args.dlm, "generate", "-q", "-p", prompt, "-n", "128", "--steps", "128", "--eos", "none", "--block-length",
                   "32", "--seed", str(i), "-t", str(args.threads), "--json", *extra]
            rec = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            t = rec["timings_ms"]
            speeds.append(128 / ((t["total"] - t["load"]) / 1000))
            nfes.append(rec["nfe"])
        nfe = statistics.mean(nfes)
        print(f"| {name} | {statistics.median(speeds):.2f} | {nfe:.1f} | {128 / nfe:.2f} |", flush=True)


if __name__ == "__main__":
    main()
