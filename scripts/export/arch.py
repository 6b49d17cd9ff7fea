"""Dimensions and switches of one model (torch-free, so that input checks run before torch loads)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Arch:
    """Dimensions and switches of one model (the `architecture` entry of config.json)."""
    vocab_rows: int        # embedding rows (= output columns V')
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int      # dense MLP width, or one expert's width for MoE
    rope_theta: float
    norm_eps: float
    max_seq_len: int
    qkv_bias: bool = False
    qk_norm: bool = False  # per-head RMSNorm of q and k (LLaDA-MoE)
    rope_fp32: bool = True
    experts: int = 0       # 0: dense SwiGLU MLP
    top_k: int = 0
    tied: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def to_dict(self) -> dict:
        return asdict(self)
