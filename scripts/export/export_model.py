#!/usr/bin/python3
"""Export trained weights as a dlm checkpoint (format v1, see README "Checkpoint format v1").

Writes one TorchScript file with extra files config.json and tokenizer.model, replacing
the target in place (written to a temporary file, then renamed). Weights come from
train_tiny.py's output: best_weights.{json,bin} (raw float32, written by any torch
version) or best.pt. The held-out NELBO of the exported model is measured on CPU and
recorded in config.json.

Usage: /usr/bin/python3 scripts/export_model.py [--train .work/train] [--out models/dlm-kjv-tiny.pt]
       /usr/bin/python3 scripts/export_model.py --from-checkpoint models/dlm-kjv-tiny.pt
The second form re-exports an existing checkpoint's weights, config.json and tokenizer with
the current model code (for example to add the cache methods forward_kv/forward_window),
checks that forward() gives the same logits as before, and replaces the file in place.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dlm_model import Denoiser, ModelArgs  # noqa: E402
from train_tiny import Windows, evaluate, load_npy  # noqa: E402


def load_weights(train: Path) -> dict:
    raw = train / "best_weights.bin"
    if raw.exists():
        index = json.loads((train / "best_weights.json").read_text())
        blob = bytearray(raw.read_bytes())
        state = {}
        for name, entry in index.items():
            count = 1
            for n in entry["shape"]:
                count *= n
            flat = torch.frombuffer(blob, dtype=torch.float32, count=count, offset=entry["offset"])
            state[name] = flat.clone().view(entry["shape"])
        return state
    return torch.load(train / "best.pt", map_location="cpu")


def checkpoint_config(margs: ModelArgs, name: str, family: str = "llada",
                      mask_token_id: Optional[int] = 4, **info) -> dict:
    """config.json of checkpoint format v1 for a KJV model (prepare_data.py's tokenizer);
    `info` (measurements such as heldout_nelbo, then recipe) is appended as given."""
    config = {
        "format_version": 1,
        "family": family,
        "name": name,
        "vocab_size": 4096,
        "mask_token_id": mask_token_id,
        "eos_token_id": 3,
        "pad_token_id": 0,
        "bos_token_id": 2,
        "eot_token_id": None,
        "add_bos": True,
        "max_seq_len": margs.max_seq_len,
        "logits": "aligned",
        "dtype": "float32",
        "tokenizer": "sentencepiece",
        "architecture": margs.to_dict(),
    }
    config.update(info)
    return config


def write_checkpoint(model: nn.Module, config: dict, tokenizer: Path, out: Path) -> None:
    """Script `model` and save it with config.json and tokenizer.model as extra files,
    replacing `out` in place (written to a temporary file, then renamed)."""
    scripted = torch.jit.script(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.jit.save(scripted, str(tmp), _extra_files={
        "config.json": json.dumps(config, indent=1),
        "tokenizer.model": tokenizer.read_bytes(),
    })
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def reexport(path: Path) -> None:
    """Re-export `path` with the current Denoiser code: same weights, config, tokenizer."""
    extra = {"config.json": "", "tokenizer.model": ""}
    old = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    config = json.loads(extra["config.json"])
    tok = extra["tokenizer.model"]
    tok = tok if isinstance(tok, bytes) else tok.encode("latin1")
    margs = ModelArgs(**config["architecture"])
    model = Denoiser(margs)
    model.load_state_dict(old.state_dict())
    model.eval()
    probe = torch.randint(5, config["vocab_size"], (2, 37), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, after = old(probe), model(probe)
    if not torch.equal(before, after):
        raise SystemExit(f"{path}: re-exported forward differs by {(before - after).abs().max()}")
    tmp_tok = path.with_suffix(".tokenizer.tmp")
    tmp_tok.write_bytes(tok)
    try:
        write_checkpoint(model, config, tmp_tok, path)
    finally:
        tmp_tok.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default=str(HERE.parent / ".work" / "train"))
    ap.add_argument("--data", default=str(HERE.parent / ".work" / "data"))
    ap.add_argument("--out", default=str(HERE.parent / "models" / "dlm-kjv-tiny.pt"))
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
    model.load_state_dict(load_weights(train))
    model.eval()

    heldout_nelbo = None
    if not args.skip_eval:
        heldout = Windows(load_npy(data / "heldout.npy"), load_npy(data / "heldout_starts.npy"),
                          margs.max_seq_len).tiled()
        heldout_nelbo = round(evaluate(model, heldout, "cpu"), 4)
        print(f"held-out NELBO (CPU, float32): {heldout_nelbo} nats/token")

    config = checkpoint_config(margs, args.name, heldout_nelbo=heldout_nelbo, recipe=args.recipe)
    write_checkpoint(model, config, data / "tokenizer.model", Path(args.out))


if __name__ == "__main__":
    main()
