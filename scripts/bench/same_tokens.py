#!/usr/bin/python3
"""Same tokens before and after: run one fixed list of sampling settings through two dlm
binaries and require identical outputs, record by record.

The list is deterministic (362 settings; --quick: 43): every unmasking rule
(and the aliases), both schedules, both styles, every cache mode (auto, none, prefix, dual)
and --cache-refresh, eos policies, --threshold/--factor/--alg-temp/--cfg-scale, top-k/top-p,
stop strings, --pad-multiple, --eps, temperature 0 and 0.9, several seeds (the largest
64-bit one too), three prompts (one empty; two more of other lengths in the batch-invariance
file), the presets in configs/, and three models:
the shipped one (with the cache methods), tests/data/no-cache-tiny.pt (none) and
tests/data/shifted-tiny.pt (shifted logits). Categories:

- batch:           `dlm batch` runs, one per set of run-level flags (style, schedule, cache,
                   eos, factor, alg-temp, cfg-scale, pad-multiple, model), each over a JSONL
                   file whose records vary the per-record settings (length, steps, block
                   length, temperature, seed, algorithm, threshold, top-k/top-p, stop);
- batch-invariance: one file of mixed records (lengths, steps, temperatures, seeds, rules,
                   thresholds, prompts of different padded lengths) at --batch-size 1, 5 and
                   16, cache none and dual;
- generate:        `dlm generate --json` settings, presets included;
- refused:         invalid settings, which both binaries must refuse identically: the same
                   exit code and stderr for `generate`, the same `error` for batch records
                   (ids bad-*: bad per-record values, and per-record settings that clash
                   with run-level flags). A refusal where a run was meant, or the reverse,
                   is listed as a harness note.

Compared per setting: exit code and stderr (the batch summary's timing tail removed), and
every field of the output record but the timings (`timings_ms`, `elapsed_ms`): token_ids,
nfe, finish_reason, text, prompt_token_ids, usage, seed, cache, error, line. Within each
binary the batch-invariance records are also compared across batch sizes (a note, not a
failure: the before/after comparison already covers them).

Usage:
  /usr/bin/python3 scripts/bench/same_tokens.py --before /work/before/dlm --after build/dlm
      [--quick] [--out DIR] [--only TEXT] [--list] [--replace OLD NEW]... [--threads 1]
      [--timeout 600]

One dlm process at a time, -t 1, before and after alternating per process. Full: 362
settings in 88 processes per binary, about 6 minutes on a loaded 2-core machine (most of it
libtorch start-up, about 1 s a process); --quick: 43 settings in 19 processes, about 1
minute. If the after binary may be rebuilt during the run, copy it (with the
libdlm_spm.so beside it) and pass the copy. --replace accepts an intended change of a
message's wording (say a script's new path in a hint).

Prints a summary table (settings compared, identical, differing, refused identically) and
every difference (the command, the record, the first differing token index). Raw outputs,
inputs and report.txt / summary.json are written under --out (default: a new
/tmp/same_tokens-* folder). Exit code 0: everything identical; 1: some difference;
2: a binary is missing or unusable.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KJV = str(ROOT / "models" / "dlm-kjv-tiny.pt")
NOCACHE = str(ROOT / "tests" / "data" / "no-cache-tiny.pt")
SHIFTED = str(ROOT / "tests" / "data" / "shifted-tiny.pt")
CONFIGS = ROOT / "configs"

# Prompts end mid-verse, so that the model does not end the text at once.
P0 = "In the beginning God created the heaven"
P1 = "And the LORD said unto Moses,"
P2 = ""  # unconditional
PLONG = ("And it came to pass in those days, that there went out a decree from Caesar "
         "Augustus, that all the world should be taxed. And all went to be taxed, every one "
         "into his own city. And Joseph also went up")  # another padded length
MAXSEED = 2**64 - 1

IGNORED_FIELDS = {"timings_ms", "elapsed_ms"}
KEY_FIELDS = ["token_ids", "nfe", "finish_reason", "text", "error"]


# ----------------------------------------------------------------------------- settings

class Job:
    """One process per binary: a `generate` setting, or a `batch` run over records."""

    def __init__(self, name, category, kind, args, records=None):
        self.name, self.category, self.kind = name, category, kind
        self.args = [str(a) for a in args]
        self.records = records or []


def rec(prompt, n, steps=None, bl=None, temp=None, seed=None, alg=None, thr=None,
        top_p=None, top_k=None, stop=None, **extra):
    r = {"prompt": prompt, "max_new_tokens": n}
    for key, value in (("steps", steps), ("block_length", bl), ("temperature", temp),
                       ("seed", seed), ("algorithm", alg), ("threshold", thr),
                       ("top_p", top_p), ("top_k", top_k), ("stop", stop)):
        if value is not None:
            r[key] = value
    r.update(extra)
    return r


# Per-record sets (the block ones run with every cache mode). Short: few forward calls.
BLOCK_RECS = [
    rec(P0, 16, 8, 8, 0.0, 0, "confidence"),
    rec(P1, 24, 12, 8, 0.9, 1, "margin"),
    rec(P2, 16, 8, 16, 0.9, 7, "entropy"),
    rec(P0, 24, 8, 24, 0.9, 3, "random"),
    rec(P1, 20, 10, 8, 0.9, 11, "confidence", top_k=5),        # ragged last block
    rec(P0, 12, 12, 12, 0.9, 5, "topk_margin", top_p=0.9),
    rec(P1, 24, 24, 8, 0.0, 0, "confidence", thr=0.7),
    rec(P2, 16, 16, 8, 0.9, 2, "margin", thr=0.3),
    rec(P0, 16, 8, 16, 0.9, 4, "low_confidence", stop=[" the", ","]),
    rec(P1, 32, 8, 32, 0.9, MAXSEED, "maskgit_plus", top_p=0.95, top_k=3),
    rec(P0, 8, 4, 4, 0.0, 0, "random"),
]
TS_RECS = [
    rec(P0, 16, 8, None, 0.0, 0, "confidence"),
    rec(P1, 24, 12, None, 0.9, 1, "margin"),
    rec(P2, 16, 8, None, 0.9, 7, "entropy"),
    rec(P0, 16, 16, None, 0.9, 3, "random"),
    rec(P1, 20, 10, None, 0.9, 11, "origin"),
    rec(P0, 32, 16, None, 0.9, 5, "ancestral"),
    rec(P2, 16, 16, None, 0.0, 0, "ddpm_cache"),
    rec(P1, 16, 8, None, 0.9, 2, "origin", top_p=0.9, stop=" the"),
    rec(P0, 24, 12, None, 0.9, MAXSEED, "entropy", top_k=5),
    rec(P1, 12, 4, None, 0.0, 0, "topk_margin"),
]
EOS_RECS = [  # long enough for a verse to end
    rec(P0, 48, 16, 16, 0.9, 1, "confidence"),
    rec(P1, 40, 20, 8, 0.0, 0, "confidence"),
    rec(P2, 48, 24, 48, 0.9, 6, "margin"),
    rec(P1, 32, 32, 16, 0.9, 8, "entropy", thr=0.5),
    rec(P0, 36, 12, 12, 0.9, 2, "random", stop="LORD"),
]
EOS_TS_RECS = [
    rec(P0, 48, 16, None, 0.9, 1, "entropy"),
    rec(P1, 40, 20, None, 0.0, 0, "confidence"),
    rec(P2, 48, 24, None, 0.9, 6, "origin"),
    rec(P1, 32, 16, None, 0.9, 8, "ancestral"),
]
# One file of mixed records for batch sizes 1, 5 and 16 (block rules: dual needs block);
# prompts of four padded lengths, one record without a seed (derived from its id).
MIXED_RECS = [
    rec(P0, 16, 16, 8, 0.0, 0, "confidence"),
    rec(PLONG, 24, 12, 8, 0.9, 1, "margin"),
    rec(P2, 8, 8, 8, 0.9, 2, "entropy"),
    rec(P1, 32, 16, 16, 0.9, 3, "random"),
    rec(P0, 40, 40, 16, 0.9, 4, "confidence", thr=0.8),
    rec(PLONG, 20, 20, 32, 0.0, 0, "margin", thr=0.5),
    rec(P1, 12, 6, 4, 0.9, 5, "confidence", top_k=4),
    rec(P2, 32, 16, 8, 0.9, 6, "entropy", top_p=0.9),
    rec(P0, 24, 12, 24, 0.9, 7, "confidence", stop=[",", " and"]),
    rec(PLONG, 16, 8, 16, 0.9, MAXSEED, "random"),
    rec(P1, 36, 12, 12, 0.0, 0, "entropy"),
    rec(P0, 28, 28, 8, 0.9, 8, "margin", thr=0.9),
    rec(P2, 20, 10, 20, 0.0, 0, "confidence"),
    rec(PLONG, 44, 22, 16, 0.9, 9, "confidence"),
    rec(P1, 24, 12, 8, 0.9, 10, "margin", top_k=2, top_p=0.8),
    rec("And God said, Let there be light:", 32, 16, 32, 0.9, None, "confidence"),
]
# Refused per record ("finish_reason": "error"); ids "bad-*" count as category "refused".
BAD_BLOCK_RECS = [
    rec(P0, 8, 9, 8, 0.0, 0, "confidence", id="bad-steps-above-n"),
    rec(P0, 16, 16, 8, 0.0, 0, "origin", id="bad-origin-block"),
    rec(P1, 16, 16, 8, 0.9, 0, "confidence", top_p=0.0, id="bad-top-p-0"),
    rec(P1, 16, 16, 8, 0.9, 0, "confidence", top_p=1.5, id="bad-top-p-1.5"),
    rec(P1, 16, 16, 8, 0.9, 0, "confidence", top_k=-1, id="bad-top-k-negative"),
    rec(P1, 16, 16, 8, 0.0, 0, "confidence", thr=1.5, id="bad-threshold-1.5"),
    rec(P1, 16, 16, 8, 0.0, 0, "confidence", thr=0.0, id="bad-threshold-0"),
    rec(P2, 16, 2, 4, 0.0, 0, "confidence", id="bad-steps-below-blocks"),
    rec(P0, 16, 16, 8, 0.0, 0, "bogus", id="bad-algorithm"),
    rec(P0, 16, 16, 8, -1.0, 0, "confidence", id="bad-temperature"),
    rec(P0, 0, 1, 8, 0.0, 0, "confidence", id="bad-n-zero"),
    rec(P0, 16, 16, 0, 0.0, 0, "confidence", id="bad-block-zero"),
    rec(P0, 511, 511, 511, 0.0, 0, "confidence", id="bad-too-long"),
    {"id": "bad-no-prompt", "max_new_tokens": 8, "steps": 8},
]
BAD_TS_RECS = [
    rec(P0, 16, 16, None, 0.0, 0, "confidence", thr=0.5, id="bad-threshold-timestep"),
    rec(P1, 16, 16, None, 0.9, 0, "ancestral", thr=0.5, id="bad-threshold-ancestral"),
]
BAD_FACTOR_RECS = [rec(P1, 16, 16, 8, 0.0, 0, "confidence", thr=0.5, id="bad-threshold-factor")]
BAD_ALGTEMP_RECS = [rec(P1, 16, 16, 8, 0.0, 0, "margin", thr=0.5, id="bad-threshold-algtemp")]


def batch_jobs(quick: bool) -> list:
    jobs = []

    def group(name, args, records, category="batch", bs=16):
        jobs.append(Job(name, category, "batch",
                        list(args) + ["--batch-size", bs], [dict(r) for r in records]))

    blk = ["--schedule", "block"]
    if quick:
        group("b-kjv-llada-none", ["-m", KJV, "--style", "llada", "--cache", "none"] + blk,
              BLOCK_RECS[:5] + BAD_BLOCK_RECS[:2])
        group("b-kjv-dream-dual", ["-m", KJV, "--style", "dream", "--cache", "dual"] + blk,
              BLOCK_RECS[5:10])
        group("b-kjv-ts-dream", ["-m", KJV, "--style", "dream", "--schedule", "timestep"],
              TS_RECS[3:8])
        group("b-shifted-prefix", ["-m", SHIFTED, "--style", "dream", "--cache", "prefix"] + blk,
              BLOCK_RECS[:3], bs=4)
        for cache in ("none", "dual"):
            for bs in (1, 16):
                group(f"inv-{cache}-bs{bs}", ["-m", KJV, "--cache", cache] + blk,
                      MIXED_RECS[:3], category="batch-invariance", bs=bs)
        return jobs

    # Block schedule: both styles, every cache mode, cache refresh; per-record refusals.
    group("b-kjv-llada-none", ["-m", KJV, "--style", "llada", "--cache", "none"] + blk,
          BLOCK_RECS + BAD_BLOCK_RECS)
    group("b-kjv-llada-prefix", ["-m", KJV, "--style", "llada", "--cache", "prefix"] + blk,
          BLOCK_RECS, bs=5)
    group("b-kjv-llada-dual", ["-m", KJV, "--style", "llada", "--cache", "dual"] + blk,
          BLOCK_RECS)
    group("b-kjv-llada-auto", ["-m", KJV, "--style", "llada", "--cache", "auto"] + blk,
          BLOCK_RECS[::3])
    group("b-kjv-dream-none", ["-m", KJV, "--style", "dream", "--cache", "none"] + blk,
          BLOCK_RECS)
    group("b-kjv-dream-dual", ["-m", KJV, "--style", "dream", "--cache", "dual"] + blk,
          BLOCK_RECS)
    group("b-kjv-dual-refresh2", ["-m", KJV, "--cache", "dual", "--cache-refresh", 2] + blk,
          BLOCK_RECS[1::2])
    group("b-kjv-dream-prefix-refresh1", ["-m", KJV, "--style", "dream", "--cache", "prefix",
                                          "--cache-refresh", 1] + blk, BLOCK_RECS[::2])
    # Timestep schedule: both styles, eps, cache auto (none there) and none, padding.
    group("b-kjv-ts-llada", ["-m", KJV, "--style", "llada", "--schedule", "timestep"],
          TS_RECS + BAD_TS_RECS)
    group("b-kjv-ts-dream", ["-m", KJV, "--style", "dream", "--schedule", "timestep",
                             "--cache", "none"], TS_RECS)
    group("b-kjv-ts-dream-eps1e-5-pad64", ["-m", KJV, "--style", "dream", "--schedule",
                                           "timestep", "--eps", "0.00001", "--cache", "auto",
                                           "--pad-multiple", 64], TS_RECS[::2], bs=3)
    # End-of-sequence policies, each under both schedules.
    group("b-kjv-eos-suppress-dual", ["-m", KJV, "--eos", "suppress", "--cache", "dual",
                                      "--style", "dream"] + blk, EOS_RECS)
    group("b-kjv-eos-defer-none", ["-m", KJV, "--eos", "defer", "--cache", "none"] + blk,
          EOS_RECS)
    group("b-kjv-eos-stop-dual", ["-m", KJV, "--eos", "stop", "--cache", "dual"] + blk,
          EOS_RECS)
    group("b-kjv-eos-suppress-ts", ["-m", KJV, "--eos", "suppress", "--schedule", "timestep"],
          EOS_TS_RECS)
    group("b-kjv-eos-defer-ts", ["-m", KJV, "--eos", "defer", "--schedule", "timestep",
                                 "--style", "dream"], EOS_TS_RECS)
    group("b-kjv-eos-stop-ts-eps0.2", ["-m", KJV, "--eos", "stop", "--schedule", "timestep",
                                       "--style", "dream", "--eps", 0.2], EOS_TS_RECS)
    # Run-level rules: factor, position draws (alg-temp), guidance, canvas padding.
    nothr = [r for r in BLOCK_RECS if "threshold" not in r]
    group("b-kjv-factor1-none", ["-m", KJV, "--factor", 1.0, "--cache", "none"] + blk,
          nothr[:5] + BAD_FACTOR_RECS)
    group("b-kjv-factor0.5-dual", ["-m", KJV, "--factor", 0.5, "--cache", "dual",
                                   "--style", "dream"] + blk, nothr[4:])
    group("b-kjv-algtemp0.5-none", ["-m", KJV, "--alg-temp", 0.5, "--cache", "none"] + blk,
          nothr[:5] + BAD_ALGTEMP_RECS)
    group("b-kjv-algtemp1-dual", ["-m", KJV, "--alg-temp", 1.0, "--cache", "dual",
                                  "--style", "dream"] + blk, nothr[4:])
    group("b-kjv-algtemp0.5-ts", ["-m", KJV, "--alg-temp", 0.5, "--schedule", "timestep",
                                  "--style", "dream"], TS_RECS[:4] + TS_RECS[8:])
    group("b-kjv-cfg1-none", ["-m", KJV, "--cfg-scale", 1.0, "--cache", "none"] + blk,
          BLOCK_RECS[:4])
    group("b-kjv-cfg0.5-dual", ["-m", KJV, "--cfg-scale", 0.5, "--cache", "dual",
                                "--style", "dream"] + blk, BLOCK_RECS[4:8])
    group("b-kjv-cfg1-ts", ["-m", KJV, "--cfg-scale", 1.0, "--schedule", "timestep"],
          TS_RECS[3:7])
    group("b-kjv-pad1-none", ["-m", KJV, "--pad-multiple", 1, "--cache", "none"] + blk,
          BLOCK_RECS[:6])
    group("b-kjv-pad7-dual", ["-m", KJV, "--pad-multiple", 7, "--cache", "dual"] + blk,
          BLOCK_RECS[5:])
    # Test models: shifted logits with cache methods; without cache methods (auto: none,
    # dual: every record refused).
    group("b-shifted-prefix", ["-m", SHIFTED, "--style", "dream", "--cache", "prefix"] + blk,
          BLOCK_RECS[:8], bs=4)
    group("b-shifted-dual", ["-m", SHIFTED, "--cache", "dual"] + blk, BLOCK_RECS[3:], bs=4)
    group("b-shifted-ts", ["-m", SHIFTED, "--style", "dream", "--schedule", "timestep"],
          TS_RECS)
    group("b-nocache-auto", ["-m", NOCACHE, "--cache", "auto"] + blk, BLOCK_RECS[:8])
    group("b-nocache-ts", ["-m", NOCACHE, "--schedule", "timestep"], TS_RECS[:6])
    group("b-nocache-dual", ["-m", NOCACHE, "--cache", "dual"] + blk,
          [dict(r, id=f"bad-nocache-dual-{i}") for i, r in enumerate(BLOCK_RECS[:2])])
    # Batch invariance: one mixed file at several batch sizes, cache none and dual.
    for cache in ("none", "dual"):
        for bs in ((1, 16) if cache == "none" else (1, 5, 16)):
            group(f"inv-{cache}-bs{bs}", ["-m", KJV, "--cache", cache] + blk, MIXED_RECS,
                  category="batch-invariance", bs=bs)
    return jobs


def gen(prompt, n, steps, *more, model=KJV):
    return ["-m", model, "-p", prompt, "-n", n, "--steps", steps] + list(more)


GENERATE = [  # (name, args)
    ("g-block-conf-none", gen(P0, 16, 16, "--cache", "none")),
    ("g-block-conf-auto-t0.9", gen(P1, 24, 12, "--block-length", 8, "--temperature", 0.9,
                                   "--seed", 3)),
    ("g-block-margin-dream-dual", gen(P1, 24, 12, "--algorithm", "margin", "--style", "dream",
                                      "--temperature", 0.9, "--seed", 1, "--cache", "dual",
                                      "--block-length", 12)),
    ("g-block-entropy-prefix-refresh3", gen(P2, 16, 16, "--algorithm", "entropy", "--cache",
                                            "prefix", "--cache-refresh", 3, "--block-length",
                                            8, "--temperature", 0.9, "--seed", 2)),
    ("g-block-random-pad7", gen(P0, 20, 10, "--algorithm", "random", "--temperature", 0.9,
                                "--seed", 4, "--cache", "none", "--block-length", 8,
                                "--pad-multiple", 7)),
    ("g-ts-conf-llada", gen(P0, 16, 16, "--schedule", "timestep")),
    ("g-ts-margin-dream-topk", gen(P1, 24, 12, "--schedule", "timestep", "--algorithm",
                                   "margin", "--style", "dream", "--temperature", 0.9,
                                   "--seed", 5, "--top-k", 5)),
    ("g-ts-entropy-dream-topp", gen(P2, 16, 16, "--schedule", "timestep", "--algorithm",
                                    "entropy", "--style", "dream", "--top-p", 0.95,
                                    "--temperature", 0.9)),
    ("g-ts-origin-dream", gen(P1, 24, 24, "--schedule", "timestep", "--algorithm", "origin",
                              "--style", "dream", "--temperature", 0.9, "--seed", 7)),
    ("g-ts-ancestral-mdlm", gen(P0, 32, 32, "--schedule", "timestep", "--algorithm",
                                "ancestral", "--style", "dream", "--temperature", 1.0,
                                "--eps", 0.00001, "--seed", 8)),
    ("g-threshold0.9-dual", gen(P0, 32, 32, "--threshold", 0.9, "--cache", "dual",
                                "--block-length", 16)),
    ("g-factor0.5-prefix-t0.9", gen(P1, 24, 24, "--factor", 0.5, "--cache", "prefix",
                                    "--temperature", 0.9, "--seed", 10, "--block-length", 8)),
    ("g-algtemp0.5-block", gen(P1, 16, 16, "--alg-temp", 0.5, "--block-length", 8,
                               "--temperature", 0.9, "--seed", 11)),
    ("g-algtemp1-ts-dream", gen(P0, 24, 12, "--alg-temp", 1.0, "--schedule", "timestep",
                                "--style", "dream", "--algorithm", "entropy")),
    ("g-cfg1-none", gen(P0, 16, 16, "--cfg-scale", 1.0, "--cache", "none", "--block-length", 8)),
    ("g-cfg0.5-dual-t0.9", gen(P1, 16, 8, "--cfg-scale", 0.5, "--cache", "dual",
                               "--temperature", 0.9, "--seed", 12, "--block-length", 8)),
    ("g-eos-suppress-dual", gen(P0, 48, 24, "--eos", "suppress", "--cache", "dual",
                                "--block-length", 16, "--temperature", 0.9, "--seed", 1)),
    ("g-eos-defer-none", gen(P1, 48, 24, "--eos", "defer", "--cache", "none",
                             "--block-length", 16)),
    ("g-eos-stop-auto", gen(P2, 48, 24, "--eos", "stop", "--block-length", 48,
                            "--temperature", 0.9, "--seed", 6)),
    ("g-eos-stop-ts", gen(P1, 40, 20, "--eos", "stop", "--schedule", "timestep",
                          "--style", "dream", "--algorithm", "entropy")),
    ("g-stop-two", gen(P0, 32, 16, "--stop", " the", "--stop", ",", "--temperature", 0.9,
                       "--seed", 14, "--block-length", 8)),
    ("g-refresh1-dual-pad1", gen(P0, 24, 24, "--cache", "dual", "--cache-refresh", 1,
                                 "--block-length", 8, "--pad-multiple", 1)),
    ("g-empty-maxseed", gen(P2, 16, 16, "--temperature", 0.9, "--seed", MAXSEED)),
    ("g-config-llada", ["--config", CONFIGS / "llada.toml"] + gen(P0, 16, 16)),
    ("g-config-dream", ["--config", CONFIGS / "dream.toml"] + gen(P1, 16, 16, "--seed", 20)),
    ("g-config-fast-dllm", ["--config", CONFIGS / "fast-dllm.toml"] + gen(P0, 32, 32)),
    ("g-config-mdlm", ["--config", CONFIGS / "mdlm.toml"] + gen(P1, 24, 24, "--seed", 21)),
    ("g-shifted-dual", gen(P0, 24, 24, "--cache", "dual", "--block-length", 8,
                           "--algorithm", "margin", "--style", "dream", "--temperature", 0.9,
                           model=SHIFTED)),
    ("g-shifted-ts-origin", gen(P2, 16, 16, "--schedule", "timestep", "--algorithm", "origin",
                                "--style", "dream", "--temperature", 0.9, "--seed", 3,
                                model=SHIFTED)),
    ("g-nocache-auto", gen(P0, 16, 16, "--block-length", 8, "--temperature", 0.9, "--seed", 4,
                           model=NOCACHE)),
]
REFUSED = [  # (name, args): run-level refusals, each must be refused identically
    ("r-origin-block", gen(P0, 8, 8, "--algorithm", "origin")),
    ("r-threshold-factor", gen(P0, 8, 8, "--threshold", 0.5, "--factor", 1)),
    ("r-factor-timestep", gen(P0, 8, 8, "--factor", 1, "--schedule", "timestep")),
    ("r-algtemp-factor", gen(P0, 8, 8, "--factor", 1, "--alg-temp", 0.5)),
    ("r-dual-timestep", gen(P0, 8, 8, "--cache", "dual", "--schedule", "timestep")),
    ("r-prefix-timestep", gen(P0, 8, 8, "--cache", "prefix", "--schedule", "timestep")),
    ("r-prefix-nocache", gen(P0, 8, 8, "--cache", "prefix", model=NOCACHE)),
    ("r-eos-bogus", gen(P0, 8, 8, "--eos", "bogus")),
    ("r-style-bogus", gen(P0, 8, 8, "--style", "bogus")),
    ("r-schedule-bogus", gen(P0, 8, 8, "--schedule", "bogus")),
    ("r-cache-bogus", gen(P0, 8, 8, "--cache", "bogus")),
    ("r-steps-above-n", gen(P0, 8, 9)),
    ("r-pad-zero", gen(P0, 8, 8, "--pad-multiple", 0)),
    ("r-refresh-negative", gen(P0, 8, 8, "--cache-refresh", -1)),
    ("r-eps-zero", gen(P0, 8, 8, "--schedule", "timestep", "--eps", 0)),
    ("r-factor-zero", gen(P0, 8, 8, "--factor", 0)),
    ("r-algtemp-negative", gen(P0, 8, 8, "--alg-temp", -1)),
    ("r-cfg-negative", gen(P0, 8, 8, "--cfg-scale", -1)),
    ("r-stop-empty", gen(P0, 8, 8, "--stop", "")),
    ("r-max-memory", gen(P0, 8, 8, "--max-memory", "1K")),
]
QUICK_GENERATE = ["g-block-conf-none", "g-block-margin-dream-dual", "g-ts-origin-dream",
                  "g-ts-ancestral-mdlm", "g-threshold0.9-dual", "g-cfg0.5-dual-t0.9",
                  "g-eos-stop-auto", "g-stop-two"]
QUICK_REFUSED = ["r-origin-block", "r-dual-timestep", "r-prefix-nocache"]


def build(quick: bool) -> list:
    jobs = batch_jobs(quick)
    for name, args in GENERATE:
        if not quick or name in QUICK_GENERATE:
            jobs.append(Job(name, "generate", "generate", args))
    for name, args in REFUSED:
        if not quick or name in QUICK_REFUSED:
            jobs.append(Job(name, "refused", "generate", args))
    for job in jobs:  # ids: NN, or bad-* for records that must be refused
        for i, r in enumerate(job.records):
            r.setdefault("id", f"{i:02d}")
    return jobs


# ----------------------------------------------------------------------------- running

def normalize_stderr(text: str) -> list:
    lines = []
    for line in text.splitlines():
        if line.startswith("batch: ") and " | " in line:
            line = line.split(" | ")[0]  # drop tokens/s and seconds
        lines.append(line)
    return lines


def argv(binary: str, job: Job, inp: Path, out: Path, threads: int) -> list:
    if job.kind == "generate":
        return [binary, "generate", *job.args, "--json", "-t", str(threads)]
    return [binary, "batch", "-i", str(inp), "-o", str(out), "--overwrite",
            *job.args, "-t", str(threads)]


def run_job(binary: str, job: Job, workdir: Path, side: str, threads: int, timeout: float):
    inp = workdir / "inputs" / f"{job.name}.jsonl"
    out = workdir / side / f"{job.name}.jsonl"
    cmd = argv(binary, job, inp, out, threads)
    if out.exists():
        out.unlink()
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = "timeout"
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        stderr = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes)
                  else "") + f"\n(killed after {timeout} s)"
    seconds = time.time() - t0
    (workdir / side / f"{job.name}.stderr").write_text(stderr)
    records = {}
    if job.kind == "generate":
        (workdir / side / f"{job.name}.stdout").write_text(stdout)
        lines = [l for l in stdout.splitlines() if l.strip()]
        if rc == 0:
            try:
                records[""] = json.loads(lines[-1])
            except (IndexError, json.JSONDecodeError):
                records[""] = {"unparsable stdout": stdout[-400:]}
    elif out.exists():
        for line in out.read_text(errors="replace").splitlines():
            if line.strip():
                try:
                    r = json.loads(line)
                    records[str(r.get("id"))] = r
                except json.JSONDecodeError:
                    records.setdefault("unparsable", []).append(line[:200])
    return {"cmd": cmd, "rc": rc, "stderr": normalize_stderr(stderr), "records": records,
            "seconds": seconds}


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def compare_records(a, b) -> list:
    """Differences between two output records (timings ignored), key fields first."""
    if a is None or b is None:
        where = "on both sides" if a is None and b is None else \
            "before" if a is None else "after"
        return [f"no output record {where}"]
    keys = [k for k in KEY_FIELDS if k in a or k in b]
    keys += sorted((set(a) | set(b)) - set(keys) - IGNORED_FIELDS)
    out = []
    for k in keys:
        x, y = a.get(k, "<absent>"), b.get(k, "<absent>")
        if x == y:
            continue
        if k == "token_ids" and isinstance(x, list) and isinstance(y, list):
            i = first_diff(x, y)
            out.append(f"token_ids differ at index {i} (lengths {len(x)} vs {len(y)}): "
                       f"before {x[i:i + 6]}..., after {y[i:i + 6]}...")
        else:
            out.append(f"{k}: before {json.dumps(x)[:300]} | after {json.dumps(y)[:300]}")
    return out


def generate_equivalent(job: Job, r: dict) -> str:
    """The `dlm generate` command of one batch record (a hint for reproducing it)."""
    flags = {"max_new_tokens": "-n", "steps": "--steps", "block_length": "--block-length",
             "temperature": "--temperature", "top_p": "--top-p", "top_k": "--top-k",
             "seed": "--seed", "algorithm": "--algorithm", "threshold": "--threshold"}
    args = [a for a in job.args]
    if "--batch-size" in args:
        i = args.index("--batch-size")
        del args[i:i + 2]
    args += ["-p", r.get("prompt", "")]
    for key, flag in flags.items():
        if key in r:
            args += [flag, str(r[key])]
    stops = r.get("stop", [])
    for s in [stops] if isinstance(stops, str) else stops:
        args += ["--stop", s]
    return shlex.join(["dlm", "generate", *args, "--json", "-t", "1"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the reference dlm binary")
    ap.add_argument("--after", required=True, help="the dlm binary under test")
    ap.add_argument("--quick", action="store_true", help="about 40 settings")
    ap.add_argument("--out", help="folder for inputs, outputs and the report "
                                  "(default: a new /tmp/same_tokens-* folder)")
    ap.add_argument("--threads", type=int, default=1, help="-t of every dlm process (1)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per dlm process")
    ap.add_argument("--only", help="run only jobs whose name contains this text")
    ap.add_argument("--list", action="store_true", help="print the settings and exit")
    ap.add_argument("--replace", nargs=2, action="append", default=[], metavar=("OLD", "NEW"),
                    help="an intended wording change of a message: replace OLD by NEW in the "
                         "before binary's stderr and `error` fields before comparing "
                         "(repeatable; never applied to tokens or text)")
    opts = ap.parse_args()

    jobs = build(opts.quick)
    if opts.only:
        jobs = [j for j in jobs if opts.only in j.name]
    if opts.list:
        for job in jobs:
            print(job.category, job.kind, job.name, shlex.join(job.args))
            for r in job.records:
                print("   ", json.dumps(r))
        return 0
    for side, binary in (("before", opts.before), ("after", opts.after)):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            print(f"same_tokens: --{side} {binary} is not an executable file", file=sys.stderr)
            return 2
        probe = subprocess.run([binary, "--version"], capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"same_tokens: {binary} --version failed (exit {probe.returncode}): "
                  f"{probe.stderr.strip()[:300]}", file=sys.stderr)
            return 2
    versions = {s: subprocess.run([b, "--version"], capture_output=True, text=True).stdout.strip()
                for s, b in (("before", opts.before), ("after", opts.after))}

    workdir = Path(opts.out) if opts.out else Path(tempfile.mkdtemp(prefix="same_tokens-"))
    for sub in ("inputs", "before", "after"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    for job in jobs:
        if job.kind == "batch":
            (workdir / "inputs" / f"{job.name}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in job.records))

    n_settings = sum(len(j.records) if j.kind == "batch" else 1 for j in jobs)
    print(f"same_tokens: {n_settings} settings in {len(jobs)} processes per binary; "
          f"outputs in {workdir}", flush=True)
    cats = ["batch", "batch-invariance", "generate", "refused"]
    table = {c: {"settings": 0, "identical": 0, "differing": 0, "refused identically": 0}
             for c in cats}
    diffs, run_diffs, seconds = [], [], {"before": 0.0, "after": 0.0}
    unexpected = []  # harness notes: refusals where a run was meant, or the reverse
    tokens_by_side = {"before": {}, "after": {}}  # batch-invariance: (cache, id) -> {bs: out}
    t_start = time.time()
    for n, job in enumerate(jobs, 1):
        res = {}
        for side, binary in (("before", opts.before), ("after", opts.after)):
            res[side] = run_job(binary, job, workdir, side, opts.threads, opts.timeout)
            seconds[side] += res[side]["seconds"]
        for old, new in opts.replace:
            res["before"]["stderr"] = [l.replace(old, new) for l in res["before"]["stderr"]]
            for r in res["before"]["records"].values():
                if isinstance(r, dict) and isinstance(r.get("error"), str):
                    r["error"] = r["error"].replace(old, new)
        a, b = res["before"], res["after"]
        row = table[job.category]
        job_diffs = 0
        cmd_shown = shlex.join(["dlm"] + a["cmd"][1:])
        run_differs = a["rc"] != b["rc"] or a["stderr"] != b["stderr"]
        if run_differs and job.kind == "batch":  # (a generate setting lists its own)
            run_diffs.append({"job": job.name, "command": cmd_shown,
                              "rc": [a["rc"], b["rc"]],
                              "stderr_before": a["stderr"], "stderr_after": b["stderr"]})
        if job.kind == "generate":
            row["settings"] += 1
            d = []
            if a["rc"] != b["rc"]:
                d.append(f"exit code: before {a['rc']} | after {b['rc']}")
            if a["stderr"] != b["stderr"]:
                d.append(f"stderr: before {a['stderr']} | after {b['stderr']}")
            if "timeout" in (a["rc"], b["rc"]):
                d.append("a process ran past --timeout")
            if a["rc"] == 0 and b["rc"] == 0:
                d += compare_records(a["records"].get(""), b["records"].get(""))
            if d:
                row["differing"] += 1
                diffs.append({"category": job.category, "setting": job.name,
                              "command": cmd_shown, "differences": d})
                job_diffs += 1
            elif a["rc"] != 0:
                row["refused identically"] += 1
                if job.category != "refused":
                    unexpected.append(f"{job.name} refused: {a['stderr'][-1:]}")
            else:
                row["identical"] += 1
                if job.category == "refused":
                    unexpected.append(f"{job.name} was meant to be refused but ran")
        else:
            ids = [r["id"] for r in job.records]
            extra = sorted((set(a["records"]) | set(b["records"])) - set(ids))
            for rid in ids + extra:
                row = table["refused" if rid.startswith("bad-") else job.category]
                row["settings"] += 1
                ra, rb = a["records"].get(rid), b["records"].get(rid)
                if ra is None and rb is None and a["rc"] == b["rc"] not in (0, "timeout") \
                        and a["stderr"] == b["stderr"]:
                    row["refused identically"] += 1  # the whole run refused, identically
                    continue
                d = compare_records(ra, rb)
                if d:
                    row["differing"] += 1
                    job_diffs += 1
                    r = next((x for x in job.records if x["id"] == rid), {})
                    diffs.append({"category": job.category, "setting": f"{job.name}/{rid}",
                                  "command": cmd_shown, "record": r,
                                  "generate_equivalent": generate_equivalent(job, r),
                                  "differences": d})
                elif ra.get("finish_reason") == "error":
                    row["refused identically"] += 1
                    if not rid.startswith("bad-"):
                        unexpected.append(f"{job.name}/{rid} refused: {ra.get('error')}")
                else:
                    row["identical"] += 1
                    if rid.startswith("bad-"):
                        unexpected.append(f"{job.name}/{rid} was meant to be refused but ran")
            if job.category == "batch-invariance":
                cache = job.args[job.args.index("--cache") + 1]
                bs = job.args[job.args.index("--batch-size") + 1]
                for side in ("before", "after"):
                    for rid, r in res[side]["records"].items():
                        key = (r.get("token_ids"), r.get("text"), r.get("finish_reason"))
                        tokens_by_side[side].setdefault((cache, rid), {})[bs] = json.dumps(key)
        status = "same" if not job_diffs and not run_differs else \
            "DIFFERENT (" + ", ".join(([f"{job_diffs} settings"] if job_diffs else [])
                                      + (["exit code/stderr"] if run_differs else [])) + ")"
        size = f"{len(job.records)} records" if job.kind == "batch" else "1 setting"
        print(f"[{n:3d}/{len(jobs)}] {job.name:32s} {size:11s} exit {a['rc']}/{b['rc']} "
              f"{a['seconds']:5.1f}s/{b['seconds']:5.1f}s  {status}", flush=True)
    wall = time.time() - t_start

    invariance = {}
    for side in ("before", "after"):
        bad = [f"{cache}/{rid}" for (cache, rid), by_bs in sorted(tokens_by_side[side].items())
               if len(set(by_bs.values())) > 1]
        invariance[side] = bad

    lines = []
    lines.append(f"before: {opts.before} ({versions['before']})")
    lines.append(f"after:  {opts.after} ({versions['after']})")
    for old, new in opts.replace:
        lines.append(f"replaced in the before binary's messages: {old!r} -> {new!r}")
    lines.append(f"mode: {'quick' if opts.quick else 'full'}; {len(jobs)} processes per binary; "
                 f"dlm time before {seconds['before']:.1f} s, after {seconds['after']:.1f} s; "
                 f"wall {wall:.1f} s")
    lines.append("")
    head = f"{'category':18s} {'settings':>9s} {'identical':>10s} {'differing':>10s} " \
           f"{'refused identically':>20s}"
    lines.append(head)
    lines.append("-" * len(head))
    total = {k: 0 for k in table["batch"]}
    for c in cats:
        row = table[c]
        for k in total:
            total[k] += row[k]
        lines.append(f"{c:18s} {row['settings']:9d} {row['identical']:10d} "
                     f"{row['differing']:10d} {row['refused identically']:20d}")
    lines.append("-" * len(head))
    lines.append(f"{'total':18s} {total['settings']:9d} {total['identical']:10d} "
                 f"{total['differing']:10d} {total['refused identically']:20d}")
    lines.append(f"batch processes whose exit code or stderr differ: {len(run_diffs)}")
    for side in ("before", "after"):
        bad = invariance[side]
        lines.append(f"note: batch invariance within {side} (same tokens at every batch size): "
                     + ("ok" if not bad else f"{len(bad)} records differ: {', '.join(bad)}"))
    for note in unexpected:
        lines.append(f"note (harness): {note}")
    if diffs or run_diffs:
        lines.append("")
        lines.append("DIFFERENCES")
    for d in diffs:
        lines.append(f"* [{d['category']}] {d['setting']}")
        lines.append(f"  command: {d['command']}")
        if "record" in d:
            lines.append(f"  record: {json.dumps(d['record'])}")
            lines.append(f"  as generate: {d['generate_equivalent']}")
        for x in d["differences"]:
            lines.append(f"  - {x}")
    for d in run_diffs:
        lines.append(f"* [batch process] {d['job']}: exit code before {d['rc'][0]}, "
                     f"after {d['rc'][1]}")
        lines.append(f"  command: {d['command']}")
        if d["stderr_before"] != d["stderr_after"]:
            lines.append(f"  stderr before: {d['stderr_before'][-5:]}")
            lines.append(f"  stderr after:  {d['stderr_after'][-5:]}")
    ok = not diffs and not run_diffs
    lines.append("")
    lines.append("RESULT: " + ("all identical" if ok else
                               f"{total['differing']} settings differ, "
                               f"{len(run_diffs)} batch processes differ"))
    report = "\n".join(lines)
    print()
    print(report)
    (workdir / "report.txt").write_text(report + "\n")
    (workdir / "summary.json").write_text(json.dumps(
        {"before": opts.before, "after": opts.after, "versions": versions,
         "quick": opts.quick, "table": table, "total": total, "seconds": seconds,
         "wall_seconds": wall, "differences": diffs, "run_differences": run_diffs,
         "batch_invariance_within": invariance,
         "harness_notes": unexpected}, indent=1) + "\n")
    print(f"(report: {workdir / 'report.txt'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
