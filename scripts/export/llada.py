"""LLaDA-8B (GSAI-ML/LLaDA-8B-Base, LLaDA-8B-Instruct): OLMo-style LLaMA encoder.

Checked against the model's own modeling_llada.py (HF remote code, as mirrored in
Kamichanw/d2Cache src/models/llada/modeling_llada.py; LLaDALlamaBlock, RMSLayerNorm,
RotaryEmbedding, LLaDAModel):
- names: model.transformer.wte.weight, model.transformer.blocks.{i}.{attn_norm, q_proj,
  k_proj, v_proj, attn_out, ff_norm, ff_proj, up_proj, ff_out}.weight,
  model.transformer.ln_f.weight, model.transformer.ff_out.weight (weight_tying false);
- block: x + attn_out(attn(attn_norm(x))); x + ff_out(silu(ff_proj(h)) * up_proj(h)),
  h = ff_norm(x) (activation_type "silu": `act(ff_proj(x)) * up_proj(x)`);
- RMSLayerNorm: float32 x * rsqrt(mean(x^2) + eps), cast back, then `weight * x`;
- rotary: head_dim = d_model / n_heads, inv_freq = 1 / theta^(arange(0, hd, 2) / hd),
  cat(freqs, freqs), rotate_half; with rope_full_precision (default true) q and k are
  rotated in float32 and cast back;
- attention: bidirectional; eager path softmax in float32; GQA via repeat_kv when
  n_kv_heads < n_heads; the SDPA path adds the attention bias built from attention_mask;
- no embedding scaling (input_emb_norm false) and no logit scaling (scale_logits false):
  both refused here if set; so are include_bias, attention_layer_norm, non-rms norms.
Disagreements with the issue's list: none found (the dims are read from config.json).
Special ids: mask 126336 (<|mdm_mask|>), bos 126080, eos 126081 (also pad),
eot 126348 (<|eot_id|>); config.json's *_token_id win where present.
"""
from __future__ import annotations

from typing import List

from export.arch import Arch
from export.common import TensorSpec
from export.hfconfig import HfConfig

FAMILY = "llada"
LOGITS = "aligned"
ADD_BOS = True
DEFAULT_IDS = {"mask": 126336, "eos": 126081, "pad": 126081, "bos": 126080, "eot": 126348}
MASK_NAMES = ["<|mdm_mask|>"]
EOT_NAMES = ["<|eot_id|>"]
REAL = dict(vocab_rows=126464, hidden=4096, layers=32, heads=32, kv_heads=32,
            intermediate=12288, rope_theta=500000.0, norm_eps=1e-5, max_seq_len=4096)


def arch_from_hf(c: HfConfig) -> Arch:
    c.require("block_type", ("llama",), "llama")
    c.require("activation_type", ("silu",), "silu")
    c.require("layer_norm_type", ("rms",), "rms")
    c.require("rope", (True,), True)
    c.require("alibi", (False, None), False)
    c.require("include_bias", (False, None), False)
    c.require("attention_layer_norm", (False, None), False)
    c.require("input_emb_norm", (False, None), False)
    c.require("scale_logits", (False, None), False)
    c.require("block_group_size", (1, None), 1)
    c.require("multi_query_attention", (False, None), False)
    d, heads = c.int("d_model"), c.int("n_heads")
    kv = c.get("n_kv_heads") or heads
    mlp = c.get("mlp_hidden_size") or c.int("mlp_ratio") * d
    return Arch(vocab_rows=c.int("embedding_size", "vocab_size"), hidden=d, layers=c.int("n_layers"),
                heads=heads, kv_heads=int(kv), intermediate=int(mlp),
                rope_theta=c.float("rope_theta"), norm_eps=c.float("rms_norm_eps"),
                max_seq_len=c.int("max_sequence_length"),
                qkv_bias=bool(c.get("include_qkv_bias", False)), rope_fp32=bool(c.get("rope_full_precision", True)),
                tied=bool(c.get("weight_tying", False)))


def specs(a: Arch) -> List[TensorSpec]:
    t = "model.transformer"
    hd, kv = a.head_dim, a.kv_heads * a.head_dim
    out: List[TensorSpec] = [(f"{t}.wte.weight", (a.vocab_rows, a.hidden), lambda m: m.embed.weight)]
    for i in range(a.layers):
        b = f"{t}.blocks.{i}"
        L = lambda m, i=i: m.layers[i]
        out += [
            (f"{b}.attn_norm.weight", (a.hidden,), lambda m, L=L: L(m).attn_norm.weight),
            (f"{b}.q_proj.weight", (a.heads * hd, a.hidden), lambda m, L=L: L(m).attn.part("q_proj.weight")),
            (f"{b}.k_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("k_proj.weight")),
            (f"{b}.v_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("v_proj.weight")),
        ]
        if a.qkv_bias:
            out += [
                (f"{b}.q_proj.bias", (a.heads * hd,), lambda m, L=L: L(m).attn.part("q_proj.bias")),
                (f"{b}.k_proj.bias", (kv,), lambda m, L=L: L(m).attn.part("k_proj.bias")),
                (f"{b}.v_proj.bias", (kv,), lambda m, L=L: L(m).attn.part("v_proj.bias")),
            ]
        out += [
            (f"{b}.attn_out.weight", (a.hidden, a.heads * hd), lambda m, L=L: L(m).attn.part("o_proj.weight")),
            (f"{b}.ff_norm.weight", (a.hidden,), lambda m, L=L: L(m).mlp_norm.weight),
            (f"{b}.ff_proj.weight", (a.intermediate, a.hidden), lambda m, L=L: L(m).mlp.part("gate_proj.weight")),
            (f"{b}.up_proj.weight", (a.intermediate, a.hidden), lambda m, L=L: L(m).mlp.part("up_proj.weight")),
            (f"{b}.ff_out.weight", (a.hidden, a.intermediate), lambda m, L=L: L(m).mlp.part("down_proj.weight")),
        ]
    out.append((f"{t}.ln_f.weight", (a.hidden,), lambda m: m.norm.weight))
    if not a.tied:
        out.append((f"{t}.ff_out.weight", (a.vocab_rows, a.hidden), lambda m: m.part("lm_head.weight")))
    return out


def optional(a: Arch) -> List[str]:
    return ["model.transformer.ff_out.weight"] if a.tied else []


def hf_config(a: Arch) -> dict:
    """A config.json as LLaDA ships it (OLMo-style keys), for test folders and measurements."""
    return {"architectures": ["LLaDAModelLM"], "model_type": "llada", "d_model": a.hidden,
            "n_layers": a.layers, "n_heads": a.heads, "n_kv_heads": a.kv_heads,
            "mlp_hidden_size": a.intermediate, "mlp_ratio": 4, "rope_theta": a.rope_theta,
            "rms_norm_eps": a.norm_eps, "vocab_size": a.vocab_rows, "embedding_size": a.vocab_rows,
            "max_sequence_length": a.max_seq_len, "block_type": "llama", "activation_type": "silu",
            "layer_norm_type": "rms", "rope": True, "alibi": False, "weight_tying": False,
            "include_bias": False, "include_qkv_bias": False, "attention_layer_norm": False,
            "input_emb_norm": False, "scale_logits": False, "rope_full_precision": True,
            "block_group_size": 1, "mask_token_id": DEFAULT_IDS["mask"],
            "eos_token_id": DEFAULT_IDS["eos"], "pad_token_id": DEFAULT_IDS["pad"],
            "bos_token_id": DEFAULT_IDS["bos"], "torch_dtype": "bfloat16"}
