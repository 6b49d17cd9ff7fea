#!/usr/bin/python3
"""Does a model write passages? The four measures of the shipped model's targets, per cell
of a `dlm sweep` (or for one `dlm batch` output file).

For each set of completions (every prompt's, one sweep cell or one batch file):

  median tokens   median completion length in the denoiser's tokens, up to the first end
                  of sequence (target >= 96 of -n 128: the text runs on across verses);
  looping         prompts whose completion repeats more than half of its 4-grams
                  (1 - distinct 4-grams / 4-grams > 0.5; target at most 2 of 64);
  judge ppl       the sweep's judge perplexity of the cell and its ratio to that of the
                  reference continuations (sweep.json `references`; target <= 1.5);
  distinct-2      mean over completions of 2 tokens or more of distinct token bigrams /
                  bigrams, as the sweep computes it (target >= 0.85).

A sweep DIR is read from DIR/samples.jsonl (every prompt's completion per cell; older
sweeps: the `token_ids` of DIR/cells.jsonl) and DIR/sweep.json. A `dlm batch` output file
(records with `token_ids`) has no judge perplexity: run the same prompts through
`dlm sweep` for it. Prints a Markdown table (one row per cell, a target met marked `ok`);
--json prints the rows as JSON instead; --check exits 1 unless some row meets every target.

Usage: /usr/bin/python3 scripts/eval/passage_quality.py DIR_OR_BATCH.jsonl [--json] [--check]
       [--min-median 96] [--max-looping 2] [--max-ppl-ratio 1.5] [--min-distinct2 0.85]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

LOOP_SHARE = 0.5  # a completion loops when more than this share of its 4-grams repeat
Row = Dict[str, object]


def repeated_4gram_share(ids: Sequence[int]) -> float:
    """1 - distinct 4-grams / 4-grams; 0 for a completion of fewer than 4 tokens."""
    grams = [tuple(ids[i:i + 4]) for i in range(len(ids) - 3)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def distinct_2(ids: Sequence[int]) -> Optional[float]:
    """Distinct token bigrams / bigrams (src/eval/text_metrics.cpp's definition)."""
    if len(ids) < 2:
        return None
    return len(set(zip(ids, ids[1:]))) / (len(ids) - 1)


def measure(completions: List[List[int]]) -> Row:
    """The length, looping and distinct-2 measures of a set of completions' token ids."""
    d2 = [d for d in (distinct_2(ids) for ids in completions) if d is not None]
    return {
        "prompts": len(completions),
        "median_tokens": statistics.median(len(ids) for ids in completions) if completions else 0,
        "looping": sum(repeated_4gram_share(ids) > LOOP_SHARE for ids in completions),
        "distinct2": sum(d2) / len(d2) if d2 else None,
    }


def read_jsonl(path: Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path} line {number} is not JSON ({e.msg}); pass a sweep "
                                     "directory or a dlm batch output file")


def sweep_rows(folder: Path) -> List[Row]:
    """One row per finished cell of a sweep directory."""
    summary_path = folder / "sweep.json"
    if not summary_path.is_file():
        raise SystemExit(f"{folder} has no sweep.json; pass a `dlm sweep -o` directory")
    summary = json.loads(summary_path.read_text())
    cells = [c for c in summary.get("cells", []) if c.get("status") == "done"]
    by_cell: Dict[str, List[List[int]]] = {}
    if (folder / "samples.jsonl").is_file():
        for s in read_jsonl(folder / "samples.jsonl"):
            by_cell.setdefault(s["cell"], []).append(s["token_ids"])
    else:  # a sweep from before samples.jsonl: cells.jsonl carries every prompt's ids
        for c in cells:
            by_cell[c["id"]] = c.get("token_ids") or []
    ref_ppl = (summary.get("references") or {}).get("judge_ppl")
    rows = []
    for c in cells:
        row: Row = {"cell": c["id"], **measure(by_cell.get(c["id"], []))}
        row["judge_ppl"] = c.get("judge_ppl")
        row["reference_ppl"] = ref_ppl
        row["ppl_ratio"] = c["judge_ppl"] / ref_ppl if ref_ppl and c.get("judge_ppl") else None
        rows.append(row)
    return rows


def batch_rows(path: Path) -> List[Row]:
    """One row for a `dlm batch` output file; error records are left out, a record
    without token_ids is an error."""
    completions = []
    for record in read_jsonl(path):
        if record.get("error"):
            continue
        ids = record.get("token_ids")
        if ids is None:
            raise SystemExit(f"{path}: a record without token_ids (OpenAI-format records have "
                             "none); pass dlm batch output in dlm's own record format")
        completions.append(ids)
    return [{"cell": path.name, **measure(completions), "judge_ppl": None,
             "reference_ppl": None, "ppl_ratio": None}]


def verdicts(row: Row, args: argparse.Namespace) -> Dict[str, Optional[bool]]:
    """Each target met (True), missed (False) or not measurable here (None)."""
    def compare(value, ok) -> Optional[bool]:
        return None if value is None else bool(ok(value))
    return {
        "median_tokens": compare(row["median_tokens"], lambda v: v >= args.min_median),
        "looping": compare(row["looping"], lambda v: v <= args.max_looping),
        "ppl_ratio": compare(row["ppl_ratio"], lambda v: v <= args.max_ppl_ratio),
        "distinct2": compare(row["distinct2"], lambda v: v >= args.min_distinct2),
    }


def fmt(value, spec: str, verdict: Optional[bool]) -> str:
    if value is None:
        return "-"
    mark = "" if verdict is None else (" ok" if verdict else " **miss**")
    return format(value, spec) + mark


def markdown(rows: List[Row], args: argparse.Namespace) -> str:
    out = ["| cell | prompts | median tokens | looping | judge ppl | x ref ppl | distinct-2 |",
           "|---|---|---|---|---|---|---|"]
    for row in rows:
        v = verdicts(row, args)
        out.append(f"| {row['cell']} | {row['prompts']} | {fmt(row['median_tokens'], 'g', v['median_tokens'])} "
                   f"| {fmt(row['looping'], 'd', v['looping'])} | {fmt(row['judge_ppl'], '.2f', None)} "
                   f"| {fmt(row['ppl_ratio'], '.2f', v['ppl_ratio'])} "
                   f"| {fmt(row['distinct2'], '.3f', v['distinct2'])} |")
    ref = next((r["reference_ppl"] for r in rows if r["reference_ppl"]), None)
    if ref:
        out.append(f"\nReference continuations: judge ppl {ref:.2f}.")
    out.append(f"Targets: median tokens >= {args.min_median:g}, looping <= {args.max_looping}, "
               f"x ref ppl <= {args.max_ppl_ratio:g}, distinct-2 >= {args.min_distinct2:g}.")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="a dlm sweep -o directory or a dlm batch output .jsonl")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 unless some row meets every target")
    ap.add_argument("--min-median", type=float, default=96)
    ap.add_argument("--max-looping", type=int, default=2)
    ap.add_argument("--max-ppl-ratio", type=float, default=1.5)
    ap.add_argument("--min-distinct2", type=float, default=0.85)
    args = ap.parse_args(argv)
    source = Path(args.source)
    if source.is_dir():
        rows = sweep_rows(source)
    elif source.is_file():
        rows = batch_rows(source)
    else:
        raise SystemExit(f"{source} does not exist; pass a dlm sweep -o directory or a dlm batch output file")
    if not rows:
        raise SystemExit(f"{source}: no finished cells or records")
    for row in rows:
        row["targets_met"] = verdicts(row, args)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows, args))
    if args.check:
        return 0 if any(all(v is True for v in r["targets_met"].values()) for r in rows) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
