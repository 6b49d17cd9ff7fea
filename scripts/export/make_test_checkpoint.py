#!/usr/bin/python3
"""Write tests/data/shifted-tiny.pt: a tiny random denoiser with Dream-style shifted logits.

Checkpoint format v1 like the shipped model (its tokenizer), config "logits": "shifted",
so the tests can check that dlm and the reference samplers both read position i's
prediction from output i - 1. Weights are random (seeded): only the plumbing is tested.

Usage: /usr/bin/python3 scripts/make_test_checkpoint.py [--out tests/data/shifted-tiny.pt]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dlm_model import Denoiser, ModelArgs  # noqa: E402
from export_model import checkpoint_config, write_checkpoint  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE.parent / "tests" / "data" / "shifted-tiny.pt"))
    ap.add_argument("--tokenizer-from", default=str(HERE.parent / "models" / "dlm-kjv-tiny.pt"))
    args = ap.parse_args()
    torch.manual_seed(0)
    margs = ModelArgs(d_model=32, n_layers=1, n_heads=2, d_ff=64, max_seq_len=512)
    model = Denoiser(margs)
    with torch.no_grad():
        model.embed.weight.mul_(50.0)  # std 1: logits far from uniform
    model.eval()
    config = checkpoint_config(margs, "shifted-tiny", family="dream", recipe="random weights, tests only")
    config["logits"] = "shifted"
    extra = {"tokenizer.model": ""}
    torch.jit.load(args.tokenizer_from, _extra_files=extra)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = Path(tmp) / "tokenizer.model"
        tokenizer.write_bytes(extra["tokenizer.model"] if isinstance(extra["tokenizer.model"], bytes)
                              else extra["tokenizer.model"].encode("latin1"))
        write_checkpoint(model, config, tokenizer, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
