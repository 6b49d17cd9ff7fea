#!/usr/bin/python3
"""The passage training data and fine-tuning options of the shipped model's recipe, on
hand-made verses and a tiny model (a few seconds, no corpus, no shipped weights):

- prepare_data.py --passages: <eos> only after a chapter's last verse, in the training and
  the held-out stream alike, held-out verses never in the training stream;
- train_tiny.py --init-from: starts from given weights (its first log record is their
  held-out loss at step 0), refuses weights of another architecture in one line, and a
  resumed run ignores it; --data-window outside (16, --seq-len] is refused.

Run by CTest (training_data) as /usr/bin/python3 tests/python/test_training_data.py.
"""
from __future__ import annotations

import json
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "scripts" / "train"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import prepare_data  # noqa: E402
import train_tiny  # noqa: E402
from dlmpy.kjv import EOS_ID  # noqa: E402
from dlmpy.model import Denoiser, ModelArgs  # noqa: E402
from dlmpy.training import initial_weights, save_raw  # noqa: E402

VERSES = [("Ruth 1:1", "a b"), ("Ruth 1:2", "c"), ("Ruth 1:3", "d e f"),
          ("Ruth 2:1", "g"), ("Ruth 2:2", "h i"), ("Jonah 1:1", "j")]


class LetterTokenizer:
    """sentencepiece's encode() shape: one id per letter (ids from 10)."""

    def encode(self, texts):
        return [[10 + ord(c) - ord("a") for c in t.replace(" ", "")] for t in texts]


def stream(verses, ends):
    ids, starts = prepare_data.encode_stream(LetterTokenizer(), verses, EOS_ID, ends)
    return ids.tolist(), starts.tolist()


class PassageStreamTest(unittest.TestCase):
    def test_chapter_ends(self):
        self.assertEqual(prepare_data.chapter_ends(VERSES), {"Ruth 1:3", "Ruth 2:2", "Jonah 1:1"})

    def test_verses_mode_ends_every_verse(self):
        ids, starts = stream(VERSES, None)
        self.assertEqual(ids.count(EOS_ID), len(VERSES))
        self.assertEqual(starts, [0, 3, 5, 9, 11, 14])

    def test_passages_end_at_chapters_only(self):
        ends = prepare_data.chapter_ends(VERSES)
        ids, starts = stream(VERSES, ends)
        a, b, c, d, e, f, g, h, i, j = range(10, 20)
        self.assertEqual(ids, [a, b, c, d, e, f, EOS_ID, g, h, i, EOS_ID, j, EOS_ID])
        self.assertEqual(starts, [0, 2, 3, 7, 8, 11])
        # Held out Ruth 1:3 (a chapter's last verse) and Ruth 2:1: the training passage of
        # Ruth 1 runs on into Ruth 2 (its end was held out), held-out text never enters it,
        # and the held-out stream ends where the Bible's chapters end.
        train = [v for v in VERSES if v[0] not in ("Ruth 1:3", "Ruth 2:1")]
        held = [v for v in VERSES if v[0] in ("Ruth 1:3", "Ruth 2:1")]
        self.assertEqual(stream(train, ends)[0], [a, b, c, h, i, EOS_ID, j, EOS_ID])
        self.assertEqual(stream(held, ends)[0], [d, e, f, EOS_ID, g])


TINY = ["--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--d-ff", "32", "--seq-len", "32",
        "--batch", "4", "--threads", "1"]


def write_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("heldout", 100)):
        ids = rng.integers(10, 4096, n).astype(np.uint16)
        ids[::37] = EOS_ID
        np.save(folder / f"{split}.npy", ids)
        np.save(folder / f"{split}_starts.npy", np.arange(0, n - 40, 9, dtype=np.int64))


def run_train(*args: str) -> None:
    with mock.patch.object(sys, "argv", ["train_tiny.py", *args]):
        train_tiny.main()


class InitFromTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        write_data(self.dir)
        self.margs = ModelArgs(vocab_size=4096, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_seq_len=32)
        torch.manual_seed(1)
        self.start = Denoiser(self.margs)
        # A training folder holding the starting weights (as train_tiny.py leaves one).
        self.init = self.dir / "init"
        self.init.mkdir()
        (self.init / "model_args.json").write_text(json.dumps(self.margs.to_dict()))
        state = self.start.state_dict()
        del state["lm_head.weight"]  # tied: stored once, as training does
        save_raw(state, self.init / "best_weights")

    def tearDown(self):
        self.tmp.cleanup()

    def test_fine_tune_starts_from_the_weights_and_resumes(self):
        out = self.dir / "out"
        common = ["--data", str(self.dir), "--out", str(out), "--init-from", str(self.init),
                  "--minutes", "0.02", "--eval-seconds", "1000", "--data-window", "24", *TINY]
        run_train(*common)
        log = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
        self.assertEqual(log[0]["step"], 0)  # the starting point's held-out loss comes first
        self.assertGreater(log[-1]["step"], 0)
        # The step-0 record is the loss of exactly the given weights.
        from dlmpy.data import Windows, load_split
        from dlmpy.diffusion import heldout_nelbo
        rows = Windows(*load_split(self.dir, "heldout"), 32).tiled()
        self.assertAlmostEqual(log[0]["heldout_nelbo"], round(heldout_nelbo(self.start, rows, "cpu"), 4), places=3)
        # A second sitting resumes from last.pt: no new step-0 record.
        run_train(*common[:-len(TINY)], *TINY)
        steps = [json.loads(l)["step"] for l in (out / "log.jsonl").read_text().splitlines()]
        self.assertEqual(steps.count(0), 1)

    def test_other_architecture_is_refused(self):
        with self.assertRaises(SystemExit) as e:
            initial_weights(self.init, ModelArgs(vocab_size=4096, d_model=32, n_layers=1, n_heads=2,
                                                 d_ff=32, max_seq_len=32))
        message = str(e.exception)
        self.assertIn("architecture differs", message)
        self.assertIn("d_model", message)
        self.assertNotIn("\n", message)
        self.assertEqual(initial_weights(self.init, self.margs)["embed.weight"].shape, (4096, 16))

    def test_data_window_out_of_range_is_refused(self):
        for window in ("8", "64"):
            with self.assertRaises(SystemExit) as e:
                run_train("--data", str(self.dir), "--out", str(self.dir / "w"), "--minutes", "0.01",
                          "--data-window", window, *TINY)
            self.assertIn(f"--data-window {window}", str(e.exception))


if __name__ == "__main__":
    unittest.main()
