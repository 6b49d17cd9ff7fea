#!/usr/bin/python3
"""Train dlm's tiny default masked-diffusion denoiser on the King James Bible.

Objective (LLaDA / MDLM): per sequence a mask ratio t, drawn low-discrepancy across
the batch (t_i = (u + i/B) mod 1, as in MDLM) to tame the variance of the 1/t weight;
every token but the leading <bos> is masked with probability t; the loss is the
cross-entropy on masked positions weighted by 1/t, averaged per token (the NELBO).

Training data are windows of consecutive training verses, each verse followed by
<eos>, starting at a verse boundary after a <bos>; a quarter of the batches are cut
to a random shorter length so the model also sees short canvases. Held-out verses
(scripts/data/heldout_verses.txt) never enter training; the held-out NELBO is
evaluated with fixed masks and reported in nats per token.

Training is driven by wall time: --minutes is the length of the whole learning-rate
schedule, which may be spread over several sittings (--sitting-minutes); each run
resumes from OUT/last.pt. OUT/best.pt keeps the weights with the best held-out loss;
OUT/best_weights.{json,bin} hold them as raw float32 too, readable by any torch.

Usage: /usr/bin/python3 scripts/train_tiny.py --minutes 30 [--out .work/train]
then /usr/bin/python3 scripts/export_model.py to write models/.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import array
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dlm_model import Attention, Denoiser, ModelArgs  # noqa: E402

BOS, EOS, MASK = 2, 3, 4


def load_npy(path: Path) -> torch.Tensor:
    """A 1-D .npy of uint16 (ids < 32768) or int64 as an int64 tensor, without numpy
    (the GPU machine's pip torch may come without it)."""
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    header = ast.literal_eval(raw[10:10 + header_len].decode("latin1"))
    dtype = {"<u2": torch.int16, "<i8": torch.int64}[header["descr"]]
    return torch.frombuffer(bytearray(raw[10 + header_len:]), dtype=dtype).to(torch.int64)


def fast_attend(self, q, k, v, key_mask):
    """Training-only attention through the fused kernel where torch has one."""
    mask = None if key_mask is None else key_mask[:, None, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                          dropout_p=self.dropout if self.training else 0.0)


class Windows:
    """Windows of whole verses from a token stream, each starting with <bos>."""

    def __init__(self, stream: torch.Tensor, starts: torch.Tensor, seq_len: int):
        self.stream = stream
        self.starts = starts[starts + seq_len - 1 <= len(stream)]
        self.seq_len = seq_len

    def batch(self, gen: torch.Generator, size: int) -> torch.Tensor:
        picks = self.starts[torch.randint(len(self.starts), (size,), generator=gen)].tolist()
        rows = [torch.cat([torch.tensor([BOS]), self.stream[s:s + self.seq_len - 1]]) for s in picks]
        return torch.stack(rows)

    def tiled(self) -> torch.Tensor:
        """Non-overlapping windows covering the stream (for evaluation)."""
        rows, pos, n = [], 0, len(self.stream)
        while pos + self.seq_len - 1 <= n:
            rows.append(torch.cat([torch.tensor([BOS]), self.stream[pos:pos + self.seq_len - 1]]))
            pos += self.seq_len - 1
        return torch.stack(rows)


def masked_nelbo(model, x: torch.Tensor, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """1/t-weighted masked cross-entropy per token (position 0, <bos>, is never masked)."""
    noise = torch.rand(x.shape, generator=gen, device="cpu").to(x.device)
    masked = noise < t[:, None]
    masked[:, 0] = False
    logits = model(torch.where(masked, torch.full_like(x, MASK), x))
    ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x.reshape(-1),
                         reduction="none").view(x.shape)
    return (ce * masked / t[:, None]).sum() / (x.shape[0] * (x.shape[1] - 1))


@torch.no_grad()
def evaluate(model, heldout: torch.Tensor, device: str, n_t: int = 8) -> float:
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    total, count = 0.0, 0
    for k in range(n_t):
        t = torch.full((heldout.shape[0],), (k + 0.5) / n_t, device=device)
        for i in range(0, heldout.shape[0], 32):
            x = heldout[i:i + 32].to(device)
            total += float(masked_nelbo(model, x, t[:x.shape[0]], gen)) * x.shape[0]
            count += x.shape[0]
    model.train()
    return total / count


def lr_at(progress: float, peak: float, warmup: float = 0.02) -> float:
    if progress < warmup:
        return peak * progress / warmup
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))
    return peak * (0.1 + 0.9 * cos)


def save_raw(state: dict, prefix: Path) -> None:
    index, offset = {}, 0
    with open(prefix.with_suffix(".bin"), "wb") as f:
        for name, tensor in state.items():
            values = array.array("f", tensor.detach().float().cpu().flatten().tolist())
            f.write(values.tobytes())
            index[name] = {"shape": list(tensor.shape), "offset": offset}
            offset += len(values) * 4
    prefix.with_suffix(".json").write_text(json.dumps(index))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    ap.add_argument("--data", default=str(here.parent / ".work" / "data"))
    ap.add_argument("--out", default=str(here.parent / ".work" / "train"))
    ap.add_argument("--minutes", type=float, required=True, help="wall time of the whole schedule")
    ap.add_argument("--sitting-minutes", type=float, default=None, help="stop this run after this long")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-seconds", type=float, default=60.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    for field, value in ModelArgs().to_dict().items():
        if field not in ("vocab_size", "max_seq_len"):
            ap.add_argument("--" + field.replace("_", "-"), type=type(value), default=value)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)

    margs = ModelArgs(vocab_size=4096, max_seq_len=args.seq_len, **{
        f: getattr(args, f) for f in ModelArgs().to_dict() if f not in ("vocab_size", "max_seq_len")})
    model = Denoiser(margs).to(args.device)
    if hasattr(F, "scaled_dot_product_attention"):
        Attention.attend = fast_attend
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

    train = Windows(load_npy(data / "train.npy"), load_npy(data / "train_starts.npy"), args.seq_len)
    heldout = Windows(load_npy(data / "heldout.npy"), load_npy(data / "heldout_starts.npy"),
                      args.seq_len).tiled()
    gen = torch.Generator().manual_seed(state["step"] + 29)
    use_bf16 = args.device.startswith("cuda")

    def precision():
        if use_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    budget = args.minutes * 60
    sitting_end = time.time() + (args.sitting_minutes * 60 if args.sitting_minutes else budget)
    log = open(out / "log.jsonl", "a")

    def checkpoint(held: float) -> None:
        if held < state["best"]:
            state["best"] = held
            torch.save(model.state_dict(), out / "best.pt")
            save_raw(model.state_dict(), out / "best_weights")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, last)
        rec = {"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
               "tokens": state["tokens"], "heldout_nelbo": round(held, 4)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(rec, flush=True)

    last_eval = time.time()
    model.train()
    while state["elapsed"] < budget and time.time() < sitting_end:
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(state["elapsed"] / budget, args.lr)
        x = train.batch(gen, args.batch)
        if float(torch.rand((), generator=gen)) < 0.25:
            x = x[:, :int(torch.randint(16, args.seq_len, (), generator=gen))]
        x = x.to(args.device)
        u = float(torch.rand((), generator=gen))
        t = ((u + torch.arange(args.batch) / args.batch) % 1.0) * (1 - 1e-3) + 1e-3
        with precision():
            loss = masked_nelbo(model, x, t.to(args.device), gen)
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
    with precision():
        checkpoint(evaluate(model, heldout, args.device))
    print(f"done: step {state['step']}, best held-out NELBO {state['best']:.4f}", flush=True)


if __name__ == "__main__":
    main()
