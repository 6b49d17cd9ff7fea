#!/usr/bin/python3
"""Train and export dlm's perplexity judge: a small autoregressive model of the KJV.

The judge scores generated text by perplexity, as GPT-2 does in the MDLM papers (no
pretrained model is available here, so the project trains its own). It is
dlmpy/model.py's network (RMSNorm, rotary positions, SwiGLU) with a causal mask
(ModelArgs(causal=True)), trained by next-token cross-entropy on the same data as the
diffusion model (train/prepare_data.py's .work/data/): windows of consecutive training
verses, each followed by <eos>, starting at a verse boundary after a <bos>
(dlmpy.data.Windows). Held-out verses never enter training; the held-out cross-entropy
(nats/token) and perplexity are measured on the held-out verse stream packed
verse-aligned into <bos>-led windows, every token once.

Training is driven by wall time and resumable exactly as train_tiny.py (dlmpy/training.py):
--minutes is the length of the whole learning-rate schedule, a run stops after
--sitting-minutes and the next resumes from OUT/last.pt. OUT/best.pt keeps the weights
with the best held-out loss, OUT/best_weights.{json,bin} the same as raw float32 (readable
by any torch; the tied output head is stored once, as embed.weight). On CUDA it trains
under bf16 autocast with the fused causal attention.

--export-only scripts those weights with Debian's torch 1.13 and writes
models/kjv-judge.pt: checkpoint format v1 (dlmpy/checkpoint.py) with "family": "judge",
"causal": true, "next_token": true (logits "aligned": output i predicts token i + 1), no
mask id, and the held-out perplexity; forward(input_ids [B, L]) -> logits [B, L, V].

Usage (from the repository root):
  PYTHONPATH=scripts /usr/bin/python3 scripts/train/train_judge.py --minutes 10 [--out .work/judge]
  PYTHONPATH=scripts python3 scripts/train/train_judge.py --minutes 2.5 --out /tmp/judge --batch 64 --threads 8  # GPU
  PYTHONPATH=scripts /usr/bin/python3 scripts/train/train_judge.py --export-only [--out .work/judge] [--export models/kjv-judge.pt]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlmpy.checkpoint import checkpoint_config, write_checkpoint
from dlmpy.data import Windows, load_split
from dlmpy.kjv import BOS_ID, PAD_ID
from dlmpy.model import Denoiser, ModelArgs
from dlmpy.paths import MODELS, WORK
from dlmpy.training import Task, add_options, count_params, load_best_weights, model_args, train

MAX_FILE_BYTES = 15_000_000  # size budget of the exported judge
# The judge's shape: 3.4M parameters, 13.8 MB of float32 (tied embeddings).
JUDGE_ARGS = ModelArgs(d_model=192, n_layers=6, n_heads=6, d_ff=512, dropout=0.2, causal=True)


def next_token_loss(model: nn.Module, x: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of x[:, 1:] given each prefix, in nats; PAD_ID targets are skipped
    (they pad the tail of the last held-out window)."""
    logits = model(x)[:, :-1]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                           ignore_index=PAD_ID, reduction=reduction)


def verse_packed(stream: Tensor, starts: Tensor, seq_len: int) -> Tensor:
    """The whole stream as <bos>-led rows of seq_len tokens, each starting at a verse
    boundary and holding as many whole verses as fit (a verse longer than a row is
    split); the last row is padded with PAD_ID. Every stream token is a target once."""
    bounds = starts.tolist() + [len(stream)]
    rows, row = [], [BOS_ID]
    for a, b in zip(bounds[:-1], bounds[1:]):
        verse = stream[a:b].tolist()
        if len(row) > 1 and len(row) + len(verse) > seq_len:
            rows.append(row)
            row = [BOS_ID]
        for i in range(0, len(verse), seq_len - 1):
            if len(row) == seq_len:
                rows.append(row)
                row = [BOS_ID]
            row += verse[i:i + seq_len - 1]
    rows.append(row)
    return torch.tensor([r + [PAD_ID] * (seq_len - len(r)) for r in rows], dtype=torch.int64)


@torch.no_grad()
def heldout_ce(model: nn.Module, rows: Tensor, device: str, batch: int = 32) -> float:
    """Mean next-token cross-entropy (nats/token) over the non-pad targets of rows."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, rows.shape[0], batch):
        x = rows[i:i + batch].to(device)
        total += float(next_token_loss(model, x, reduction="sum"))
        count += int((x[:, 1:] != PAD_ID).sum())
    model.train(was_training)
    return total / count


def heldout_rows(data: Path, seq_len: int) -> Tensor:
    """The held-out verse stream, verse-packed (see verse_packed)."""
    return verse_packed(*load_split(data, "heldout"), seq_len)


def metrics(ce: float) -> Dict[str, float]:
    return {"heldout_ce": round(ce, 4), "heldout_ppl": round(math.exp(ce), 2)}


def judge_task(args: argparse.Namespace) -> Task:
    """Verse windows; next-token cross-entropy, held out on the verse-packed stream."""
    data = Windows(*load_split(Path(args.data), "train"), args.seq_len)
    heldout = heldout_rows(Path(args.data), args.seq_len)
    return Task(next_batch=lambda gen: data.batch(gen, args.batch),
                loss=lambda model, x, gen: next_token_loss(model, x),
                evaluate=lambda model: heldout_ce(model, heldout, args.device),
                metrics=metrics, seed=31)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_options(ap, out=WORK / "judge", batch=64, seq_len=256, eval_seconds=15.0,
                model_defaults=JUDGE_ARGS, minutes_required=False)
    ap.add_argument("--export-only", action="store_true",
                    help="no training: script OUT's best weights into --export")
    ap.add_argument("--export", default=str(MODELS / "kjv-judge.pt"))
    ap.add_argument("--name", default="kjv-judge")
    ap.add_argument("--recipe", default="", help="free text recorded in config.json")
    args = ap.parse_args()
    if not args.export_only and args.minutes is None:
        ap.error("--minutes is required for training")
    return args


def training_summary(out: Path) -> Dict[str, object]:
    """Steps, minutes and tokens of the run in out, from its log (best record and last)."""
    log = out / "log.jsonl"
    if not log.exists():
        return {}
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    best = min(recs, key=lambda r: r["heldout_ce"])
    return {"best_step": best["step"], "steps": recs[-1]["step"],
            "minutes": recs[-1]["minutes"], "tokens": recs[-1]["tokens"]}


def export(args: argparse.Namespace) -> None:
    """Script OUT's best weights (CPU, float32) into a format-v1 judge checkpoint."""
    torch.set_num_threads(args.threads)
    out, data = Path(args.out), Path(args.data)
    margs = ModelArgs(**json.loads((out / "model_args.json").read_text()))
    if not margs.causal:
        raise SystemExit(f"{out}/model_args.json is not a causal model")
    model = Denoiser(margs)
    model.load_state_dict(load_best_weights(out, margs))
    model.eval()
    ce = heldout_ce(model, heldout_rows(data, margs.max_seq_len), "cpu")
    print(f"held-out cross-entropy (CPU, float32): {ce:.4f} nats/token, perplexity {math.exp(ce):.2f}")
    config = checkpoint_config(
        margs, args.name, family="judge", mask_token_id=None,
        causal=True, next_token=True, parameters=count_params(model),
        heldout_ce=round(ce, 4), heldout_ppl=round(math.exp(ce), 3),
        heldout_eval="held-out verse stream, verse-aligned <bos>-led windows of max_seq_len, "
                     "every token a target once (eos included, bos not)",
        training=training_summary(out), recipe=args.recipe)
    target = Path(args.export)
    write_checkpoint(model, config, (data / "tokenizer.model").read_bytes(), target)
    if target.stat().st_size > MAX_FILE_BYTES:
        raise SystemExit(f"{target} is {target.stat().st_size} bytes, over the "
                         f"{MAX_FILE_BYTES}-byte budget of the judge")


def main() -> None:
    args = parse_args()
    if args.export_only:
        export(args)
    else:
        train(args, model_args(args, causal=True), judge_task(args))


if __name__ == "__main__":
    main()
