#!/usr/bin/python3
"""Draw a `dlm sweep` as one figure: the speed/quality frontier and quality versus calls.

Reads DIR/sweep.json (written by `dlm sweep`) and writes a PNG with three panels:

  1. judge perplexity (log scale) versus tokens/s, one line per setting other than steps
     (algorithm, threshold, factor, alg-temp, eb-gamma, suffix window, block length,
     cache), each point labelled with its steps: the frontier is the lower right;
  2. judge perplexity versus forward calls per generated token (both axes log scale), the
     same lines: the frontier is the lower left;
  3. share of reference words reproduced in place versus steps (when prompts had
     references), with distinct-2 dashed: repetitive text shows as a distinct-2 drop.

The judge perplexity of the reference continuations themselves, when present, is drawn
as a dotted horizontal line (real text; repetitive generated text can score below it).
Settings whose rule ignores --steps (threshold, factor, eb-gamma) are single points, placed
at their forward calls per prompt on the steps axis of panel 3.
Needs matplotlib; dlm runs it with MPLBACKEND=Agg.

Usage: /usr/bin/python3 scripts/eval/plot_sweep.py DIR/sweep.json [OUT.png]   (default DIR/sweep.png)
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

Cell = Dict[str, object]
AXES = ("algorithm", "threshold", "factor", "alg_temp", "eb_gamma", "edit_threshold", "suffix_window", "block_length",
        "cache", "elastic_gamma")


def line_label(cell: Cell, varying: List[str]) -> str:
    """Name of a line from the axes (other than steps) that vary in this sweep."""
    parts = []
    for axis in varying:
        value = cell.get(axis)
        if axis == "algorithm":
            parts.append(str(value))
        elif value is not None and not (axis == "cache" and value == "none") and not (
                axis == "suffix_window" and value == 0):
            parts.append(f"{axis.replace('_', '-')} {value}")
    return ", ".join(parts)


def group_lines(cells: List[Cell]) -> Dict[str, List[Cell]]:
    varying = [a for a in AXES if len({json.dumps(c.get(a)) for c in cells}) > 1]
    if "algorithm" not in varying:
        varying.insert(0, "algorithm")
    lines: Dict[str, List[Cell]] = defaultdict(list)
    for cell in cells:
        lines[line_label(cell, varying)].append(cell)
    for points in lines.values():
        points.sort(key=lambda c: int(c["steps"]))
    return lines


def parallel(cell: Cell) -> bool:
    """Threshold, factor and EB rules ignore --steps: their step count is what they used."""
    return any(cell.get(k) is not None for k in ("threshold", "factor", "eb_gamma"))


def value(cell: Cell, key: str) -> object:
    if key == "steps" and parallel(cell):
        return cell.get("nfe_per_prompt")
    if key == "calls_per_token":
        nfe, n = cell.get("nfe_per_prompt"), cell.get("max_new_tokens")
        return float(nfe) / float(n) if nfe is not None and n else None
    return cell.get(key)


def xy(points: List[Cell], x: str, y: str) -> Tuple[List[float], List[float]]:
    keep = [p for p in points if value(p, x) is not None and value(p, y) is not None]
    return [float(value(p, x)) for p in keep], [float(value(p, y)) for p in keep]


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    source = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else source.with_name("sweep.png")
    sweep = json.loads(source.read_text())
    cells = [c for c in sweep["cells"] if c.get("status") == "done"]
    if not cells:
        raise SystemExit(f"{source}: no finished cells to plot")
    lines = group_lines(cells)
    floor = (sweep.get("references") or {}).get("judge_ppl")
    settings = sweep.get("settings", {})
    has_match = any(c.get("in_place") is not None for c in cells)

    fig, axes = plt.subplots(1, 3 if has_match else 2, figsize=(17 if has_match else 12, 5))
    frontier, by_steps = axes[0], axes[1]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, points) in enumerate(sorted(lines.items())):
        color = colors[i % len(colors)]
        x, y = xy(points, "tokens_per_s", "judge_ppl")
        frontier.plot(x, y, "o-", color=color, label=label)
        for p in points:
            if p.get("tokens_per_s") is not None and p.get("judge_ppl") is not None:
                frontier.annotate(f"{p['nfe_per_prompt']:.0f} NFE" if parallel(p) else str(p["steps"]),
                                  (float(p["tokens_per_s"]), float(p["judge_ppl"])),
                                  textcoords="offset points", xytext=(4, 4), fontsize=7,
                                  color=color)
        x, y = xy(points, "calls_per_token", "judge_ppl")
        by_steps.plot(x, y, "o-", color=color, label=label)
        if has_match:
            x, y = xy(points, "steps", "in_place")
            axes[2].plot(x, [100 * v for v in y], "o-", color=color, label=f"{label}: in place")
            x, y = xy(points, "steps", "distinct2")
            axes[2].plot(x, [100 * v for v in y], "s--", color=color, alpha=0.6,
                         label=f"{label}: distinct-2")
    for ax in (frontier, by_steps):
        if floor:
            ax.axhline(floor, color="gray", linestyle=":", label=f"references ({floor:.1f})")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_ylabel("judge perplexity (log scale; lower is more predictable)")
        ax.grid(alpha=0.3, which="both")
    frontier.set_xlabel("tokens/s (generated positions per second)")
    frontier.set_title("speed/quality frontier (point labels: steps)")
    frontier.legend(fontsize=7)
    steps_label = "steps (threshold/factor: forward calls per prompt)"
    by_steps.set_xscale("log", base=2)
    by_steps.xaxis.set_major_formatter(ScalarFormatter())
    by_steps.set_xlabel("forward calls per generated token (NFE / -n)")
    by_steps.set_title("judge perplexity vs forward calls per token")
    if has_match:
        axes[2].set_xscale("log", base=2)
        axes[2].xaxis.set_major_formatter(ScalarFormatter())
        axes[2].set_xlabel(steps_label)
        axes[2].set_ylabel("%")
        axes[2].set_title("reference words in place (solid), distinct-2 (dashed)")
        axes[2].grid(alpha=0.3)
        axes[2].legend(fontsize=6, loc="best")
    fig.suptitle(f"dlm sweep: {Path(sweep['model']['path']).name}, "
                 f"{sweep['prompts']['count']} prompts, -n {settings.get('max_new_tokens')}, "
                 f"temperature {settings.get('temperature')}, judge "
                 f"{Path(sweep['judge']['path']).name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
