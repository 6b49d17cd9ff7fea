#!/usr/bin/python3
"""Export trained weights as a dlm checkpoint (format v1, see README "Checkpoint format v1").

Writes one TorchScript file with extra files config.json and tokenizer.model, replacing
the target in place (written to a temporary file, then renamed). The module is the
exporters' shared network (export/blocks.py via export/kjv.py): the format v1 methods plus
the fast ones (forward_rows, forward_kv_rows, forward_window_update), fused Q/K/V and
gate/up weights stored transposed. Weights come from
train/train_tiny.py's folder: best_weights.{json,bin} (raw float32, written by any torch
version) or best.pt. The held-out NELBO of the exported model is measured on CPU and
recorded in config.json.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/export/export_model.py [--train .work/train] [--out models/dlm-kjv-tiny.pt]
       PYTHONPATH=scripts /usr/bin/python3 scripts/export/export_model.py --from-checkpoint models/dlm-kjv-tiny.pt
The second form re-exports an existing checkpoint's weights (either layout), config.json and
tokenizer with the current model code (for example to add the fast methods), checks that
forward() gives the same logits as before (to float32 rounding: the fused GEMMs may round
differently; the largest difference is printed), and replaces the file in place.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dlmpy.checkpoint import checkpoint_config, load, write_checkpoint
from dlmpy.data import Windows, load_split
from dlmpy.diffusion import heldout_nelbo
from dlmpy.model import Denoiser, ModelArgs
from dlmpy.paths import SHIPPED_MODEL, WORK
from dlmpy.training import load_best_weights
from export.kjv import from_module, to_transformer


def reexport(path: Path) -> None:
    """Re-export `path` with the current code: same weights, config, tokenizer."""
    old = load(path)
    margs = ModelArgs(**old.config["architecture"])
    model = to_transformer(from_module(old.module, margs), margs)
    probe = torch.randint(5, old.config["vocab_size"], (2, 37), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, after = old.module(probe), model(probe)
    diff = (before - after).abs().max().item()
    print(f"{path}: largest logit difference to the previous export {diff:.3g}")
    if not diff <= 1e-3 * max(1.0, before.abs().max().item()):
        raise SystemExit(f"{path}: re-exported forward differs by {diff}")
    write_checkpoint(model, old.config, old.tokenizer, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default=str(WORK / "train"), help="train_tiny.py's folder")
    ap.add_argument("--data", default=str(WORK / "data"), help="prepare_data.py's folder")
    ap.add_argument("--out", default=str(SHIPPED_MODEL))
    ap.add_argument("--name", default="dlm-kjv-tiny")
    ap.add_argument("--recipe", default="", help="free text recorded in config.json")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--from-checkpoint", metavar="PT",
                    help="re-export this checkpoint's weights in place with the current code")
    args = ap.parse_args()
    if args.from_checkpoint:
        reexport(Path(args.from_checkpoint))
        return
    train, data = Path(args.train), Path(args.data)
    torch.set_num_threads(2)

    margs = ModelArgs(**json.loads((train / "model_args.json").read_text()))
    model = Denoiser(margs)
    model.load_state_dict(load_best_weights(train, margs))
    model.eval()

    nelbo = None
    if not args.skip_eval:
        heldout = Windows(*load_split(data, "heldout"), margs.max_seq_len).tiled()
        nelbo = round(heldout_nelbo(model, heldout, "cpu"), 4)
        print(f"held-out NELBO (CPU, float32): {nelbo} nats/token")

    config = checkpoint_config(margs, args.name, heldout_nelbo=nelbo, recipe=args.recipe)
    write_checkpoint(to_transformer(model.state_dict(), margs), config, (data / "tokenizer.model").read_bytes(), Path(args.out))


if __name__ == "__main__":
    main()
