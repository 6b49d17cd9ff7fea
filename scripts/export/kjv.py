"""The KJV denoiser of dlmpy/model.py (trained by train/train_tiny.py) as the exporters'
shared network (export/blocks.py): same weights, fused and pre-transposed layout, with the
fast methods (forward_rows, forward_kv_rows, forward_window_update).

The arithmetic is the eager model's (RMSNorm, rotary, softmax and SwiGLU in float32 as
dlmpy computes them); the fused Q/K/V and gate/up GEMMs may round differently from three
and two separate ones (README "Checkpoint format v1" reports the agreement)."""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import torch
from torch import Tensor, nn

from dlmpy.model import ModelArgs
from export.arch import Arch
from export.blocks import Transformer, empty_model

# (dlmpy Denoiser parameter name, where it lives in a blocks.Transformer)
Names = List[Tuple[str, Callable[[Transformer], Tensor]]]


def arch(m: ModelArgs) -> Arch:
    if m.causal:
        raise ValueError("a causal model (the judge) has no export/blocks.py equivalent")
    return Arch(vocab_rows=m.vocab_size, hidden=m.d_model, layers=m.n_layers, heads=m.n_heads,
                kv_heads=m.n_heads, intermediate=m.d_ff, rope_theta=m.rope_base,
                norm_eps=m.norm_eps, max_seq_len=m.max_seq_len, tied=m.tie_embeddings)


def names(m: ModelArgs) -> Names:
    out: Names = [("embed.weight", lambda t: t.embed.weight)]
    for i in range(m.n_layers):
        p = f"layers.{i}"
        L = lambda t, i=i: t.layers[i]
        out += [(f"{p}.attn_norm.weight", lambda t, L=L: L(t).attn_norm.weight),
                (f"{p}.mlp_norm.weight", lambda t, L=L: L(t).mlp_norm.weight)]
        out += [(f"{p}.attn.{n}.weight", lambda t, L=L, n=n: L(t).attn.part(f"{n}.weight"))
                for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        out += [(f"{p}.mlp.{n}.weight", lambda t, L=L, n=n: L(t).mlp.part(f"{n}.weight"))
                for n in ("gate_proj", "up_proj", "down_proj")]
    out.append(("norm.weight", lambda t: t.norm.weight))
    if not m.tie_embeddings:
        out.append(("lm_head.weight", lambda t: t.part("lm_head.weight")))
    return out


def to_transformer(state: Dict[str, Tensor], m: ModelArgs) -> Transformer:
    """A blocks.Transformer (float32, eval) holding a dlmpy Denoiser's state dict."""
    model = empty_model(arch(m), torch.float32)
    with torch.no_grad():
        for name, dest in names(m):
            dest(model).copy_(state[name])
    return model


def from_module(module: nn.Module, m: ModelArgs) -> Dict[str, Tensor]:
    """A dlmpy Denoiser's state dict from a checkpoint module of either layout: dlmpy's own
    (format v1 as first shipped) or blocks.Transformer's (has forward_window_update)."""
    state = dict(module.state_dict())
    if not hasattr(module, "forward_window_update"):
        return state
    model = empty_model(arch(m), torch.float32)
    model.load_state_dict(state)
    out = {name: dest(model).detach().clone() for name, dest in names(m)}
    if m.tie_embeddings:
        out["lm_head.weight"] = out["embed.weight"]
    return out
