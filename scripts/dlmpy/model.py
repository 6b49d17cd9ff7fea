"""LLaDA-like masked-diffusion denoiser: RMSNorm, rotary positions, SwiGLU, no causal mask.

Plain PyTorch, scriptable by torch 1.13 (TorchScript), so the exported checkpoint
loads in plain PyTorch and in libtorch without dlm. Trained by train/train_tiny.py,
exported by export/export_model.py.

The same network with ModelArgs(causal=True) is an autoregressive language model
(each position attends to itself and earlier ones only): the perplexity judge of
train/train_judge.py. The default (causal=False) is the bidirectional denoiser, unchanged.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ModelArgs:
    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    d_ff: int = 704
    max_seq_len: int = 512
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    dropout: float = 0.0
    tie_embeddings: bool = True
    causal: bool = False  # True: autoregressive (causal mask), for the judge only

    def to_dict(self) -> dict:
        """The fields as a dict; `causal` only when set, so that a diffusion model's
        model_args.json, config.json and train_tiny.py's options stay as they were."""
        d = asdict(self)
        if not self.causal:
            del d["causal"]
        return d


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_cos_sin(position_ids: Tensor, head_dim: int, base: float):
    """cos/sin tables [B, 1, L, head_dim] for the given absolute positions."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=position_ids.device,
                                            dtype=torch.float32) / head_dim))
    freqs = position_ids.to(torch.float32).unsqueeze(-1) * inv_freq  # [B, L, hd/2]
    emb = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)
    return emb.cos(), emb.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    __constants__ = ["causal"]  # TorchScript compiles the branch not taken away

    def __init__(self, a: ModelArgs):
        super().__init__()
        self.causal = a.causal
        self.n_heads = a.n_heads
        self.head_dim = a.d_model // a.n_heads
        self.q_proj = nn.Linear(a.d_model, a.d_model, bias=False)
        self.k_proj = nn.Linear(a.d_model, a.d_model, bias=False)
        self.v_proj = nn.Linear(a.d_model, a.d_model, bias=False)
        self.o_proj = nn.Linear(a.d_model, a.d_model, bias=False)
        self.dropout = a.dropout

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        if self.causal:  # query i sees keys 0..i
            future = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool,
                                device=q.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1), v)

    def project(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Queries, keys (both after rotary) and values [B, H, L, hd]."""
        b, l, d = x.shape
        q = self.q_proj(x).view(b, l, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, l, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, l, self.n_heads, self.head_dim).transpose(1, 2)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v

    def output(self, out: Tensor) -> Tensor:
        b, h, l, hd = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, l, h * hd))

    def forward_kv(self, x: Tensor, cos: Tensor, sin: Tensor,
                   key_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.project(x, cos, sin)
        return self.output(self.attend(q, k, v, key_mask)), k, v

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        return self.forward_kv(x, cos, sin, key_mask)[0]

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor,
                       cache_v: Tensor, index: Tensor,
                       key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The window's queries attend to the cache [B, H, S, hd] in which the window's
        fresh keys/values replace the entries at `index` [B, H, W, hd]."""
        q, k, v = self.project(x, cos, sin)
        keys = cache_k.scatter(2, index, k)
        values = cache_v.scatter(2, index, v)
        return self.output(self.attend(q, keys, values, key_mask)), k, v


class SwiGLU(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.gate_proj = nn.Linear(a.d_model, a.d_ff, bias=False)
        self.up_proj = nn.Linear(a.d_model, a.d_ff, bias=False)
        self.down_proj = nn.Linear(a.d_ff, a.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.attn_norm = RMSNorm(a.d_model, a.norm_eps)
        self.attn = Attention(a)
        self.mlp_norm = RMSNorm(a.d_model, a.norm_eps)
        self.mlp = SwiGLU(a)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin, key_mask))
        return x + self.drop(self.mlp(self.mlp_norm(x)))

    def forward_kv(self, x: Tensor, cos: Tensor, sin: Tensor,
                   key_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_kv(self.attn_norm(x), cos, sin, key_mask)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.mlp_norm(x))), k, v

    def forward_window(self, x: Tensor, cos: Tensor, sin: Tensor, cache_k: Tensor,
                       cache_v: Tensor, index: Tensor,
                       key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn.forward_window(self.attn_norm(x), cos, sin, cache_k, cache_v, index,
                                           key_mask)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.mlp_norm(x))), k, v


class Denoiser(nn.Module):
    """forward(input_ids [B,L], attention_mask [B,L] bool (true = real token),
    position_ids [B,L]) -> logits [B,L,V], aligned: output i predicts position i.
    With ModelArgs(causal=True) output i predicts position i + 1 from positions 0..i."""

    def __init__(self, a: ModelArgs):
        super().__init__()
        self.head_dim = a.d_model // a.n_heads
        self.rope_base = a.rope_base
        self.embed = nn.Embedding(a.vocab_size, a.d_model)
        self.layers = nn.ModuleList([Block(a) for _ in range(a.n_layers)])
        self.norm = RMSNorm(a.d_model, a.norm_eps)
        self.lm_head = nn.Linear(a.d_model, a.vocab_size, bias=False)
        if a.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                position_ids: Optional[Tensor] = None) -> Tensor:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)
            position_ids = position_ids.unsqueeze(0).expand(input_ids.shape[0], -1)
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_base)
        x = self.embed(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, attention_mask)
        return self.lm_head(self.norm(x))

    @torch.jit.export
    def forward_kv(self, input_ids: Tensor, attention_mask: Tensor,
                   position_ids: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The full pass of the cache: forward()'s logits [B, L, V] (the same arithmetic)
        and every layer's keys (after rotary) and values, [n_layers, B, H, L, hd] each."""
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, self.rope_base)
        x = self.embed(input_ids)
        keys: List[Tensor] = []
        values: List[Tensor] = []
        for layer in self.layers:
            x, k, v = layer.forward_kv(x, cos, sin, attention_mask)
            keys.append(k)
            values.append(v)
        return self.lm_head(self.norm(x)), torch.stack(keys), torch.stack(values)

    @torch.jit.export
    def forward_window(self, window_ids: Tensor, window_positions: Tensor, offsets: Tensor,
                       cache_keys: Tensor, cache_values: Tensor,
                       key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The block pass of the cache: only the window window_ids [B, W] (true positions
        window_positions [B, W]; row b's window sits at canvas offsets[b] ..
        offsets[b] + W - 1) runs, against cache_keys/cache_values [n_layers, B, H, S, hd]
        from forward_kv, in which every layer's fresh window keys/values replace the
        entries at the window's offsets; key_mask [B, S] (true = attend) masks the rest.
        Returns the window's logits [B, W, V] and fresh keys/values [n_layers, B, H, W, hd].
        The inputs are not modified."""
        b, w = window_ids.shape
        cos, sin = rotary_cos_sin(window_positions, self.head_dim, self.rope_base)
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
        return self.lm_head(self.norm(x)), torch.stack(keys), torch.stack(values)
