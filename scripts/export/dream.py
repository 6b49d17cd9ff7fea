"""Dream-v0-7B (Dream-org/Dream-v0-Base-7B, Dream-v0-Instruct-7B): Qwen2.5 layout, not causal.

Checked against the model's own modeling_dream.py (HF remote code; DreamModel /
DreamAttention / DreamRMSNorm, mirrored for example in NVIDIA/TensorRT-LLM's port and
the DreamLM/Dream repository) and Qwen2's modeling code it is copied from:
- names: model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v}_proj.{weight,bias},
  model.layers.{i}.self_attn.o_proj.weight (no bias), model.layers.{i}.mlp.{gate,up,down}_proj.weight,
  model.layers.{i}.{input,post_attention}_layernorm.weight, model.norm.weight, lm_head.weight
  (tie_word_embeddings false);
- RMSNorm: float32, cast back, then weight * x; rotary: cos/sin computed in float32 and
  cast to the model dtype, applied in the model dtype (rope_fp32 False); GQA by repeat_kv;
  bidirectional attention (is_causal False), attention_mask masks keys;
- logits are raw lm_head outputs: Dream's sampler shifts them (output i-1 predicts
  position i), so config.json says "logits": "shifted" and dlm shifts.
Disagreements with the issue's list: none found.
Special ids: mask 151666 (<|mask|>), eos = pad = bos 151643 (<|endoftext|>),
eot 151645 (<|im_end|>); no bos is prepended (add_bos false). Chat format chatml with
the template's default system turn "You are a helpful assistant.".
"""
from __future__ import annotations

from typing import List

from export.arch import Arch
from export.common import TensorSpec
from export.hfconfig import HfConfig

FAMILY = "dream"
LOGITS = "shifted"
ADD_BOS = False
DEFAULT_IDS = {"mask": 151666, "eos": 151643, "pad": 151643, "bos": 151643, "eot": 151645}
MASK_NAMES = ["<|mask|>"]
EOT_NAMES = ["<|im_end|>"]
REAL = dict(vocab_rows=152064, hidden=3584, layers=28, heads=28, kv_heads=4,
            intermediate=18944, rope_theta=1000000.0, norm_eps=1e-6, max_seq_len=131072)


def arch_from_hf(c: HfConfig) -> Arch:
    c.require("hidden_act", ("silu",), "silu")
    c.require("rope_scaling", (None,), None)
    c.require("use_sliding_window", (False, None), False)
    heads = c.int("num_attention_heads")
    return Arch(vocab_rows=c.int("vocab_size"), hidden=c.int("hidden_size"),
                layers=c.int("num_hidden_layers"), heads=heads,
                kv_heads=int(c.get("num_key_value_heads") or heads),
                intermediate=c.int("intermediate_size"), rope_theta=c.float("rope_theta"),
                norm_eps=c.float("rms_norm_eps"), max_seq_len=c.int("max_position_embeddings"),
                qkv_bias=True, rope_fp32=False, tied=bool(c.get("tie_word_embeddings", False)))


def specs(a: Arch) -> List[TensorSpec]:
    hd, kv = a.head_dim, a.kv_heads * a.head_dim
    out: List[TensorSpec] = [("model.embed_tokens.weight", (a.vocab_rows, a.hidden), lambda m: m.embed.weight)]
    for i in range(a.layers):
        b = f"model.layers.{i}"
        L = lambda m, i=i: m.layers[i]
        out += [
            (f"{b}.input_layernorm.weight", (a.hidden,), lambda m, L=L: L(m).attn_norm.weight),
            (f"{b}.self_attn.q_proj.weight", (a.heads * hd, a.hidden), lambda m, L=L: L(m).attn.part("q_proj.weight")),
            (f"{b}.self_attn.q_proj.bias", (a.heads * hd,), lambda m, L=L: L(m).attn.part("q_proj.bias")),
            (f"{b}.self_attn.k_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("k_proj.weight")),
            (f"{b}.self_attn.k_proj.bias", (kv,), lambda m, L=L: L(m).attn.part("k_proj.bias")),
            (f"{b}.self_attn.v_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("v_proj.weight")),
            (f"{b}.self_attn.v_proj.bias", (kv,), lambda m, L=L: L(m).attn.part("v_proj.bias")),
            (f"{b}.self_attn.o_proj.weight", (a.hidden, a.heads * hd), lambda m, L=L: L(m).attn.part("o_proj.weight")),
            (f"{b}.post_attention_layernorm.weight", (a.hidden,), lambda m, L=L: L(m).mlp_norm.weight),
            (f"{b}.mlp.gate_proj.weight", (a.intermediate, a.hidden), lambda m, L=L: L(m).mlp.part("gate_proj.weight")),
            (f"{b}.mlp.up_proj.weight", (a.intermediate, a.hidden), lambda m, L=L: L(m).mlp.part("up_proj.weight")),
            (f"{b}.mlp.down_proj.weight", (a.hidden, a.intermediate), lambda m, L=L: L(m).mlp.part("down_proj.weight")),
        ]
    out.append(("model.norm.weight", (a.hidden,), lambda m: m.norm.weight))
    if not a.tied:
        out.append(("lm_head.weight", (a.vocab_rows, a.hidden), lambda m: m.part("lm_head.weight")))
    return out


def optional(a: Arch) -> List[str]:
    return ["lm_head.weight"] if a.tied else []


def hf_config(a: Arch) -> dict:
    return {"architectures": ["DreamModel"], "model_type": "Dream", "hidden_size": a.hidden,
            "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
            "num_key_value_heads": a.kv_heads, "intermediate_size": a.intermediate,
            "hidden_act": "silu", "rope_theta": a.rope_theta, "rms_norm_eps": a.norm_eps,
            "vocab_size": a.vocab_rows, "max_position_embeddings": a.max_seq_len,
            "tie_word_embeddings": False, "rope_scaling": None, "mask_token_id": DEFAULT_IDS["mask"],
            "pad_token_id": DEFAULT_IDS["pad"], "bos_token_id": DEFAULT_IDS["bos"],
            "eos_token_id": DEFAULT_IDS["eos"], "torch_dtype": "bfloat16"}
