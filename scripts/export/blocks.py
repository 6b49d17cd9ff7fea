"""The shared network of the exporters: one TorchScript-able transformer that covers
LLaDA, Dream and LLaDA-MoE (see llada.py, dream.py, llada_moe.py for what each uses).

Checkpoint format v1 methods (README "Checkpoint format v1"), with the window semantics
of dlmpy/model.py: forward, forward_kv, forward_window; and the optional fast methods
forward_rows, forward_kv_rows (the output head on the rows the sampler reads only) and
forward_window_update (the window's keys/values written into the cache in place, no copy
of the cache). Q/K/V are one GEMM and gate/up another: their weights are concatenated and,
like every projection, stored transposed ([in, out], the layout torch.mm reads without a
transposed operand: measured 1.2-1.3x faster than F.linear at the window's shapes).
`part(name)` gives the [out, in] view of a published tensor inside the fused storage for
the exporters. Bidirectional attention; keys
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


def key_bias(key_mask: Optional[Tensor], dtype: torch.dtype) -> Optional[Tensor]:
    """[B, 1, 1, S]: 0 where key_mask [B, S] is true, -inf elsewhere; added to the attention
    scores of every layer (the same numbers as masking them, one op per layer instead of two)."""
    if key_mask is None:
        return None
    bias = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    return bias.masked_fill(~key_mask, float("-inf"))[:, None, None, :]


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Projection(nn.Module):
    """y = x W^T (+ b) with W stored transposed, weight_t [in, out]: one torch.mm (addmm with
    a bias, the arithmetic of F.linear) on the flattened rows."""
    __constants__ = ["has_bias"]

    def __init__(self, fan_in: int, fan_out: int, bias: bool, device: str = "cpu"):
        super().__init__()
        self.has_bias = bias
        self.weight_t = nn.Parameter(torch.empty(fan_in, fan_out, device=device))
        self.bias = nn.Parameter(torch.zeros(fan_out if bias else 0, device=device))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if self.has_bias:
            y = torch.addmm(self.bias, flat, self.weight_t)
        else:
            y = torch.mm(flat, self.weight_t)
        shape = list(x.shape[:-1])
        shape.append(self.weight_t.shape[1])
        return y.view(shape)

    def rows(self, lo: int, hi: int) -> Tuple[Tensor, Tensor]:
        """The [hi - lo, in] view of W's rows lo..hi-1, and of the bias's (exporters)."""
        return self.weight_t[:, lo:hi].t(), self.bias[lo:hi]


class Attention(nn.Module):
    __constants__ = ["heads", "kv_heads", "head_dim", "qk_norm", "rope_fp32", "q_width", "kv_width"]

    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = a.heads, a.kv_heads, a.head_dim
        self.qk_norm, self.rope_fp32 = a.qk_norm, a.rope_fp32
        self.q_width, self.kv_width = a.heads * a.head_dim, a.kv_heads * a.head_dim
        self.qkv_proj = Projection(a.hidden, self.q_width + 2 * self.kv_width, a.qkv_bias, device)
        self.o_proj = Projection(self.q_width, a.hidden, False, device)
        self.q_norm = RMSNorm(a.head_dim, a.norm_eps, device)  # used only when qk_norm
        self.k_norm = RMSNorm(a.head_dim, a.norm_eps, device)

    @torch.jit.ignore
    def part(self, name: str) -> Tensor:
        """The [out, in] weight (or bias) `name` of the published layout: q_proj, k_proj,
        v_proj (.weight, .bias) inside the fused qkv_proj, or o_proj.weight."""
        if name == "o_proj.weight":
            return self.o_proj.weight_t.t()
        spans = {"q_proj": (0, self.q_width), "k_proj": (self.q_width, self.q_width + self.kv_width),
                 "v_proj": (self.q_width + self.kv_width, self.q_width + 2 * self.kv_width)}
        proj, kind = name.split(".")
        weight, bias = self.qkv_proj.rows(*spans[proj])
        return weight if kind == "weight" else bias

    def rotary(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        if self.rope_fp32:
            h = x.to(torch.float32)
            return (h * cos + rotate_half(h) * sin).to(x.dtype)
        c, s = cos.to(x.dtype), sin.to(x.dtype)
        return x * c + rotate_half(x) * s

    def project(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Queries [B, H, L, hd], keys (both after rotary) and values [B, H_kv, L, hd]."""
        b, l, _ = x.shape
        qkv = self.qkv_proj(x)
        q = qkv[:, :, :self.q_width].view(b, l, self.heads, self.head_dim)
        k = qkv[:, :, self.q_width:self.q_width + self.kv_width].view(b, l, self.kv_heads, self.head_dim)
        if self.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
        v = qkv[:, :, self.q_width + self.kv_width:].reshape(b, l, self.kv_heads, self.head_dim).transpose(1, 2)
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

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_bias: Optional[Tensor]) -> Tensor:
        k, v = self.expand(k), self.expand(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if key_bias is not None:
            scores = scores + key_bias
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v)
        b, h, l, d = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, l, h * d))

    def forward_kv(self, x: Tensor, cos: Tensor, sin: Tensor,
                   key_bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.project(x, cos, sin)
        return self.attend(q, k, v, key_bias), k, v

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor, cache_v: Tensor,
                       index: Tensor, key_bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.project(x, cos, sin)
        keys = cache_k.scatter(2, index, k)
        values = cache_v.scatter(2, index, v)
        return self.attend(q, keys, values, key_bias), k, v

    def forward_window_update(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor,
                              cache_v: Tensor, index: Tensor, key_bias: Optional[Tensor]) -> Tensor:
        """forward_window's arithmetic with the fresh keys/values written into the cache."""
        q, k, v = self.project(x, cos, sin)
        cache_k.scatter_(2, index, k)
        cache_v.scatter_(2, index, v)
        return self.attend(q, cache_k, cache_v, key_bias)


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)), gate and up one GEMM (gate_up_proj: gate's columns first)."""
    __constants__ = ["inter"]

    def __init__(self, hidden: int, inter: int, device: str = "cpu"):
        super().__init__()
        self.inter = inter
        self.gate_up_proj = Projection(hidden, 2 * inter, False, device)
        self.down_proj = Projection(inter, hidden, False, device)

    @torch.jit.ignore
    def part(self, name: str) -> Tensor:
        """The [out, in] weight `name` of the published layout (gate_proj, up_proj, down_proj)."""
        if name == "down_proj.weight":
            return self.down_proj.weight_t.t()
        lo = 0 if name == "gate_proj.weight" else self.inter
        return self.gate_up_proj.rows(lo, lo + self.inter)[0]

    def forward(self, x: Tensor) -> Tensor:
        gate_up = self.gate_up_proj(x)
        return self.down_proj(F.silu(gate_up[..., :self.inter]) * gate_up[..., self.inter:])


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
                   key_bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_kv(self.attn_norm(x), cos, sin, key_bias)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), k, v

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor, cache_v: Tensor,
                       index: Tensor, key_bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_window(self.attn_norm(x), cos, sin, cache_k, cache_v, index,
                                           key_bias)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), k, v

    def forward_window_update(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor,
                              cache_v: Tensor, index: Tensor, key_bias: Optional[Tensor]) -> Tensor:
        x = x + self.attn.forward_window_update(self.attn_norm(x), cos, sin, cache_k, cache_v,
                                                index, key_bias)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    """forward(input_ids [B, L], attention_mask [B, L] bool (true = real token),
    position_ids [B, L]) -> float32 logits [B, L, V'] (raw: the checkpoint's config says
    whether they are aligned or shifted)."""
    __constants__ = ["head_dim", "rope_theta", "tied"]

    def __init__(self, a: Arch, device: str = "cpu"):
        super().__init__()
        self.head_dim, self.rope_theta, self.tied = a.head_dim, float(a.rope_theta), a.tied
        self.embed = nn.Embedding(a.vocab_rows, a.hidden, device=device)
        self.layers = nn.ModuleList([Block(a, device) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, a.norm_eps, device)
        # Tied: the embedding is the head (F.linear on it: no transposed copy of the table).
        self.lm_head = Projection(a.hidden, 0 if a.tied else a.vocab_rows, False, device)

    @torch.jit.ignore
    def part(self, name: str) -> Tensor:
        """lm_head.weight [V', hidden] of the published layout (untied models)."""
        assert name == "lm_head.weight" and not self.tied
        return self.lm_head.weight_t.t()

    def head(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        if self.tied:
            return F.linear(h, self.embed.weight).to(torch.float32)
        return self.lm_head(h).to(torch.float32)

    def head_rows(self, x: Tensor, row_offsets: Tensor, rows: int) -> Tensor:
        """The head on rows row_offsets[b] .. row_offsets[b] + rows - 1 of x [B, L, hidden]."""
        index = row_offsets.unsqueeze(1) + torch.arange(rows, device=x.device).unsqueeze(0)
        return self.head(x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2])))

    def layers_kv(self, input_ids: Tensor, attention_mask: Tensor,
                  position_ids: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_theta)
        x = self.embed(input_ids)
        bias = key_bias(attention_mask, x.dtype)
        keys: List[Tensor] = []
        values: List[Tensor] = []
        for layer in self.layers:
            x, k, v = layer.forward_kv(x, cos, sin, bias)
            keys.append(k)
            values.append(v)
        return x, torch.stack(keys), torch.stack(values)

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                position_ids: Optional[Tensor] = None) -> Tensor:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)
            position_ids = position_ids.unsqueeze(0).expand(input_ids.shape[0], -1)
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_theta)
        x = self.embed(input_ids)
        bias = key_bias(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer.forward_kv(x, cos, sin, bias)[0]
        return self.head(x)

    @torch.jit.export
    def forward_kv(self, input_ids: Tensor, attention_mask: Tensor,
                   position_ids: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """forward()'s logits (the same arithmetic) and every layer's keys (after rotary)
        and values, [n_layers, B, H_kv, L, head_dim] each."""
        x, keys, values = self.layers_kv(input_ids, attention_mask, position_ids)
        return self.head(x), keys, values

    @torch.jit.export
    def forward_rows(self, input_ids: Tensor, attention_mask: Tensor, position_ids: Tensor,
                     row_offsets: Tensor, rows: int) -> Tensor:
        """forward() with the head on rows row_offsets[b] .. + rows - 1 only: [B, rows, V']."""
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_theta)
        x = self.embed(input_ids)
        bias = key_bias(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer.forward_kv(x, cos, sin, bias)[0]
        return self.head_rows(x, row_offsets, rows)

    @torch.jit.export
    def forward_kv_rows(self, input_ids: Tensor, attention_mask: Tensor, position_ids: Tensor,
                        row_offsets: Tensor, rows: int) -> Tuple[Tensor, Tensor, Tensor]:
        """forward_kv() with the head on rows row_offsets[b] .. + rows - 1 only."""
        x, keys, values = self.layers_kv(input_ids, attention_mask, position_ids)
        return self.head_rows(x, row_offsets, rows), keys, values

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
        bias = key_bias(key_mask, x.dtype)
        keys: List[Tensor] = []
        values: List[Tensor] = []
        i = 0
        for layer in self.layers:
            x, k, v = layer.forward_window(x, cos, sin, cache_keys[i], cache_values[i], index,
                                           bias)
            keys.append(k)
            values.append(v)
            i += 1
        return self.head(x), torch.stack(keys), torch.stack(values)

    @torch.jit.export
    def forward_window_update(self, window_ids: Tensor, window_positions: Tensor,
                              offsets: Tensor, cache_keys: Tensor, cache_values: Tensor,
                              key_mask: Tensor, row_offsets: Tensor, rows: int) -> Tensor:
        """forward_window's arithmetic, but every layer writes its fresh keys/values into
        cache_keys/cache_values in place (slots offsets[b] .. offsets[b] + W - 1) and attends
        to the cache itself; returns the logits of window rows row_offsets[b] .. + rows - 1
        only, [B, rows, V']."""
        b, w = window_ids.shape
        cos, sin = rotary_cos_sin(window_positions, self.head_dim, self.rope_theta)
        slots = offsets.unsqueeze(1) + torch.arange(w, device=window_ids.device).unsqueeze(0)
        index = slots[:, None, :, None].expand(b, cache_keys.shape[2], w, cache_keys.shape[4])
        x = self.embed(window_ids)
        bias = key_bias(key_mask, x.dtype)
        i = 0
        for layer in self.layers:
            x = layer.forward_window_update(x, cos, sin, cache_keys[i], cache_values[i], index,
                                            bias)
            i += 1
        return self.head_rows(x, row_offsets, rows)


def empty_model(a: Arch, dtype: torch.dtype) -> Transformer:
    """The network with uninitialised parameters in `dtype` (built on the meta device, then
    allocated once: no random initialisation, no second copy). Norm weights are ones and
    the expert bias zero until loaded."""
    model = Transformer(a, device="meta").to(dtype).to_empty(device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
        for name, buf in model.named_buffers():
            buf.zero_()
    return model.eval()
