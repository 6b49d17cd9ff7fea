#!/usr/bin/python3
"""dlm against the Python sampler a user would write: the eager PyTorch denoiser
(dlmpy/model.py, the module the shipped model was trained as) with Fast-dLLM's dual-cache
loop written as Fast-dLLM writes it (NVlabs/Fast-dLLM llada/generate.py,
generate_with_dual_cache, and the replace_position branch of its modeling_llada.py
attention), on the same weights.

Per block: one full pass over the whole canvas returns logits and every layer's
past_key_values and commits the block's first tokens; then, until the block has no mask,
the block alone runs with replace_position marking its slots: each layer writes its fresh
keys/values into past_key_values in place and attends to the whole cache. Tokens are
chosen by get_transfer_index (low_confidence: argmax, float64 softmax probability, top-k
per row with num_transfer_tokens spread evenly over the block's steps), temperature 0.

The benchmark runs `dlm generate --cache dual` and the peer interleaved (prompt by prompt,
dlm first then the peer), prints tokens/s of each (model load excluded), their ratio, the
token agreement and the load average (other jobs on the machine skew both; compare the
ratios of one run).

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_peer.py [--dlm build/dlm]
       [--model models/dlm-kjv-tiny.pt] [--prompts 3] [-n 256] [--block-length 32] [-t 2]
       [--peer-threads N]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F

from dlmpy.checkpoint import load
from dlmpy.kjv import heldout_prompts
from dlmpy.model import Denoiser, ModelArgs, apply_rotary, rotary_cos_sin
from dlmpy.paths import ROOT, SHIPPED_MODEL
from export.kjv import from_module

PastKeyValues = List[Tuple[torch.Tensor, torch.Tensor]]


def eager_model(path: str) -> Tuple[Denoiser, dict, bytes]:
    """The checkpoint's weights in dlmpy's eager Denoiser (either export layout)."""
    ckpt = load(path)
    margs = ModelArgs(**ckpt.config["architecture"])
    model = Denoiser(margs)
    model.load_state_dict(from_module(ckpt.module, margs))
    return model.eval(), ckpt.config, ckpt.tokenizer


def model_call(model: Denoiser, x: torch.Tensor, past_key_values: Optional[PastKeyValues] = None,
               replace_position: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, PastKeyValues]:
    """The model call of Fast-dLLM's LLaDA (use_cache=True): logits of x and the layers'
    (k, v). With past_key_values and replace_position [B, L] (true: the slots x fills),
    x's fresh keys/values replace those slots of the cache in place, per batch row, and
    the queries attend to the whole cache (Fast-dLLM's attention branch)."""
    b, l = x.shape
    if replace_position is None:
        positions = torch.arange(l).unsqueeze(0).expand(b, -1)
    else:
        positions = torch.stack([replace_position[i].nonzero(as_tuple=True)[0] for i in range(b)])
    cos, sin = rotary_cos_sin(positions, model.head_dim, model.rope_base)
    h = model.embed(x)
    present: PastKeyValues = []
    for i, layer in enumerate(model.layers):
        attn = layer.attn
        a = layer.attn_norm(h)
        q = attn.q_proj(a).view(b, l, attn.n_heads, attn.head_dim).transpose(1, 2)
        k = attn.k_proj(a).view(b, l, attn.n_heads, attn.head_dim).transpose(1, 2)
        v = attn.v_proj(a).view(b, l, attn.n_heads, attn.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past_key_values is not None:
            past_key, past_value = past_key_values[i]
            if replace_position is None:
                k = torch.cat((past_key, k), dim=-2)
                v = torch.cat((past_value, v), dim=-2)
            else:
                for batch_idx in range(b):
                    idx = replace_position[batch_idx].nonzero(as_tuple=True)[0]
                    if len(idx) > 0:
                        past_key[batch_idx, :, idx] = k[batch_idx, :, :len(idx)]
                        past_value[batch_idx, :, idx] = v[batch_idx, :, :len(idx)]
                k, v = past_key, past_value
        present.append((k, v))
        h = h + attn.output(attn.attend(q, k, v, None))
        h = h + layer.mlp(layer.mlp_norm(h))
    return model.lm_head(model.norm(h)), present


def get_num_transfer_tokens(mask_index: torch.Tensor, steps: int) -> torch.Tensor:
    mask_num = mask_index.sum(dim=1, keepdim=True)
    base = mask_num // steps
    remainder = mask_num % steps
    num_transfer_tokens = torch.zeros(mask_num.size(0), steps, device=mask_index.device,
                                      dtype=torch.int64) + base
    for i in range(mask_num.size(0)):
        num_transfer_tokens[i, :remainder[i]] += 1
    return num_transfer_tokens


def get_transfer_index(logits: torch.Tensor, mask_index: torch.Tensor, x: torch.Tensor,
                       num_transfer_tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Temperature 0, remasking low_confidence."""
    x0 = torch.argmax(logits, dim=-1)
    p = F.softmax(logits.to(torch.float64), dim=-1)
    x0_p = torch.squeeze(torch.gather(p, dim=-1, index=torch.unsqueeze(x0, -1)), -1)
    x0 = torch.where(mask_index, x0, x)
    confidence = torch.where(mask_index, x0_p, -math.inf)
    transfer_index = torch.zeros_like(x0, dtype=torch.bool)
    for j in range(confidence.shape[0]):
        _, select_index = torch.topk(confidence[j], k=int(num_transfer_tokens[j]))
        transfer_index[j, select_index] = True
    return x0, transfer_index


# call(x, past_key_values=None, replace_position=None) -> (logits, past_key_values): a model
# call with the semantics of model_call above (any model; see gpu_peer.py for the exporters').
ModelCall = Callable[..., Tuple[torch.Tensor, object]]


def start_canvas(prompt: torch.Tensor, steps: int, gen_length: int, block_length: int,
                 mask_id: int) -> Tuple[torch.Tensor, int, int]:
    """Both loops' start: the prompt followed by gen_length masks, the number of blocks and
    the steps per block (LLaDA's and Fast-dLLM's generate() open the same way)."""
    x = torch.full((prompt.shape[0], prompt.shape[1] + gen_length), mask_id, dtype=torch.long,
                   device=prompt.device)
    x[:, :prompt.shape[1]] = prompt.clone()
    num_blocks = gen_length // block_length
    return x, num_blocks, steps // num_blocks


@torch.no_grad()
def generate_no_cache(call: ModelCall, prompt: torch.Tensor, steps: int, gen_length: int,
                      block_length: int, mask_id: int) -> Tuple[torch.Tensor, int]:
    """LLaDA's own generate() (GSAI-ML/LLaDA generate.py), temperature 0, low_confidence
    remasking: every step runs the model over the whole canvas."""
    x, num_blocks, steps = start_canvas(prompt, steps, gen_length, block_length, mask_id)
    nfe = 0
    for num_block in range(num_blocks):
        block_start = prompt.shape[1] + num_block * block_length
        block_mask_index = x[:, block_start:block_start + block_length] == mask_id
        num_transfer_tokens = get_num_transfer_tokens(block_mask_index, steps)
        for i in range(steps):
            mask_index = x == mask_id
            logits, _ = call(x)
            nfe += 1
            mask_index[:, block_start + block_length:] = 0
            x0, transfer_index = get_transfer_index(logits, mask_index, x, num_transfer_tokens[:, i])
            x[transfer_index] = x0[transfer_index]
    return x, nfe


@torch.no_grad()
def generate_with_dual_cache(model, prompt: torch.Tensor, steps: int, gen_length: int,
                             block_length: int, mask_id: int) -> Tuple[torch.Tensor, int]:
    """Fast-dLLM's generate_with_dual_cache; `model` is a dlmpy Denoiser or a ModelCall."""
    if isinstance(model, Denoiser):
        eager = model
        model = lambda x, past=None, replace=None: model_call(eager, x, past, replace)  # noqa: E731
    x, num_blocks, steps = start_canvas(prompt, steps, gen_length, block_length, mask_id)
    nfe = 0
    for num_block in range(num_blocks):
        current_block_start = prompt.shape[1] + num_block * block_length
        current_block_end = current_block_start + block_length
        block_mask_index = x[:, current_block_start:current_block_end] == mask_id
        num_transfer_tokens = get_num_transfer_tokens(block_mask_index, steps)
        logits, past_key_values = model(x)
        mask_index = x == mask_id
        mask_index[:, current_block_end:] = 0
        x0, transfer_index = get_transfer_index(logits, mask_index, x, num_transfer_tokens[:, 0])
        x[transfer_index] = x0[transfer_index]
        nfe += 1
        i = 1
        replace_position = torch.zeros_like(x, dtype=torch.bool)
        replace_position[:, current_block_start:current_block_end] = 1
        while True:
            if (x[:, current_block_start:current_block_end] == mask_id).sum() == 0:
                break
            nfe += 1
            mask_index = x[:, current_block_start:current_block_end] == mask_id
            logits, _ = model(x[:, current_block_start:current_block_end], past_key_values,
                              replace_position)
            x0, transfer_index = get_transfer_index(logits, mask_index,
                                                    x[:, current_block_start:current_block_end],
                                                    num_transfer_tokens[:, i])
            x[:, current_block_start:current_block_end][transfer_index] = x0[transfer_index]
            i += 1
    return x, nfe


def run_dlm(args, prompt: str) -> dict:
    cmd = [args.dlm, "generate", "-m", args.model, "-p", prompt, "-n", str(args.n),
           "--steps", str(args.n), "--block-length", str(args.block_length), "--temperature", "0",
           "--cache", "dual", "--eos", "none", "--json"]
    if args.threads:
        cmd += ["-t", str(args.threads)]
    rec = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    t = rec["timings_ms"]
    return {"tokens_per_s": args.n * 1000 / (t["total"] - t["load"]), "ids": rec["prompt_token_ids"],
            "tokens": rec["token_ids"]}


def run_peer(args, model: Denoiser, mask_id: int, prompt_ids: List[int]) -> dict:
    prompt = torch.tensor([prompt_ids], dtype=torch.long)
    t0 = time.perf_counter()
    x, nfe = generate_with_dual_cache(model, prompt, args.n, args.n, args.block_length, mask_id)
    dt = time.perf_counter() - t0
    return {"tokens_per_s": args.n / dt, "tokens": x[0, len(prompt_ids):].tolist(), "nfe": nfe}


def agreement(dlm_tokens: List[int], peer_tokens: List[int]) -> float:
    """Share of dlm's token_ids (which end at its first end of sequence) that the peer
    generated at the same positions (the peer's canvas runs on past it)."""
    n = len(dlm_tokens)
    return sum(1 for x, y in zip(dlm_tokens, peer_tokens[:n]) if x == y) / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("-t", "--threads", type=int, default=0, help="dlm's -t (0: its default)")
    ap.add_argument("--peer-threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads of the peer (default: every core)")
    args = ap.parse_args()
    torch.set_num_threads(args.peer_threads)
    model, config, _ = eager_model(args.model)
    mask_id = int(config["mask_token_id"])
    rows = []
    for i, prompt in enumerate(heldout_prompts(args.prompts, 64)):
        d = run_dlm(args, prompt)
        p = run_peer(args, model, mask_id, d["ids"])
        rows.append((d, p))
        print(f"prompt {i}: dlm {d['tokens_per_s']:.1f} tok/s, peer {p['tokens_per_s']:.1f} tok/s, "
              f"ratio {d['tokens_per_s'] / p['tokens_per_s']:.2f}, tokens equal "
              f"{100 * agreement(d['tokens'], p['tokens']):.1f}%", file=sys.stderr)
    dlm_tps = statistics.median(d["tokens_per_s"] for d, _ in rows)
    peer_tps = statistics.median(p["tokens_per_s"] for _, p in rows)
    ratio = statistics.median(d["tokens_per_s"] / p["tokens_per_s"] for d, p in rows)
    agree = statistics.mean(agreement(d["tokens"], p["tokens"]) for d, p in rows)
    load1 = os.getloadavg()[0]
    print(f"dlm dual vs eager Fast-dLLM peer: {args.prompts} held-out prompts of 64 tokens, "
          f"{args.n} new tokens, block {args.block_length}, {args.n} steps, temperature 0, "
          f"dlm -t {args.threads or 'default'}, peer {args.peer_threads} torch threads")
    print(f"| dlm tok/s | peer tok/s | dlm / peer (median of per-prompt ratios) | tokens equal | load average |")
    print(f"|---|---|---|---|---|")
    print(f"| {dlm_tps:.1f} | {peer_tps:.1f} | {ratio:.2f}x | {100 * agree:.1f}% | {load1:.1f} |")


if __name__ == "__main__":
    main()
