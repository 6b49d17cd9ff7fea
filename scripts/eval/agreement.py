#!/usr/bin/python3
"""Token agreement of every cell of a `dlm sweep` with one reference cell.

Reads DIR/cells.jsonl (each finished cell carries `token_ids`: every prompt's completion
ids, up to the first end of sequence, in prompt order) and compares each cell's
completions with the reference cell's position by position, as
scripts/bench/bench_cache.py does: agreement = positions with the same id / positions of
the longer of the two completions, summed over prompts (a position past one completion's
end counts as a disagreement); `exact` counts the prompts whose completions are identical.

The reference is the cell whose id contains every --ref word (default: the uncached
cell with the most steps and no parallel rule: `threshold=none factor=none`, cache none).
Prints a Markdown table of every finished cell (several `dlm sweep` runs with different
grids may share DIR): its settings, forward calls per token, tokens/s, judge perplexity
(and its ratio to the reference's), distinct-2, agreement and exact completions.

Usage: /usr/bin/python3 scripts/eval/agreement.py DIR [--ref 'steps=128 ... cache=none']
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Tuple

Cell = Dict[str, object]


def agreement(reference: List[List[int]], other: List[List[int]]) -> Tuple[float, int]:
    same = total = exact = 0
    for ref, got in zip(reference, other):
        same += sum(1 for a, b in zip(ref, got) if a == b)
        total += max(len(ref), len(got))
        exact += ref == got
    return same / max(total, 1), exact


def label(c: Cell) -> str:
    """The cell's settings that differ from the defaults, short."""
    parts = []
    parallel = any(c.get(k) is not None for k in ("threshold", "factor", "eb_gamma"))
    if not parallel:
        parts.append(f"{c['steps']} steps")
    if c.get("algorithm") != "confidence":
        parts.append(str(c["algorithm"]))
    for key, name in (("threshold", "threshold"), ("factor", "factor"), ("eb_gamma", "EB gamma"),
                      ("alg_temp", "alg-temp"), ("edit_threshold", "edit")):
        if c.get(key) is not None:
            parts.append(f"{name} {c[key]}")
    if c.get("suffix_window"):
        parts.append(f"suffix {c['suffix_window']}")
    cache = str(c.get("cache"))
    if cache == "elastic":
        cache = f"elastic {c.get('elastic_gamma')}"
    parts.append(f"cache {cache}")
    return ", ".join(parts)


def default_reference(cells: List[Cell]) -> Cell:
    plain = [c for c in cells if c.get("cache") == "none" and c.get("threshold") is None
             and c.get("factor") is None and c.get("eb_gamma") is None
             and not c.get("suffix_window") and c.get("alg_temp") is None
             and c.get("edit_threshold") is None]
    if not plain:
        raise SystemExit("no uncached top-k cell to compare with; give --ref")
    return max(plain, key=lambda c: int(c["steps"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--ref", help="words of the reference cell's id (all must appear)")
    args = ap.parse_args()
    cells = [json.loads(line) for line in (Path(args.dir) / "cells.jsonl").read_text().splitlines()
             if line.strip()]
    cells = [c for c in cells if c.get("status") == "done" and "token_ids" in c]
    if args.ref:
        words = args.ref.split()
        found = [c for c in cells if all(w in str(c["id"]) for w in words)]
        if len(found) != 1:
            raise SystemExit(f"--ref {args.ref!r} matches {len(found)} cells, not one")
        ref = found[0]
    else:
        ref = default_reference(cells)
    print(f"reference: {ref['id']}\n")
    print("| setting | calls/token | x ref calls | tokens/s | judge ppl | x ref ppl | distinct-2 "
          "| agreement | exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    ref_calls = float(ref["nfe_per_prompt"]) / float(ref["max_new_tokens"])
    for c in cells:
        frac, exact = agreement(ref["token_ids"], c["token_ids"])
        calls = float(c["nfe_per_prompt"]) / float(c["max_new_tokens"])
        ppl = c.get("judge_ppl")
        print(f"| {label(c)} | {calls:.3f} | {calls / ref_calls:.2f} | {float(c['tokens_per_s']):.1f} "
              f"| {ppl:.2f} | {ppl / float(ref['judge_ppl']):.2f} | {float(c['distinct2']):.3f} "
              f"| {100 * frac:.1f}% | {exact}/{len(c['token_ids'])} |")


if __name__ == "__main__":
    main()
