#!/usr/bin/python3
"""Train dlm's tiny default masked-diffusion denoiser on the King James Bible.

Objective (LLaDA / MDLM, dlmpy/diffusion.py): per sequence a mask ratio t, drawn
low-discrepancy across the batch (t_i = (u + i/B) mod 1, as in MDLM) to tame the variance
of the 1/t weight; every token but the leading <bos> is masked with probability t; the
loss is the cross-entropy on masked positions weighted by 1/t, averaged per token (the
NELBO).

Training data are windows of consecutive training verses, each verse followed by
<eos>, starting at a verse boundary after a <bos>; a quarter of the batches are cut
to a random shorter length so the model also sees short canvases. Held-out verses
(scripts/data/heldout_verses.txt) never enter training; the held-out NELBO is
evaluated with fixed masks and reported in nats per token.

Training is driven by wall time and resumable (dlmpy/training.py): --minutes is the
length of the whole learning-rate schedule, which may be spread over several sittings
(--sitting-minutes); each run resumes from OUT/last.pt. OUT/best.pt keeps the weights
with the best held-out loss; OUT/best_weights.{json,bin} hold them as raw float32 too,
readable by any torch.

Passages (prepare_data.py --passages: consecutive verses of a chapter, <eos> only at its
end) teach the model to write on across verses; the shipped model was fine-tuned on them
from its verse-trained weights (--init-from), on a CPU, with windows shorter than its
context (--data-window):

  PYTHONPATH=scripts /usr/bin/python3 scripts/train/prepare_data.py --passages \
      --tokenizer models/dlm-kjv-tiny.pt --out .work/data-passages
  PYTHONPATH=scripts nice -n 5 /usr/bin/python3 scripts/train/train_tiny.py \
      --data .work/data-passages --init-from models/dlm-kjv-tiny.pt --out .work/train-passages \
      --minutes 50 --sitting-minutes 25 --lr 5e-4 --batch 16 --data-window 192 --threads 1 \
      --eval-seconds 420

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/train/train_tiny.py --minutes 30 [--out .work/train]
then scripts/export/export_model.py to write models/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor, nn

from dlmpy.data import Windows, load_split
from dlmpy.diffusion import heldout_nelbo, mask_ratios, masked_nelbo
from dlmpy.model import ModelArgs
from dlmpy.paths import WORK
from dlmpy.training import Task, add_options, model_args, train

SHORT_SHARE = 0.25  # share of batches cut to a random length in [MIN_LEN, --seq-len)
MIN_LEN = 16


def diffusion_task(args: argparse.Namespace) -> Task:
    """Verse windows, a quarter cut short; the NELBO, held out on tiled windows."""
    window = args.data_window or args.seq_len
    if not MIN_LEN < window <= args.seq_len:
        raise SystemExit(f"--data-window {window} must lie in ({MIN_LEN}, --seq-len {args.seq_len}]")
    data = Windows(*load_split(Path(args.data), "train"), window)
    heldout = Windows(*load_split(Path(args.data), "heldout"), args.seq_len).tiled()

    def next_batch(gen: torch.Generator) -> Tensor:
        x = data.batch(gen, args.batch)
        if float(torch.rand((), generator=gen)) < SHORT_SHARE:
            x = x[:, :int(torch.randint(MIN_LEN, window, (), generator=gen))]
        return x

    def loss(model: nn.Module, x: Tensor, gen: torch.Generator) -> Tensor:
        return masked_nelbo(model, x, mask_ratios(gen, x.shape[0]).to(x.device), gen)

    return Task(next_batch=next_batch, loss=loss,
                evaluate=lambda model: heldout_nelbo(model, heldout, args.device),
                metrics=lambda held: {"heldout_nelbo": round(held, 4)}, seed=29)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_options(ap, out=WORK / "train", batch=32, seq_len=512, eval_seconds=60.0,
                model_defaults=ModelArgs())
    ap.add_argument("--data-window", type=int, default=None,
                    help="tokens per training window (default: --seq-len, the model's context; "
                         "shorter windows make CPU steps cheaper without changing the model)")
    args = ap.parse_args()
    train(args, model_args(args), diffusion_task(args))


if __name__ == "__main__":
    main()
