"""The shared network of the exporters: one TorchScript-able transformer that covers
LLaDA, Dream and LLaDA-MoE (see llada.py, dream.py, llada_moe.py for what each uses).

Checkpoint format v1 methods (README "Checkpoint format v1"), with the window semantics
of dlmpy/model.py: forward, forward_kv, forward_window. Bidirectional attention; keys
whose attention_mask / key_mask is false are invisible. With grouped-query attention the
cache holds the key/value heads only ([n_layers, B, H_kv, S, head_dim], keys after the
rotary embedding) and they are expanded at attention time. Parameters are in the model
dtype; logits are returned as float32 (an upcast of the head's output).

Numerics follow the published models' eager code paths: RMSNorm in float32 cast back to
the model dtype before the weight; rotary tables in float32, applied in float32
(LLaDA: rope_full_precision) or in the model dtype (Qwen2/OLMoE style: rope_fp32=False);
attention scores in the model dtype, softmax in float32 cast back; MoE router softmax in
float32, top-k, weights cast to the model dtype, expert outputs index_add'ed per expert.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from export.arch import Arch


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device: str = "cpu"):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device))

    def forward(self, x: Tensor) -> Tensor:
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotary_cos_sin(position_ids: Tensor, head_dim: int, theta: float) -> Tuple[Tensor, Tensor]:
    """float32 cos/sin tables [B, 1, L, head_dim] for the given absolute positions."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=position_ids.device,
                                             dtype=torch.float32) / head_dim))
    freqs = position_ids.to(torch.float32).unsqueeze(-1) * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)
    return emb.cos(), emb.sin()


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Attention(nn.Module):
    __constants__ = ["heads", "kv_heads", "head_dim", "qk_norm", "rope_fp32"]

    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = a.heads, a.kv_heads, a.head_dim
        self.qk_norm, self.rope_fp32 = a.qk_norm, a.rope_fp32
        kv = a.kv_heads * a.head_dim
        self.q_proj = nn.Linear(a.hidden, a.heads * a.head_dim, bias=a.qkv_bias, device=device)
        self.k_proj = nn.Linear(a.hidden, kv, bias=a.qkv_bias, device=device)
        self.v_proj = nn.Linear(a.hidden, kv, bias=a.qkv_bias, device=device)
        self.o_proj = nn.Linear(a.heads * a.head_dim, a.hidden, bias=False, device=device)
        self.q_norm = RMSNorm(a.head_dim, a.norm_eps, device)  # used only when qk_norm
        self.k_norm = RMSNorm(a.head_dim, a.norm_eps, device)

    def rotary(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        if self.rope_fp32:
            h = x.to(torch.float32)
            return (h * cos + rotate_half(h) * sin).to(x.dtype)
        c, s = cos.to(x.dtype), sin.to(x.dtype)
        return x * c + rotate_half(x) * s

    def project(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Queries [B, H, L, hd], keys (both after rotary) and values [B, H_kv, L, hd]."""
        b, l, _ = x.shape
        q = self.q_proj(x).view(b, l, self.heads, self.head_dim)
        k = self.k_proj(x).view(b, l, self.kv_heads, self.head_dim)
        if self.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
        v = self.v_proj(x).view(b, l, self.kv_heads, self.head_dim).transpose(1, 2)
        q = self.rotary(q.transpose(1, 2), cos, sin)
        k = self.rotary(k.transpose(1, 2), cos, sin)
        return q, k, v

    def expand(self, t: Tensor) -> Tensor:
        """[B, H_kv, S, hd] -> [B, H, S, hd] (grouped-query attention)."""
        if self.kv_heads == self.heads:
            return t
        b, h, s, d = t.shape
        rep = self.heads // self.kv_heads
        return t[:, :, None, :, :].expand(b, h, rep, s, d).reshape(b, h * rep, s, d)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        k, v = self.expand(k), self.expand(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v)
        b, h, l, d = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, l, h * d))

    def forward_kv(self, x: Tensor, cos: Tensor, sin: Tensor,
                   key_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.project(x, cos, sin)
        return self.attend(q, k, v, key_mask), k, v

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor, cache_v: Tensor,
                       index: Tensor, key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.project(x, cos, sin)
        keys = cache_k.scatter(2, index, k)
        values = cache_v.scatter(2, index, v)
        return self.attend(q, keys, values, key_mask), k, v


class SwiGLU(nn.Module):
    def __init__(self, hidden: int, inter: int, device: str = "cpu"):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=False, device=device)
        self.up_proj = nn.Linear(hidden, inter, bias=False, device=device)
        self.down_proj = nn.Linear(inter, hidden, bias=False, device=device)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MoE(nn.Module):
    """OLMoE-style sparse MoE: softmax router (float32), top-k without renormalisation,
    experts stacked as [E, inter, hidden] / [E, hidden, inter]; each expert runs on the
    tokens routed to it (gather), outputs index_add'ed in expert order."""
    __constants__ = ["experts", "top_k"]

    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.experts, self.top_k = a.experts, a.top_k
        self.gate = nn.Linear(a.hidden, a.experts, bias=False, device=device)
        self.gate_proj = nn.Parameter(torch.empty(a.experts, a.intermediate, a.hidden, device=device))
        self.up_proj = nn.Parameter(torch.empty(a.experts, a.intermediate, a.hidden, device=device))
        self.down_proj = nn.Parameter(torch.empty(a.experts, a.hidden, a.intermediate, device=device))
        self.register_buffer("expert_bias", torch.zeros(a.experts, device=device))

    def forward(self, x: Tensor) -> Tensor:
        b, l, h = x.shape
        flat = x.reshape(-1, h)
        probs = torch.softmax(self.gate(flat), dim=1, dtype=torch.float32)
        probs = probs + self.expert_bias.to(torch.float32)
        weights, selected = torch.topk(probs, self.top_k, dim=-1)
        weights = weights.to(x.dtype)
        out = torch.zeros_like(flat)
        routed = F.one_hot(selected, self.experts).permute(2, 1, 0)  # [E, k, N]
        for e in range(self.experts):
            nz = routed[e].nonzero()
            if nz.shape[0] == 0:
                continue
            slot, token = nz[:, 0], nz[:, 1]
            xe = flat[token]
            ye = F.linear(F.silu(F.linear(xe, self.gate_proj[e])) * F.linear(xe, self.up_proj[e]),
                          self.down_proj[e])
            out.index_add_(0, token, ye * weights[token, slot].unsqueeze(1))
        return out.reshape(b, l, h)


class Block(nn.Module):
    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.attn_norm = RMSNorm(a.hidden, a.norm_eps, device)
        self.attn = Attention(a, device)
        self.mlp_norm = RMSNorm(a.hidden, a.norm_eps, device)
        self.mlp = MoE(a, device) if a.experts > 0 else SwiGLU(a.hidden, a.intermediate, device)

    def forward_kv(self, x: Tensor, cos: Tensor, sin: Tensor,
                   key_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_kv(self.attn_norm(x), cos, sin, key_mask)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), k, v

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor, cache_v: Tensor,
                       index: Tensor, key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_window(self.attn_norm(x), cos, sin, cache_k, cache_v, index,
                                           key_mask)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), k, v


class Transformer(nn.Module):
    """forward(input_ids [B, L], attention_mask [B, L] bool (true = real token),
    position_ids [B, L]) -> float32 logits [B, L, V'] (raw: the checkpoint's config says
    whether they are aligned or shifted)."""
    __constants__ = ["head_dim", "rope_theta"]

    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.head_dim, self.rope_theta = a.head_dim, float(a.rope_theta)
        self.embed = nn.Embedding(a.vocab_rows, a.hidden, device=device)
        self.layers = nn.ModuleList([Block(a, device) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, a.norm_eps, device)
        self.lm_head = nn.Linear(a.hidden, a.vocab_rows, bias=False, device=device)
        if a.tied:
            self.lm_head.weight = self.embed.weight

    def head(self, x: Tensor) -> Tensor:
        return self.lm_head(self.norm(x)).to(torch.float32)

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                position_ids: Optional[Tensor] = None) -> Tensor:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)
            position_ids = position_ids.unsqueeze(0).expand(input_ids.shape[0], -1)
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_theta)
        x = self.embed(input_ids)
        for layer in self.layers:
            x = layer.forward_kv(x, cos, sin, attention_mask)[0]
        return self.head(x)

    @torch.jit.export
    def forward_kv(self, input_ids: Tensor, attention_mask: Tensor,
                   position_ids: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """forward()'s logits (the same arithmetic) and every layer's keys (after rotary)
        and values, [n_layers, B, H_kv, L, head_dim] each."""
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_theta)
        x = self.embed(input_ids)
        keys: List[Tensor] = []
        values: List[Tensor] = []
        for layer in self.layers:
            x, k, v = layer.forward_kv(x, cos, sin, attention_mask)
            keys.append(k)
            values.append(v)
        return self.head(x), torch.stack(keys), torch.stack(values)

    @torch.jit.export
    def forward_window(self, window_ids: Tensor, window_positions: Tensor, offsets: Tensor,
                       cache_keys: Tensor, cache_values: Tensor,
                       key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Only the window [B, W] runs at its true positions; row b's window covers cache
        slots offsets[b] .. offsets[b] + W - 1, whose entries its fresh keys/values replace
        (in a copy) in every layer; queries attend where key_mask [B, S] is true. Returns the
        window's logits [B, W, V'] and fresh keys/values [n_layers, B, H_kv, W, head_dim]."""
        b, w = window_ids.shape
        cos, sin = rotary_cos_sin(window_positions, self.head_dim, self.rope_theta)
        slots = offsets.unsqueeze(1) + torch.arange(w, device=window_ids.device).unsqueeze(0)
        index = slots[:, None, :, None].expand(b, cache_keys.shape[2], w, cache_keys.shape[4])
        x = self.embed(window_ids)
        keys: List[Tensor] = []
        values: List[Tensor] = []
        i = 0
        for layer in self.layers:
            x, k, v = layer.forward_window(x, cos, sin, cache_keys[i], cache_values[i], index,
                                           key_mask)
            keys.append(k)
            values.append(v)
            i += 1
        return self.head(x), torch.stack(keys), torch.stack(values)


def empty_model(a: Arch, dtype: torch.dtype) -> Transformer:
    """The network with uninitialised parameters in `dtype` (built on the meta device, then
    allocated once: no random initialisation, no second copy). Norm weights are ones and
    the expert bias zero until loaded."""
    model = Transformer(a, device="meta").to(dtype).to_empty(device="cpu")
    if a.tied:
        model.lm_head.weight = model.embed.weight
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
        for name, buf in model.named_buffers():
            buf.zero_()
    return model.eval()
