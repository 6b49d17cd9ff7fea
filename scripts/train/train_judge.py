#!/usr/bin/python3
"""Train and export dlm's perplexity judge: a small autoregressive model of the KJV.

The judge scores generated text by perplexity, as GPT-2 does in the MDLM papers (no
pretrained model is available here, so the project trains its own). It is
scripts/dlm_model.py's network (RMSNorm, rotary positions, SwiGLU) with a causal
mask (ModelArgs(causal=True)), trained by next-token cross-entropy on the same data
as the diffusion model (scripts/prepare_data.py's .work/data/): windows of
consecutive training verses, each followed by <eos>, starting at a verse boundary
after a <bos> (train_tiny.Windows). Held-out verses never enter training; the
held-out cross-entropy (nats/token) and perplexity are measured on the held-out
verse stream packed verse-aligned into <bos>-led windows, every token once.

Training is driven by wall time and resumable exactly as train_tiny.py: --minutes is
the length of the whole learning-rate schedule, a run stops after --sitting-minutes
and the next resumes from OUT/last.pt. OUT/best.pt keeps the weights with the best
held-out loss, OUT/best_weights.{json,bin} the same as raw float32 (readable by any
torch; the tied output head is stored once, as embed.weight). On CUDA it trains under bf16 autocast with the fused causal attention.

--export-only scripts those weights with Debian's torch 1.13 and writes
models/kjv-judge.pt: checkpoint format v1 (export_model.py's writer) with
"family": "judge", "causal": true, "next_token": true (logits "aligned": output i
predicts token i + 1), no mask id, and the held-out perplexity; forward(input_ids
[B, L]) -> logits [B, L, V].

Usage:
  /usr/bin/python3 scripts/train_judge.py --minutes 10 [--out .work/judge]
  python3 scripts/train_judge.py --minutes 2.5 --out /tmp/judge --batch 64 --threads 8  # GPU
  /usr/bin/python3 scripts/train_judge.py --export-only [--out .work/judge] [--export models/kjv-judge.pt]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import ContextManager, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dlm_model import Attention, Denoiser, ModelArgs  # noqa: E402
from export_model import checkpoint_config, load_weights, write_checkpoint  # noqa: E402
from train_tiny import BOS, Windows, load_npy, lr_at, save_raw  # noqa: E402

PAD = 0  # pads the tail of the last held-out window; never a target
MAX_FILE_BYTES = 15_000_000  # size budget of the exported judge
# The judge's shape: 3.4M parameters, 13.8 MB of float32 (tied embeddings).
JUDGE_ARGS: Dict[str, object] = {
    "d_model": 192, "n_layers": 6, "n_heads": 6, "d_ff": 512, "dropout": 0.2}
CLI_SKIP = ("vocab_size", "max_seq_len", "causal")  # model fields not offered as options


def causal_fast_attend(self: Attention, q: Tensor, k: Tensor, v: Tensor,
                       key_mask: Optional[Tensor]) -> Tensor:
    """Training-only causal attention through the fused kernel (torch >= 2.0); patched
    over Attention.attend as train_tiny.fast_attend is, never scripted."""
    drop = self.dropout if self.training else 0.0
    if key_mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
    past = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :] & past,
                                          dropout_p=drop)


def next_token_loss(model: nn.Module, x: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of x[:, 1:] given each prefix, in nats; PAD targets are skipped."""
    logits = model(x)[:, :-1]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                           ignore_index=PAD, reduction=reduction)


def verse_packed(stream: Tensor, starts: Tensor, seq_len: int) -> Tensor:
    """The whole stream as <bos>-led rows of seq_len tokens, each starting at a verse
    boundary and holding as many whole verses as fit (a verse longer than a row is
    split); the last row is padded with PAD. Every stream token is a target once."""
    bounds = starts.tolist() + [len(stream)]
    rows, row = [], [BOS]
    for a, b in zip(bounds[:-1], bounds[1:]):
        verse = stream[a:b].tolist()
        if len(row) > 1 and len(row) + len(verse) > seq_len:
            rows.append(row)
            row = [BOS]
        for i in range(0, len(verse), seq_len - 1):
            if len(row) == seq_len:
                rows.append(row)
                row = [BOS]
            row += verse[i:i + seq_len - 1]
    rows.append(row)
    return torch.tensor([r + [PAD] * (seq_len - len(r)) for r in rows], dtype=torch.int64)


@torch.no_grad()
def evaluate(model: nn.Module, rows: Tensor, device: str, batch: int = 32) -> float:
    """Mean next-token cross-entropy (nats/token) over the non-pad targets of rows."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, rows.shape[0], batch):
        x = rows[i:i + batch].to(device)
        total += float(next_token_loss(model, x, reduction="sum"))
        count += int((x[:, 1:] != PAD).sum())
    model.train(was_training)
    return total / count


def heldout_rows(data: Path, seq_len: int) -> Tensor:
    """The held-out verse stream, verse-packed (see verse_packed)."""
    return verse_packed(load_npy(data / "heldout.npy"), load_npy(data / "heldout_starts.npy"),
                        seq_len)


def parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text}")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE.parent / ".work" / "data"))
    ap.add_argument("--out", default=str(HERE.parent / ".work" / "judge"),
                    help="training folder (checkpoints, log, raw best weights)")
    ap.add_argument("--minutes", type=float, help="wall time of the whole schedule")
    ap.add_argument("--sitting-minutes", type=float, default=None, help="stop this run after this long")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-seconds", type=float, default=15.0, help="training time between evaluations")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    defaults = {**ModelArgs().to_dict(), **JUDGE_ARGS}
    for field, value in defaults.items():
        if field not in CLI_SKIP:
            kind = parse_bool if isinstance(value, bool) else type(value)
            ap.add_argument("--" + field.replace("_", "-"), type=kind, default=value)
    ap.add_argument("--export-only", action="store_true",
                    help="no training: script OUT's best weights into --export")
    ap.add_argument("--export", default=str(HERE.parent / "models" / "kjv-judge.pt"))
    ap.add_argument("--name", default="kjv-judge")
    ap.add_argument("--recipe", default="", help="free text recorded in config.json")
    args = ap.parse_args()
    if not args.export_only and args.minutes is None:
        ap.error("--minutes is required for training")
    return args


def model_args(args: argparse.Namespace) -> ModelArgs:
    return ModelArgs(vocab_size=4096, max_seq_len=args.seq_len, causal=True, **{
        f: getattr(args, f) for f in ModelArgs().to_dict() if f not in CLI_SKIP})


def raw_state(model: nn.Module) -> Dict[str, Tensor]:
    """The state dict with a tied output head left out (it is embed.weight), so that
    best_weights.bin stays under 16 MiB, the most a device run hands back per file."""
    state = model.state_dict()
    if model.lm_head.weight is model.embed.weight:
        del state["lm_head.weight"]
    return state


def load_judge_weights(out: Path, margs: ModelArgs) -> Dict[str, Tensor]:
    """export_model.load_weights, with a tied head that raw_state left out restored."""
    state = load_weights(out)
    if margs.tie_embeddings:
        state.setdefault("lm_head.weight", state["embed.weight"])
    return state


def count_params(model: nn.Module) -> int:
    """Parameters, tied ones once."""
    return sum(p.numel() for p in model.parameters())


def train(args: argparse.Namespace) -> None:
    """Train (or resume) in args.out until the schedule or this sitting ends."""
    torch.set_num_threads(args.threads)
    out, data = Path(args.out), Path(args.data)
    out.mkdir(parents=True, exist_ok=True)
    margs = model_args(args)
    model = Denoiser(margs).to(args.device)
    if hasattr(F, "scaled_dot_product_attention"):
        Attention.attend = causal_fast_attend
    print(f"judge: {count_params(model) / 1e6:.2f}M parameters, {margs.to_dict()}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    state = {"step": 0, "elapsed": 0.0, "best": float("inf"), "tokens": 0}
    last = out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location=args.device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", flush=True)
    (out / "model_args.json").write_text(json.dumps(margs.to_dict(), indent=1))

    train_windows = Windows(load_npy(data / "train.npy"), load_npy(data / "train_starts.npy"),
                            args.seq_len)
    heldout = heldout_rows(data, args.seq_len)
    gen = torch.Generator().manual_seed(state["step"] + 31)
    use_bf16 = args.device.startswith("cuda")

    def precision() -> ContextManager:
        if use_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    budget = args.minutes * 60
    sitting_end = time.time() + (args.sitting_minutes * 60 if args.sitting_minutes else budget)
    log = open(out / "log.jsonl", "a")

    def checkpoint(held: float) -> None:
        if held < state["best"]:
            state["best"] = held
            state["best_step"] = state["step"]
            torch.save(model.state_dict(), out / "best.pt")
            save_raw(raw_state(model), out / "best_weights")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, last)
        rec = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
               "tokens": state["tokens"], "heldout_ce": round(held, 4),
               "heldout_ppl": round(math.exp(held), 2)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(rec, flush=True)
        state["evaluated_step"] = state["step"]

    last_eval = time.time()
    model.train()
    while state["elapsed"] < budget and time.time() < sitting_end:
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(state["elapsed"] / budget, args.lr)
        x = train_windows.batch(gen, args.batch).to(args.device)
        with precision():
            loss = next_token_loss(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens"] += x.numel()
        if use_bf16 and state["step"] % 50 == 0:
            torch.cuda.synchronize()
        state["elapsed"] += time.time() - t0
        if time.time() - last_eval > args.eval_seconds:
            with precision():
                checkpoint(evaluate(model, heldout, args.device))
            last_eval = time.time()
    if state.get("evaluated_step") != state["step"]:
        with precision():
            checkpoint(evaluate(model, heldout, args.device))
    print(f"done: step {state['step']}, best held-out cross-entropy {state['best']:.4f} "
          f"nats/token (perplexity {math.exp(state['best']):.2f})", flush=True)


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
    model.load_state_dict(load_judge_weights(out, margs))
    model.eval()
    ce = evaluate(model, heldout_rows(data, margs.max_seq_len), "cpu")
    print(f"held-out cross-entropy (CPU, float32): {ce:.4f} nats/token, perplexity {math.exp(ce):.2f}")
    config = checkpoint_config(
        margs, args.name, family="judge", mask_token_id=None,
        causal=True, next_token=True, parameters=count_params(model),
        heldout_ce=round(ce, 4), heldout_ppl=round(math.exp(ce), 3),
        heldout_eval="held-out verse stream, verse-aligned <bos>-led windows of max_seq_len, "
                     "every token a target once (eos included, bos not)",
        training=training_summary(out), recipe=args.recipe)
    target = Path(args.export)
    write_checkpoint(model, config, data / "tokenizer.model", target)
    if target.stat().st_size > MAX_FILE_BYTES:
        raise SystemExit(f"{target} is {target.stat().st_size} bytes, over the "
                         f"{MAX_FILE_BYTES}-byte budget of the judge")


def main() -> None:
    args = parse_args()
    if args.export_only:
        export(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
