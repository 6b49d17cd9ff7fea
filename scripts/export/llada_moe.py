"""LLaDA-MoE-7B-A1B (inclusionAI/LLaDA-MoE-7B-A1B-Base / -Instruct): OLMoE-like sparse MoE.

Checked against the model's own modeling_lladamoe.py (HF remote code, "LLaDA MoE model
pytorch implementation", as mirrored in InfiniTensor/InfiniLM modeling_lladamoe.py;
LLaDAMoEAttention, LLaDAMoESparseMoeBlock, LLaDAMoEDecoderLayer, LLaDAMoEModelLM):
- names: model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.weight,
  model.layers.{i}.self_attn.{q,k}_norm.weight ([head_dim]), model.layers.{i}.mlp.gate.weight
  ([E, hidden]), model.layers.{i}.mlp.experts.{j}.{gate,up,down}_proj.weight,
  model.layers.{i}.{input,post_attention}_layernorm.weight, model.norm.weight, lm_head.weight
  (optional when tie_word_embeddings); model.layers.{i}.mlp.expert_bias when
  moe_router_enable_expert_bias;
- q/k norm is PER HEAD: q_norm(q.reshape(-1, head_dim)) with a [head_dim] weight, applied
  after the projection and before the rotary embedding (qk_layernorm);
- router: softmax over all experts in float32 (+ expert_bias if enabled), top-k,
  norm_topk_prob is hard-coded False (the top-k weights are NOT renormalised, whatever
  config.json says), weights cast to the model dtype; each expert's SwiGLU output times its
  weight, index_add'ed in expert order;
- rotary as OLMoE/Qwen2 (cos/sin cast to the model dtype); RMSNorm float32, cast back,
  weight * x.
Disagreements with the issue's list / things to know:
- the published forward sets attention_mask = None in every layer (full attention: padding
  is NOT masked there); this export masks keys whose attention_mask is false, as format v1
  requires. Without padding both agree.
- routing-score function: the code always uses softmax (moe_router_score_function is
  stored but unused in forward).
- refused (one-line error): dense layers (moe_layer_freq with zeros), a shared expert
  (shared_expert_intermediate_size), attention_bias, clip_qkv, rope_scaling,
  partial_rotary_factor != 1.
Special ids: mask 156895, eos 156892 (also pad) from the issue; bos 156891 is a guess
(unverified: config.json's bos_token_id wins where present); eot found by name in the
tokenizer (<|role_end|>, <|eot_id|> or <|im_end|>), else none.
"""
from __future__ import annotations

from typing import List

from export.arch import Arch
from export.common import ExportError, TensorSpec
from export.hfconfig import HfConfig

FAMILY = "llada-moe"
LOGITS = "aligned"
ADD_BOS = True
DEFAULT_IDS = {"mask": 156895, "eos": 156892, "pad": 156892, "bos": 156891, "eot": None}
MASK_NAMES = ["<|mdm_mask|>", "<|mask|>"]
EOT_NAMES = ["<|role_end|>", "<|eot_id|>", "<|im_end|>"]
REAL = dict(vocab_rows=157184, hidden=2048, layers=16, heads=16, kv_heads=16,
            intermediate=1024, rope_theta=50000.0, norm_eps=1e-5, max_seq_len=8192,
            experts=64, top_k=8)


def arch_from_hf(c: HfConfig) -> Arch:
    c.require("hidden_act", ("silu",), "silu")
    c.require("rope_scaling", (None,), None)
    c.require("attention_bias", (False, None), False)
    c.require("clip_qkv", (None,), None)
    c.require("shared_expert_intermediate_size", (None, 0), None)
    c.require("partial_rotary_factor", (None, 1, 1.0), None)
    layers = c.int("num_hidden_layers")
    freq = c.get("moe_layer_freq")
    if freq is not None and (not isinstance(freq, list) or any(f == 0 for f in freq)):
        raise ExportError(f"{c.path}: moe_layer_freq {freq!r}: dense layers are not supported")
    heads = c.int("num_attention_heads")
    experts, top_k = c.int("num_experts"), c.int("num_experts_per_tok")
    if top_k > experts:
        raise ExportError(f"{c.path}: num_experts_per_tok {top_k} > num_experts {experts}")
    return Arch(vocab_rows=c.int("vocab_size"), hidden=c.int("hidden_size"), layers=layers,
                heads=heads, kv_heads=int(c.get("num_key_value_heads") or heads),
                intermediate=c.int("expert_intermediate_size", "intermediate_size"),
                rope_theta=c.float("rope_theta"), norm_eps=c.float("rms_norm_eps"),
                max_seq_len=c.int("max_position_embeddings"), qk_norm=bool(c.get("qk_layernorm", True)),
                rope_fp32=False, experts=experts, top_k=top_k,
                tied=bool(c.get("tie_word_embeddings", False)))


def expert_bias_enabled(c: HfConfig) -> bool:
    return bool(c.get("moe_router_enable_expert_bias", False))


def specs(a: Arch, expert_bias: bool = False) -> List[TensorSpec]:
    hd, kv = a.head_dim, a.kv_heads * a.head_dim
    out: List[TensorSpec] = [("model.embed_tokens.weight", (a.vocab_rows, a.hidden), lambda m: m.embed.weight)]
    for i in range(a.layers):
        b = f"model.layers.{i}"
        L = lambda m, i=i: m.layers[i]
        out += [
            (f"{b}.input_layernorm.weight", (a.hidden,), lambda m, L=L: L(m).attn_norm.weight),
            (f"{b}.self_attn.q_proj.weight", (a.heads * hd, a.hidden), lambda m, L=L: L(m).attn.part("q_proj.weight")),
            (f"{b}.self_attn.k_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("k_proj.weight")),
            (f"{b}.self_attn.v_proj.weight", (kv, a.hidden), lambda m, L=L: L(m).attn.part("v_proj.weight")),
            (f"{b}.self_attn.o_proj.weight", (a.hidden, a.heads * hd), lambda m, L=L: L(m).attn.part("o_proj.weight")),
        ]
        if a.qk_norm:
            out += [
                (f"{b}.self_attn.q_norm.weight", (hd,), lambda m, L=L: L(m).attn.q_norm.weight),
                (f"{b}.self_attn.k_norm.weight", (hd,), lambda m, L=L: L(m).attn.k_norm.weight),
            ]
        out += [
            (f"{b}.post_attention_layernorm.weight", (a.hidden,), lambda m, L=L: L(m).mlp_norm.weight),
            (f"{b}.mlp.gate.weight", (a.experts, a.hidden), lambda m, L=L: L(m).mlp.gate.weight),
        ]
        if expert_bias:
            out.append((f"{b}.mlp.expert_bias", (a.experts,), lambda m, L=L: L(m).mlp.expert_bias))
        for j in range(a.experts):
            e = f"{b}.mlp.experts.{j}"
            out += [
                (f"{e}.gate_proj.weight", (a.intermediate, a.hidden), lambda m, L=L, j=j: L(m).mlp.gate_proj[j]),
                (f"{e}.up_proj.weight", (a.intermediate, a.hidden), lambda m, L=L, j=j: L(m).mlp.up_proj[j]),
                (f"{e}.down_proj.weight", (a.hidden, a.intermediate), lambda m, L=L, j=j: L(m).mlp.down_proj[j]),
            ]
    out.append(("model.norm.weight", (a.hidden,), lambda m: m.norm.weight))
    if not a.tied:
        out.append(("lm_head.weight", (a.vocab_rows, a.hidden), lambda m: m.part("lm_head.weight")))
    return out


def optional(a: Arch) -> List[str]:
    return ["lm_head.weight"] if a.tied else []


def hf_config(a: Arch) -> dict:
    return {"architectures": ["LLaDAMoEModelLM"], "model_type": "lladamoe", "hidden_size": a.hidden,
            "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
            "num_key_value_heads": a.kv_heads, "expert_intermediate_size": a.intermediate,
            "num_experts": a.experts, "num_experts_per_tok": a.top_k, "norm_topk_prob": False,
            "moe_layer_freq": [1] * a.layers, "shared_expert_intermediate_size": None,
            "qk_layernorm": a.qk_norm, "attention_bias": False, "clip_qkv": None,
            "hidden_act": "silu", "rope_theta": a.rope_theta, "rms_norm_eps": a.norm_eps,
            "vocab_size": a.vocab_rows, "max_position_embeddings": a.max_seq_len,
            "tie_word_embeddings": False, "rope_scaling": None,
            "moe_router_enable_expert_bias": False, "moe_router_score_function": "softmax",
            "torch_dtype": "bfloat16"}
