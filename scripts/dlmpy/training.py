"""The wall-time training loop that train/train_tiny.py and train/train_judge.py share.

A run trains one Denoiser (ModelArgs) on a Task: the task says how to draw a batch, what
its loss is and how the held-out loss is measured; the loop does the rest the same way for
both: AdamW with a warm-up and cosine learning rate over wall time, gradient clipping,
bf16 autocast on CUDA, held-out evaluation every --eval-seconds, and resumable folders.

--minutes is the length of the whole schedule, which may be spread over several sittings
(--sitting-minutes); each run resumes from OUT/last.pt. OUT/best.pt keeps the weights with
the best held-out loss, OUT/best_weights.{json,bin} the same as raw float32 (readable by any
torch; a tied output head is stored once, as embed.weight), OUT/model_args.json the shape,
OUT/log.jsonl one record per evaluation. --init-from starts from trained weights (fine-tuning;
the first record is then their held-out loss at step 0, before any update).
"""
from __future__ import annotations

import argparse
import array
import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlmpy.kjv import VOCAB_SIZE
from dlmpy.model import Attention, Denoiser, ModelArgs
from dlmpy.paths import WORK

# ModelArgs fields that are not options: the corpus fixes the vocabulary, --seq-len the
# context, the script the attention direction.
FIXED_FIELDS = ("vocab_size", "max_seq_len", "causal")


@dataclass
class Task:
    """What one training optimises and reports; the loop around it is shared."""
    next_batch: Callable[[torch.Generator], Tensor]  # token ids [B, L] on the CPU
    loss: Callable[[nn.Module, Tensor, torch.Generator], Tensor]  # of a batch on the device
    evaluate: Callable[[nn.Module], float]  # held-out loss, lower is better
    metrics: Callable[[float], Dict[str, float]]  # log fields of a held-out loss
    seed: int  # the batch generator's seed, offset by the step when a run resumes


def parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text}")


def add_options(ap: argparse.ArgumentParser, *, out: Path, batch: int, seq_len: int,
                eval_seconds: float, model_defaults: ModelArgs,
                minutes_required: bool = True) -> None:
    """The options of the loop, then one per ModelArgs field outside FIXED_FIELDS."""
    ap.add_argument("--data", default=str(WORK / "data"), help="train/prepare_data.py's output")
    ap.add_argument("--out", default=str(out), help="training folder (checkpoints, log, raw best weights)")
    ap.add_argument("--minutes", type=float, required=minutes_required,
                    help="wall time of the whole learning-rate schedule")
    ap.add_argument("--sitting-minutes", type=float, default=None, help="stop this run after this long")
    ap.add_argument("--batch", type=int, default=batch, help="windows per step")
    ap.add_argument("--seq-len", type=int, default=seq_len, help="tokens per window (the model's context)")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--eval-seconds", type=float, default=eval_seconds,
                    help="training time between held-out evaluations")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--init-from", metavar="PATH",
                    help="start from these weights (a dlm checkpoint .pt or a training folder) "
                         "instead of a random init; ignored when OUT/last.pt resumes a run")
    for field, value in model_defaults.to_dict().items():
        if field not in FIXED_FIELDS:
            kind = parse_bool if isinstance(value, bool) else type(value)
            ap.add_argument("--" + field.replace("_", "-"), type=kind, default=value,
                            help=f"model {field}")


def model_args(args: argparse.Namespace, causal: bool = False) -> ModelArgs:
    """The ModelArgs of add_options' parsed options."""
    fields = {f: getattr(args, f) for f in ModelArgs().to_dict() if f not in FIXED_FIELDS}
    return ModelArgs(vocab_size=VOCAB_SIZE, max_seq_len=args.seq_len, causal=causal, **fields)


def lr_at(progress: float, peak: float, warmup: float = 0.02) -> float:
    """Linear warm-up over `warmup` of the schedule, then cosine down to peak / 10."""
    if progress < warmup:
        return peak * progress / warmup
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))
    return peak * (0.1 + 0.9 * cos)


def fused_attend(self: Attention, q: Tensor, k: Tensor, v: Tensor,
                 key_mask: Optional[Tensor]) -> Tensor:
    """Attention.attend through torch's fused kernel (torch >= 2.0), causal or not;
    training only: use_fused_attention patches it in, scripting never sees it."""
    drop = self.dropout if self.training else 0.0
    mask = None if key_mask is None else key_mask[:, None, None, :]
    if self.causal:
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        past = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        mask = mask & past
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)


def use_fused_attention() -> None:
    """Train with fused_attend where torch has the kernel (Debian's torch 1.13 does not)."""
    if hasattr(F, "scaled_dot_product_attention"):
        Attention.attend = fused_attend


def count_params(model: nn.Module) -> int:
    """Parameters, tied ones once."""
    return sum(p.numel() for p in model.parameters())


def raw_state(model: Denoiser) -> Dict[str, Tensor]:
    """The state dict with a tied output head left out (it is embed.weight), so that
    best_weights.bin stays small (a device run hands back at most 16 MiB per file)."""
    state = model.state_dict()
    if model.lm_head.weight is model.embed.weight:
        del state["lm_head.weight"]
    return state


def save_raw(state: Dict[str, Tensor], prefix: Path) -> None:
    """prefix.bin (float32 values, concatenated) and prefix.json (name -> shape, offset)."""
    index, offset = {}, 0
    with open(prefix.with_suffix(".bin"), "wb") as f:
        for name, tensor in state.items():
            values = array.array("f", tensor.detach().float().cpu().flatten().tolist())
            f.write(values.tobytes())
            index[name] = {"shape": list(tensor.shape), "offset": offset}
            offset += len(values) * 4
    prefix.with_suffix(".json").write_text(json.dumps(index))


def load_best_weights(folder: Path, margs: ModelArgs) -> Dict[str, Tensor]:
    """The best weights of a training folder: best_weights.{json,bin} when present, else
    best.pt; a tied head that raw_state left out is restored."""
    raw = folder / "best_weights.bin"
    if raw.exists():
        index = json.loads((folder / "best_weights.json").read_text())
        blob = bytearray(raw.read_bytes())
        state = {}
        for name, entry in index.items():
            count = math.prod(entry["shape"])
            flat = torch.frombuffer(blob, dtype=torch.float32, count=count, offset=entry["offset"])
            state[name] = flat.clone().view(entry["shape"])
    else:
        state = torch.load(folder / "best.pt", map_location="cpu")
    if margs.tie_embeddings:
        state.setdefault("lm_head.weight", state["embed.weight"])
    return state


def initial_weights(path: Path, margs: ModelArgs) -> Dict[str, Tensor]:
    """The weights of --init-from: a dlm checkpoint (its scripted module's state dict) or
    a training folder (load_best_weights); its architecture must be `margs`."""
    if path.is_dir():
        theirs = json.loads((path / "model_args.json").read_text())
        state = None
    else:
        from dlmpy.checkpoint import load
        ck = load(path)
        theirs, state = ck.config["architecture"], ck.module.state_dict()
    if theirs != margs.to_dict():
        diff = {k: (theirs.get(k), v) for k, v in margs.to_dict().items() if theirs.get(k) != v}
        raise SystemExit(f"--init-from {path}: architecture differs from the options "
                         f"(theirs, ours): {diff}; pass the matching model options")
    return load_best_weights(path, margs) if state is None else state


def train(args: argparse.Namespace, margs: ModelArgs, task: Task) -> None:
    """Train (or resume) in args.out until the schedule or this sitting ends."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = Denoiser(margs).to(args.device)
    use_fused_attention()
    print(f"{count_params(model) / 1e6:.2f}M parameters, {margs.to_dict()}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    state = {"step": 0, "elapsed": 0.0, "best": float("inf"), "tokens": 0}
    last = out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location=args.device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", flush=True)
    elif getattr(args, "init_from", None):
        model.load_state_dict(initial_weights(Path(args.init_from), margs))
        print(f"initial weights from {args.init_from}", flush=True)
    (out / "model_args.json").write_text(json.dumps(margs.to_dict(), indent=1))
    gen = torch.Generator().manual_seed(state["step"] + task.seed)
    use_bf16 = args.device.startswith("cuda")

    def precision() -> ContextManager:
        if use_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    budget = args.minutes * 60
    sitting_end = time.time() + (args.sitting_minutes * 60 if args.sitting_minutes else budget)
    log = open(out / "log.jsonl", "a")

    def checkpoint() -> None:
        with precision():
            held = task.evaluate(model)
        if held < state["best"]:
            state["best"] = held
            state["best_step"] = state["step"]
            torch.save(model.state_dict(), out / "best.pt")
            save_raw(raw_state(model), out / "best_weights")
        state["evaluated_step"] = state["step"]
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, last)
        rec = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
               "tokens": state["tokens"], **task.metrics(held)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(rec, flush=True)

    if state["step"] == 0 and getattr(args, "init_from", None):
        checkpoint()  # the starting point's held-out loss: the bar the fine-tuning must beat
    last_eval = time.time()
    model.train()
    while state["elapsed"] < budget and time.time() < sitting_end:
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(state["elapsed"] / budget, args.lr)
        x = task.next_batch(gen).to(args.device)
        with precision():
            loss = task.loss(model, x, gen)
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
            checkpoint()
            last_eval = time.time()
    if state.get("evaluated_step") != state["step"]:
        checkpoint()
    log.close()
    best = ", ".join(f"{k} {v}" for k, v in task.metrics(state["best"]).items())
    print(f"done: step {state['step']}, best held-out {best}", flush=True)
