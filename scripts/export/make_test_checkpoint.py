#!/usr/bin/python3
"""Write tests/data/shifted-tiny.pt: a tiny random denoiser with Dream-style shifted logits.

Checkpoint format v1 like the shipped model (its tokenizer), config "logits": "shifted",
so the tests can check that dlm and the reference samplers both read position i's
prediction from output i - 1. Weights are random (seeded): only the plumbing is tested.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/export/make_test_checkpoint.py [--out tests/data/shifted-tiny.pt]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dlmpy.checkpoint import checkpoint_config, load, write_checkpoint
from dlmpy.model import Denoiser, ModelArgs
from dlmpy.paths import ROOT, SHIPPED_MODEL
from export.kjv import to_transformer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "shifted-tiny.pt"))
    ap.add_argument("--tokenizer-from", default=str(SHIPPED_MODEL))
    args = ap.parse_args()
    torch.manual_seed(0)
    margs = ModelArgs(d_model=32, n_layers=1, n_heads=2, d_ff=64, max_seq_len=512)
    model = Denoiser(margs)
    with torch.no_grad():
        model.embed.weight.mul_(50.0)  # std 1: logits far from uniform
    model.eval()
    config = checkpoint_config(margs, "shifted-tiny", family="dream", recipe="random weights, tests only")
    config["logits"] = "shifted"
    write_checkpoint(to_transformer(model.state_dict(), margs), config, load(args.tokenizer_from).tokenizer, Path(args.out))


if __name__ == "__main__":
    main()
