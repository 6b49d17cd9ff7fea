#!/usr/bin/python3
"""The sweep's Python scripts on hand-made sweep outputs (no model runs, about a second):

- scripts/eval/plot_sweep.py: plain tick labels on its log axes, one legend below the
  panels (covering no axes), the in-place and distinct-2 axes scaled to their data;
- scripts/eval/passage_quality.py: the four passage measures (median length, looping
  prompts, judge perplexity ratio, distinct-2) of a sweep directory and of a dlm batch
  file, its --check exit status, and one-line errors for bad input.

Run by CTest (sweep_scripts) as /usr/bin/python3 tests/python/test_sweep_scripts.py.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "eval"))
os.environ.setdefault("MPLBACKEND", "Agg")

import passage_quality  # noqa: E402
import plot_sweep  # noqa: E402

PLAIN_LABEL = re.compile(r"^(1/\d+|\d+(\.\d+)?)$")


def cell(steps: int, cache: str, ppl: float, tps: float, in_place: float, distinct2: float) -> dict:
    return {"id": f"steps={steps} cache={cache}", "status": "done", "steps": steps, "block_length": 32,
            "algorithm": "confidence", "threshold": None, "factor": None, "alg_temp": None,
            "eb_gamma": None, "suffix_window": 0, "cache": cache, "elastic_gamma": None,
            "max_new_tokens": 64, "tokens_per_s": tps, "nfe_per_prompt": steps, "judge_ppl": ppl,
            "in_place": in_place, "distinct2": distinct2}


def sweep_json() -> dict:
    cells = []
    for cache, speed in (("none", 1.0), ("dual", 2.2)):
        for steps, ppl, ip, d2 in ((8, 113.8, 0.063, 0.647), (16, 31.6, 0.052, 0.696),
                                   (32, 9.0, 0.065, 0.675), (64, 4.06, 0.078, 0.583)):
            cells.append(cell(steps, cache, ppl * (1.05 if cache == "dual" else 1.0),
                              speed * 3340 / steps, ip, d2))
    return {"cells": cells, "references": {"judge_ppl": 22.76}, "settings": {"max_new_tokens": 64,
            "temperature": 0.0}, "model": {"path": "models/dlm-kjv-tiny.pt"},
            "judge": {"path": "models/kjv-judge.pt"}, "prompts": {"count": 64}}


class PlotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fig = plot_sweep.draw(sweep_json())
        cls.fig.canvas.draw()
        cls.panels = cls.fig.axes[:3]

    def test_log_axes_have_plain_tick_labels(self):
        for ax in self.panels:
            for axis in ([ax.xaxis] if ax.get_xscale() == "log" else []) + \
                        ([ax.yaxis] if ax.get_yscale() == "log" else []):
                labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
                self.assertGreaterEqual(len(labels), 2, f"{ax.get_title()}: too few ticks")
                for label in labels:
                    self.assertRegex(label, PLAIN_LABEL, f"{ax.get_title()}: tick '{label}'")
                self.assertEqual([t.get_text() for t in axis.get_minorticklabels() if t.get_text()], [])
        # The frontier's perplexity axis spans 4 to 120: its ticks include 5, 10, 20 and 50.
        ppl_ticks = {t.get_text() for t in self.panels[0].yaxis.get_ticklabels()}
        self.assertTrue({"5", "10", "20", "50"} <= ppl_ticks, ppl_ticks)

    def test_one_legend_below_every_panel(self):
        self.assertEqual([ax.get_legend() for ax in self.fig.axes], [None] * len(self.fig.axes))
        self.assertEqual(len(self.fig.legends), 1)
        renderer = self.fig.canvas.get_renderer()
        legend = self.fig.legends[0].get_window_extent(renderer)
        for ax in self.fig.axes:
            self.assertLess(legend.y1, ax.get_tightbbox(renderer).y0 + 1, "the legend overlaps a panel")
        texts = [t.get_text() for t in self.fig.legends[0].get_texts()]
        self.assertIn("confidence", texts)
        self.assertIn("confidence, cache dual", texts)
        self.assertTrue(any("reference continuations" in t for t in texts))
        for text in self.fig.legends[0].get_texts():
            self.assertGreaterEqual(text.get_fontsize(), 8)

    def test_in_place_panel_is_scaled_to_its_data(self):
        in_place, distinct = self.panels[2], self.fig.axes[3]
        lo, hi = in_place.get_ylim()
        self.assertLessEqual(lo, 5.2)  # data: 5.2% .. 7.8%
        self.assertGreaterEqual(hi, 7.8)
        self.assertLess(hi - lo, 5.0)  # not 0..100: the data fill the panel
        lo, hi = distinct.get_ylim()
        self.assertLessEqual(lo, 58.3)
        self.assertGreaterEqual(hi, 69.6)
        self.assertLess(hi - lo, 20.0)

    def test_plain_labels(self):
        self.assertEqual(plot_sweep.plain(0.125, fractions=True), "1/8")
        self.assertEqual(plot_sweep.plain(0.5, fractions=True), "1/2")
        self.assertEqual(plot_sweep.plain(0.5), "0.5")
        self.assertEqual(plot_sweep.plain(0.2), "0.2")
        self.assertEqual(plot_sweep.plain(20.0), "20")
        self.assertEqual(plot_sweep.plain(1500.0), "1500")
        self.assertEqual(plot_sweep.log_ticks(3, 130, 10), [5, 10, 20, 50, 100])
        self.assertEqual(plot_sweep.log_ticks(0.125, 1, 2), [0.125, 0.25, 0.5, 1])


def run_quality(*args: str):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = passage_quality.main(list(args))
    return code, out.getvalue()


LOOP = [7, 8, 9, 10] * 10          # 37 4-grams, 4 distinct: loops
PROSE = list(range(100, 200))      # 100 tokens, nothing repeated
SHORT = [5, 6, 7]                  # too short for a 4-gram: not looping


class PassageQualityTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def write_sweep(self, samples):
        cells = [{"id": "a", "status": "done", "judge_ppl": 30.0},
                 {"id": "b", "status": "done", "judge_ppl": 40.0},
                 {"id": "c", "status": "skipped"}]
        (self.dir / "sweep.json").write_text(json.dumps({"cells": cells, "references": {"judge_ppl": 25.0}}))
        with open(self.dir / "samples.jsonl", "w") as f:
            for cell_id, ids in samples:
                f.write(json.dumps({"cell": cell_id, "token_ids": ids}) + "\n")

    def test_measures(self):
        self.assertEqual(passage_quality.repeated_4gram_share(SHORT), 0.0)
        self.assertAlmostEqual(passage_quality.repeated_4gram_share(LOOP), 1 - 4 / 37)
        self.assertEqual(passage_quality.distinct_2([1, 2, 1, 2]), 2 / 3)
        row = passage_quality.measure([LOOP, PROSE, SHORT])
        self.assertEqual(row["median_tokens"], 40)
        self.assertEqual(row["looping"], 1)
        self.assertAlmostEqual(row["distinct2"], (4 / 39 + 1.0 + 1.0) / 3)

    def test_sweep_directory(self):
        self.write_sweep([("a", PROSE), ("a", PROSE), ("a", LOOP), ("b", LOOP), ("b", LOOP), ("b", SHORT)])
        code, out = run_quality(str(self.dir), "--json")
        self.assertEqual(code, 0)
        rows = {r["cell"]: r for r in json.loads(out)}
        self.assertEqual(set(rows), {"a", "b"})  # the skipped cell has no row
        self.assertEqual(rows["a"]["median_tokens"], 100)
        self.assertEqual(rows["a"]["looping"], 1)
        self.assertAlmostEqual(rows["a"]["ppl_ratio"], 1.2)
        self.assertEqual(rows["a"]["targets_met"]["ppl_ratio"], True)
        self.assertEqual(rows["b"]["looping"], 2)
        self.assertAlmostEqual(rows["b"]["ppl_ratio"], 1.6)
        self.assertEqual(rows["b"]["targets_met"],
                         {"median_tokens": False, "looping": True, "ppl_ratio": False, "distinct2": False})
        code, out = run_quality(str(self.dir))
        self.assertIn("| a | 3 | 100 ok | 1 ok | 30.00 | 1.20 ok |", out)
        self.assertIn("Reference continuations: judge ppl 25.00.", out)
        # Cell a misses only distinct-2 (0.70): --check fails, and passes with a laxer target.
        self.assertEqual(run_quality(str(self.dir), "--check")[0], 1)
        self.assertEqual(run_quality(str(self.dir), "--check", "--min-distinct2", "0.6")[0], 0)

    def test_older_sweep_reads_cells_token_ids(self):
        cells = [{"id": "a", "status": "done", "judge_ppl": 30.0, "token_ids": [PROSE, LOOP, PROSE]}]
        (self.dir / "sweep.json").write_text(json.dumps({"cells": cells, "references": None}))
        code, out = run_quality(str(self.dir), "--json")
        row = json.loads(out)[0]
        self.assertEqual((row["median_tokens"], row["looping"], row["ppl_ratio"]), (100, 1, None))

    def test_batch_file(self):
        batch = self.dir / "out.jsonl"
        batch.write_text("\n".join(json.dumps(r) for r in (
            {"id": "1", "text": "x", "token_ids": PROSE},
            {"id": "2", "error": "bad prompt"},
            {"id": "3", "text": "y", "token_ids": LOOP})) + "\n")
        code, out = run_quality(str(batch), "--json")
        row = json.loads(out)[0]
        self.assertEqual((row["prompts"], row["looping"], row["judge_ppl"]), (2, 1, None))
        self.assertIsNone(row["targets_met"]["ppl_ratio"])

    def test_bad_input_is_one_line(self):
        for args, needle in (([str(self.dir / "nope")], "does not exist"),
                             ([str(self.dir)], "has no sweep.json")):
            with self.assertRaises(SystemExit) as e:
                run_quality(*args)
            self.assertIn(needle, str(e.exception))
            self.assertNotIn("\n", str(e.exception))
        no_ids = self.dir / "openai.jsonl"
        no_ids.write_text('{"custom_id": "1", "response": {"body": {"choices": []}}}\n')
        with self.assertRaises(SystemExit) as e:
            run_quality(str(no_ids))
        self.assertIn("without token_ids", str(e.exception))
        bad = self.dir / "bad.jsonl"
        bad.write_text('{"token_ids": [1]}\nnot json\n')
        with self.assertRaises(SystemExit) as e:
            run_quality(str(bad))
        self.assertIn("line 2 is not JSON", str(e.exception))


if __name__ == "__main__":
    unittest.main()
