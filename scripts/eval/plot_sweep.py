#!/usr/bin/python3
"""Draw a `dlm sweep` as one figure: the speed/quality frontier and quality versus calls.

Reads DIR/sweep.json (written by `dlm sweep`) and writes a PNG with three panels:

  1. judge perplexity (log scale) versus tokens/s, one line per method: the settings
     other than steps and the methods' knobs (algorithm, alg-temp, block length, cache,
     and which of threshold, factor, eb-gamma, edit-threshold, suffix window and elastic
     gamma are on), each point labelled with its steps: the frontier is the lower right;
  2. judge perplexity versus forward calls per generated token (both axes log scale), the
     same lines, each point labelled with its knob values (eb-gamma 2, 4, 8 are three
     points of one EB line): the frontier is the lower left;
  3. share of reference words reproduced in place versus steps (when prompts had
     references; left axis, scaled to its data), with distinct-2 dashed on the right axis
     (scaled to its data): repetitive text shows as a distinct-2 drop.

Log axes carry plain tick labels (2, 5, 10, 20, ...; 1/8, 1/4, 1/2, 1, 2 ... on the base-2 axes), not
powers of ten, and one legend for the figure sits below the panels (colour: the line's
settings; in panel 3 solid: in place, dashed: distinct-2), so no legend covers a point.

The judge perplexity of the reference continuations themselves, when present, is drawn
as a dotted horizontal line (real text; repetitive generated text can score below it).
Settings whose rule ignores --steps (threshold, factor, eb-gamma) are single points, placed
at their forward calls per prompt on the steps axis of panel 3.
Needs matplotlib; dlm runs it with MPLBACKEND=Agg.

Usage: /usr/bin/python3 scripts/eval/plot_sweep.py DIR/sweep.json [OUT.png]   (default DIR/sweep.png)
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

Cell = Dict[str, object]
AXES = ("algorithm", "threshold", "factor", "alg_temp", "eb_gamma", "edit_threshold", "suffix_window", "block_length",
        "cache", "elastic_gamma")


# A method's knob: a line of the plot is one method (the axes that are not knobs, and
# which knobs are on), its knob values the points along it.
KNOBS = ("threshold", "factor", "eb_gamma", "edit_threshold", "suffix_window", "elastic_gamma")


def knob_on(cell: Cell, axis: str) -> bool:
    value = cell.get(axis)
    if axis == "suffix_window":
        return bool(value)
    if axis == "elastic_gamma":
        return cell.get("cache") == "elastic" and value is not None
    return value is not None


def line_label(cell: Cell, varying: List[str]) -> str:
    """Name of a line: the method (the non-knob axes that vary in this sweep, and the
    knobs that are on, by name only: their values are the line's points)."""
    parts = []
    for axis in varying:
        value = cell.get(axis)
        if axis == "algorithm":
            parts.append(str(value))
        elif axis in KNOBS:
            if knob_on(cell, axis):
                parts.append(axis.replace("_", "-"))
        elif value is not None and not (axis == "cache" and value == "none"):
            parts.append(f"{axis.replace('_', '-')} {value}")
    return ", ".join(parts)


def knob_text(cell: Cell, knobs: List[str]) -> str:
    """The values of `knobs` at this point, for its label ("eb-gamma 4")."""
    return ", ".join(f"{k.replace('_', '-')} {cell.get(k):g}" for k in knobs if knob_on(cell, k))


def varying_knobs(points: List[Cell]) -> List[str]:
    return [k for k in KNOBS if len({json.dumps(p.get(k)) for p in points}) > 1]


def group_lines(cells: List[Cell]) -> Dict[str, List[Cell]]:
    varying = [a for a in AXES if len({json.dumps(c.get(a)) for c in cells}) > 1]
    if "algorithm" not in varying:
        varying.insert(0, "algorithm")
    lines: Dict[str, List[Cell]] = defaultdict(list)
    for cell in cells:
        lines[line_label(cell, varying)].append(cell)
    for points in lines.values():
        points.sort(key=lambda c: (int(c["steps"]), json.dumps([c.get(k) for k in KNOBS])))
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


def plain(v: float, fractions: bool = False) -> str:
    """A tick label without powers of ten: 0.5, 3, 20, 1500; with `fractions` (base-2
    axes) 1/2, 1/4, 1/8 below 1."""
    if fractions and 0 < v < 1:
        f = Fraction(v).limit_denominator(4096)
        if f.numerator == 1:
            return f"1/{f.denominator}"
    return f"{v:,.4g}".replace(",", "")


def log_ticks(lo: float, hi: float, base: int) -> List[float]:
    """Tick values covering [lo, hi] on a log axis: powers of 2 (base 2), else 1, 2, 5
    times powers of ten, thinned to at most 8; a narrow range gets its ends as well."""
    lo, hi = min(lo, hi), max(lo, hi)
    if base == 2:
        ticks = [2.0 ** k for k in range(math.floor(math.log2(lo)), math.ceil(math.log2(hi)) + 1)]
    else:
        ticks = [m * 10.0 ** k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                 for m in (1, 2, 5)]
    ticks = [t for t in ticks if lo / 1.05 <= t <= hi * 1.05]
    while len(ticks) > 8:
        ticks = ticks[::2]
    if len(ticks) < 2:
        ticks = sorted(set(ticks + [float(f"{lo:.2g}"), float(f"{hi:.2g}")]))
    return ticks


def plain_log_axis(ax: Axes, which: str, values: Sequence[float], base: int = 10) -> None:
    """Log scale on `which` ("x" or "y") with plain labels at log_ticks of the data."""
    values = [v for v in values if v and v > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=base)
    if not values:
        return
    axis.set_major_locator(FixedLocator(log_ticks(min(values), max(values), base)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, fractions=base == 2)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def padded(values: Sequence[float], share: float = 0.08) -> Tuple[float, float]:
    """Axis limits around the data with a margin (a flat line gets one of its own)."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * share or max(abs(hi) * share, 1.0)
    return lo - pad, hi + pad


def draw(sweep: dict) -> Figure:
    """The figure of a sweep.json's finished cells (ValueError when there are none)."""
    cells = [c for c in sweep["cells"] if c.get("status") == "done"]
    if not cells:
        raise ValueError("no finished cells to plot")
    lines = group_lines(cells)
    floor = (sweep.get("references") or {}).get("judge_ppl")
    settings = sweep.get("settings", {})
    has_match = any(c.get("in_place") is not None for c in cells)

    fig, axes = plt.subplots(1, 3 if has_match else 2, figsize=(17 if has_match else 12, 5.6))
    frontier, by_steps = axes[0], axes[1]
    distinct_axis = axes[2].twinx() if has_match else None
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles: List[Line2D] = []
    seen: Dict[str, List[float]] = defaultdict(list)  # every value drawn, per axis
    for i, (label, points) in enumerate(sorted(lines.items())):
        color = colors[i % len(colors)]
        x, y = xy(points, "tokens_per_s", "judge_ppl")
        handles += frontier.plot(x, y, "o-", color=color, label=label)
        seen["tokens_per_s"] += x
        seen["judge_ppl"] += y
        for p in points:
            if p.get("tokens_per_s") is not None and p.get("judge_ppl") is not None:
                frontier.annotate(f"{p['nfe_per_prompt']:.0f} NFE" if parallel(p) else str(p["steps"]),
                                  (float(p["tokens_per_s"]), float(p["judge_ppl"])),
                                  textcoords="offset points", xytext=(4, 4), fontsize=8,
                                  color=color)
        # Along calls per token; each point labelled with its knob values when they vary.
        ordered = sorted(points, key=lambda p: value(p, "calls_per_token") or 0.0)
        x, y = xy(ordered, "calls_per_token", "judge_ppl")
        by_steps.plot(x, y, "o-", color=color)
        seen["calls_per_token"] += x
        knobs = varying_knobs(points)
        for p in ordered:
            text = knob_text(p, knobs)
            if text and value(p, "calls_per_token") is not None and p.get("judge_ppl") is not None:
                by_steps.annotate(text, (float(value(p, "calls_per_token")), float(p["judge_ppl"])),
                                  textcoords="offset points", xytext=(4, 4), fontsize=8, color=color)
        if has_match:
            x, y = xy(points, "steps", "in_place")
            axes[2].plot(x, [100 * v for v in y], "o-", color=color)
            seen["steps"] += x
            seen["in_place"] += [100 * v for v in y]
            x, y = xy(points, "steps", "distinct2")
            distinct_axis.plot(x, [100 * v for v in y], "s--", color=color, alpha=0.7)
            seen["steps"] += x
            seen["distinct2"] += [100 * v for v in y]
    for ax in (frontier, by_steps):
        if floor:
            ax.axhline(floor, color="gray", linestyle=":")
        plain_log_axis(ax, "y", seen["judge_ppl"] + ([floor] if floor else []))
        ax.set_ylabel("judge perplexity (log scale; lower is more predictable)")
        ax.grid(alpha=0.3)
    if floor:
        handles.append(Line2D([], [], color="gray", linestyle=":",
                              label=f"reference continuations (judge ppl {floor:.1f})"))
    plain_log_axis(frontier, "x", seen["tokens_per_s"])
    frontier.set_xlabel("tokens/s (generated positions per second; log scale)")
    frontier.set_title("speed/quality frontier (point labels: steps)")
    plain_log_axis(by_steps, "x", seen["calls_per_token"], base=2)
    by_steps.set_xlabel("forward calls per generated token (NFE / -n; log scale)")
    by_steps.set_title("frontier: judge perplexity vs forward calls per token\n(one line per method, points: its knob)")
    if has_match:
        plain_log_axis(axes[2], "x", seen["steps"], base=2)
        axes[2].set_xlabel("steps (threshold/factor/EB: forward calls per prompt; log scale)")
        if seen["in_place"]:
            axes[2].set_ylim(*padded(seen["in_place"]))
        if seen["distinct2"]:
            distinct_axis.set_ylim(*padded(seen["distinct2"]))
        axes[2].set_ylabel("reference words in place, % (solid)")
        distinct_axis.set_ylabel("distinct-2, % (dashed)")
        axes[2].set_title("words in place (solid, left) and distinct-2 (dashed, right)")
        axes[2].grid(alpha=0.3)
        handles += [Line2D([], [], color="black", marker="o", label="panel 3: in place (left axis)"),
                    Line2D([], [], color="black", marker="s", linestyle="--", alpha=0.7,
                           label="panel 3: distinct-2 (right axis)")]
    longest = max(len(h.get_label()) for h in handles)
    columns = min(4 if longest <= 45 else 3 if longest <= 60 else 2, len(handles))
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=9, frameon=False)
    fig.suptitle(f"dlm sweep: {Path(sweep['model']['path']).name}, "
                 f"{sweep['prompts']['count']} prompts, -n {settings.get('max_new_tokens')}, "
                 f"temperature {settings.get('temperature')}, judge "
                 f"{Path(sweep['judge']['path']).name}", fontsize=10)
    rows = math.ceil(len(handles) / columns)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * rows, 1, 1))  # room for the legend below
    return fig


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    source = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else source.with_name("sweep.png")
    try:
        fig = draw(json.loads(source.read_text()))
    except ValueError as e:
        raise SystemExit(f"{source}: {e}")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
