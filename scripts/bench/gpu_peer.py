#!/usr/bin/python3
"""The Python peer of issue 15: an exporter-family checkpoint (scripts/export.py: LLaDA,
Dream, LLaDA-MoE shapes) run by eager PyTorch on the same weights, with LLaDA's own loop
(no cache: every step runs the whole canvas) or Fast-dLLM's dual-cache loop
(bench_peer.generate_with_dual_cache), temperature 0, low_confidence remasking.

The network is export/blocks.py's Transformer, not scripted: the checkpoint's parameters
are loaded into an eager copy of the module that was exported, so the peer computes what
dlm computes, op for op, through Python instead of TorchScript and C++. Model calls:
- the full pass: Transformer.forward_kv (logits and every layer's keys/values);
- the window pass with replace_position (Fast-dLLM): the block's fresh keys/values
  written into the cache in place and attended with the whole cache
  (Transformer.forward_window_update, head on the block's rows).

Prints one JSON line: tokens/s (generation only: load, copy to the device and one warm-up
call excluded), model calls, the generated ids, and the device's peak memory on CUDA.

Usage: PYTHONPATH=scripts python3 scripts/bench/gpu_peer.py --model M.pt --mode dual|none
       [--device cuda] [--prompt-ids 1,2,3 | --prompt-len 64] [-n 256] [--block-length 32]
       [--steps N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from bench.bench_peer import generate_no_cache, generate_with_dual_cache
from dlmpy.checkpoint import load
from export.arch import Arch
from export.blocks import empty_model

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def eager_transformer(path: str, device: str):
    """The checkpoint's parameters in an eager export/blocks.Transformer on `device`."""
    ckpt = load(path)
    arch = Arch(**ckpt.config["architecture"])
    model = empty_model(arch, DTYPES[ckpt.config.get("dtype", "float32")])
    model.load_state_dict(ckpt.module.state_dict())
    return model.to(device).eval(), ckpt.config


def model_calls(model, cache: bool):
    """The ModelCall of bench_peer (Fast-dLLM's model(x, past_key_values, replace_position))
    on an eager blocks.Transformer; without `cache`, LLaDA's model(x): logits only."""
    def call(x, past=None, replace_position=None):
        b, l = x.shape
        if not cache:
            return model(x), None
        if past is None:
            mask = torch.ones(b, l, dtype=torch.bool, device=x.device)
            pos = torch.arange(l, device=x.device).unsqueeze(0).expand(b, -1)
            logits, keys, values = model.forward_kv(x, mask, pos)
            return logits, (keys, values, mask)
        keys, values, mask = past
        # Fast-dLLM's replace_position marks one contiguous block per row.
        start = replace_position.int().argmax(dim=1)
        pos = start.unsqueeze(1) + torch.arange(l, device=x.device).unsqueeze(0)
        logits = model.forward_window_update(x, pos, start, keys, values, mask,
                                             torch.zeros(b, dtype=torch.long, device=x.device), l)
        return logits, past
    return call


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=("none", "dual"), required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--prompt-ids", help="comma-separated prompt ids (dlm --json's prompt_token_ids)")
    ap.add_argument("--prompt-len", type=int, default=64, help="else: this many seeded random ids")
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--steps", type=int, help="default: -n (one token per step)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads on a CPU (0: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, config = eager_transformer(args.model, args.device)
    if args.prompt_ids:
        ids = [int(t) for t in args.prompt_ids.split(",")]
    else:
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, min(config["vocab_size"], 30000), (args.prompt_len,), generator=g).tolist()
    prompt = torch.tensor([ids], dtype=torch.long, device=args.device)
    generate = generate_with_dual_cache if args.mode == "dual" else generate_no_cache
    call = model_calls(model, args.mode == "dual")
    steps = args.steps or args.n
    mask_id = int(config["mask_token_id"])
    cuda = args.device.startswith("cuda")
    with torch.inference_mode():
        call(prompt)  # warm-up: kernels chosen, allocator primed
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        x, nfe = generate(call, prompt, steps, args.n, args.block_length, mask_id)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    record = {"peer": f"eager {args.mode}", "device": args.device, "dtype": config.get("dtype"),
              "tokens_per_s": args.n / seconds, "seconds": seconds, "nfe": nfe,
              "prompt_token_ids": ids, "token_ids": x[0, len(ids):].tolist()}
    if cuda:
        record["peak_memory_bytes"] = torch.cuda.max_memory_allocated()
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
