"""The command line of scripts/export.py (see its docstring)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

from export import dream, llada, llada_moe
from export.arch import Arch
from export.common import (DTYPES, ExportError, check_hf_weights, load_hf_weights, make_config,
                           random_weights, read_json, read_tokenizer, special_ids, tokenizer_size,
                           write)
from export.hfconfig import HfConfig

FAMILIES = {"llada": llada, "dream": dream, "llada-moe": llada_moe}


class UsageError(ExportError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own exit code for usage errors)
        raise UsageError(message)


def parser(doc: str) -> argparse.ArgumentParser:
    ap = Parser(prog="export.py", description=doc.splitlines()[0])
    ap.add_argument("family", help="llada | dream | llada-moe")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--hf", metavar="DIR", help="a Hugging Face model folder (config.json, "
                     "tokenizer.json, tokenizer_config.json, *.safetensors)")
    src.add_argument("--random", action="store_true", help="random weights (std 0.02, seeded)")
    ap.add_argument("-o", "--out", required=True, metavar="OUT.pt")
    ap.add_argument("--dtype", default="bfloat16", choices=DTYPES)
    ap.add_argument("--name", help="config.json name (default: the folder's name, or FAMILY-random)")
    r = ap.add_argument_group("--random (defaults: the family's real shapes)")
    r.add_argument("--tokenizer", metavar="DIR", help="folder with tokenizer.json and "
                   "tokenizer_config.json to embed (required with --random)")
    r.add_argument("--layers", type=int)
    r.add_argument("--hidden", type=int)
    r.add_argument("--heads", type=int)
    r.add_argument("--kv-heads", type=int)
    r.add_argument("--intermediate", type=int, help="MLP width (MoE: one expert's width)")
    r.add_argument("--experts", type=int)
    r.add_argument("--top-k", type=int)
    r.add_argument("--vocab", type=int, help="embedding rows (default: the family's, or the "
                   "tokenizer's size rounded up to 64 if larger)")
    r.add_argument("--max-seq-len", type=int)
    r.add_argument("--seed", type=int, default=0)
    ids = ap.add_argument_group("special token ids (override config.json / the family's defaults)")
    for key in ("mask", "eos", "pad", "bos", "eot"):
        ids.add_argument(f"--{key}-id", type=int, help="-1: none" if key == "eot" else None)
    return ap


def random_arch(fam, args, tok_size: int) -> Arch:
    real = dict(fam.REAL)
    for key, attr in (("layers", "layers"), ("hidden", "hidden"), ("heads", "heads"),
                      ("kv_heads", "kv_heads"), ("intermediate", "intermediate"),
                      ("experts", "experts"), ("top_k", "top_k"), ("max_seq_len", "max_seq_len")):
        v = getattr(args, key)
        if v is not None:
            if fam is not llada_moe and key in ("experts", "top_k"):
                raise ExportError(f"--{key.replace('_', '-')} is for llada-moe only")
            real[attr] = v
    if args.heads is not None and args.kv_heads is None:
        ratio = fam.REAL["heads"] // fam.REAL["kv_heads"]
        real["kv_heads"] = max(1, args.heads // ratio)
    rows = args.vocab or max(real["vocab_rows"], -(-tok_size // 64) * 64)
    real["vocab_rows"] = rows
    a = Arch(**real, qkv_bias=fam is dream, qk_norm=fam is llada_moe, rope_fp32=fam is llada)
    if a.hidden % a.heads or a.heads % a.kv_heads or a.head_dim % 2:
        raise ExportError(f"--hidden {a.hidden}, --heads {a.heads}, --kv-heads {a.kv_heads}: the hidden "
                          "size must split into heads of even size, heads into key/value groups")
    if a.experts and not 0 < a.top_k <= a.experts:
        raise ExportError(f"--top-k {a.top_k} must be in 1..{a.experts}")
    return a


def run(argv: Optional[List[str]], doc: str) -> None:
    args = parser(doc).parse_args(argv)
    fam = FAMILIES.get(args.family)
    if fam is None:
        raise ExportError(f"unknown family {args.family!r} (known: {', '.join(FAMILIES)})")
    dtype = args.dtype
    overrides = {k: getattr(args, f"{k}_id") for k in ("mask", "eos", "pad", "bos", "eot")}
    out = Path(args.out)
    start = time.time()
    if args.hf:
        d = Path(args.hf)
        if not d.is_dir():
            raise ExportError(f"{d} is not a directory")
        hf = HfConfig(read_json(d / "config.json"), d / "config.json")
        tok_raw, tok_cfg, tok = read_tokenizer(d)
        arch = fam.arch_from_hf(hf)
        if fam is llada_moe:
            specs = fam.specs(arch, llada_moe.expert_bias_enabled(hf))
        else:
            specs = fam.specs(arch)
        found = check_hf_weights(d, fam.FAMILY, specs, fam.optional(arch))
        name, source, hf_cfg = args.name or d.resolve().name, f"hf:{d.resolve()}", hf.cfg
    else:
        if not args.tokenizer:
            raise ExportError("--random needs --tokenizer DIR (a folder with tokenizer.json and "
                              "tokenizer_config.json to embed)")
        tok_raw, tok_cfg, tok = read_tokenizer(Path(args.tokenizer))
        arch = random_arch(fam, args, tokenizer_size(tok))
        hf_cfg = {}
        name, source = args.name or f"{fam.FAMILY}-random", "random"
    ids = special_ids(fam, hf_cfg, tok, overrides)
    config = make_config(fam, arch, name, args.dtype, tok, tok_cfg, ids, source)
    # every input checked: now torch, the weights and the scripting
    import torch
    torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch starts with one thread
    if args.hf:
        model = load_hf_weights(arch, specs, found, dtype)
    else:
        model = random_weights(arch, dtype, args.seed)
    write(model, config, tok_raw, tok_cfg, out)
    print(f"exported {fam.FAMILY}: {arch.layers} layers, d={arch.hidden}, {args.dtype}, "
          f"{time.time() - start:.1f} s")


def main(argv: Optional[List[str]] = None, doc: str = "export") -> int:
    try:
        run(argv, doc)
    except ExportError as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("export: out of memory", file=sys.stderr)
        return 2
    except Exception as e:  # never a traceback for input problems we did not foresee
        if os.environ.get("DLM_EXPORT_DEBUG"):
            raise
        line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"export: {type(e).__name__}: {line} (DLM_EXPORT_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 2
    return 0
