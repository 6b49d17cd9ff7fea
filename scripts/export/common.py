"""Shared steps of the exporters (scripts/export.py): reading a Hugging Face folder
(config.json, tokenizer.json, tokenizer_config.json, safetensors), checking every tensor
against the family's architecture, loading tensor by tensor into preallocated parameters,
random weights, and writing the checkpoint (format v1, with config.json, tokenizer.json
and tokenizer_config.json as extra files).

Every problem with the inputs raises ExportError with a one-line message; the entry point
prints it as `export: MESSAGE` on stderr and exits with code 2.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from export.arch import Arch
from export.safetensors import FLOAT_DTYPES, SafetensorsError, copy_into, index_directory

DTYPES = ("bfloat16", "float16", "float32")

# (Hugging Face tensor name, expected shape, the destination in our module: a function of
# the export.blocks.Transformer returning the parameter (or slice) to copy into)
TensorSpec = Tuple[str, Tuple[int, ...], Callable]


class ExportError(Exception):
    """An input problem: the message is one line naming the file or tensor."""


def shape_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


# ----------------------------------------------------------------------------- inputs

def read_json(path: Path) -> dict:
    if not path.exists():
        raise ExportError(f"{path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"{path}: not valid JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: not a JSON object")
    return data


def read_tokenizer(directory: Path) -> Tuple[bytes, bytes, dict]:
    """tokenizer.json (verbatim bytes, parsed), tokenizer_config.json (verbatim; b"{}" when
    absent) of a folder."""
    if not directory.is_dir():
        raise ExportError(f"{directory} is not a directory")
    tok_path = directory / "tokenizer.json"
    if not tok_path.exists():
        raise ExportError(f"{tok_path} is missing")
    raw = tok_path.read_bytes()
    try:
        parsed = json.loads(raw.decode("utf-8"))
        parsed["model"]["vocab"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ExportError(f"{tok_path}: not a Hugging Face tokenizer.json (no model.vocab)") from None
    cfg_path = directory / "tokenizer_config.json"
    tok_cfg = cfg_path.read_bytes() if cfg_path.exists() else b"{}"
    try:
        json.loads(tok_cfg.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ExportError(f"{cfg_path}: not valid JSON") from None
    return raw, tok_cfg, parsed


def tokenizer_size(tok: dict) -> int:
    """Largest id among the vocabulary and the added tokens, plus one."""
    vocab = tok["model"]["vocab"]
    ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab)))
    ids += [int(t["id"]) for t in tok.get("added_tokens", [])]
    return max(ids) + 1


def token_id(tok: dict, names: Sequence[str]) -> Optional[int]:
    """Id of the first of `names` found among the added tokens or the vocabulary."""
    added = {t["content"]: int(t["id"]) for t in tok.get("added_tokens", [])}
    vocab = tok["model"]["vocab"]
    for name in names:
        if name in added:
            return added[name]
        if isinstance(vocab, dict) and name in vocab:
            return int(vocab[name])
    return None


def chat_template(tok_cfg: bytes) -> str:
    cfg = json.loads(tok_cfg.decode("utf-8"))
    t = cfg.get("chat_template") or ""
    if isinstance(t, list):  # [{"name": ..., "template": ...}]
        t = next((x.get("template", "") for x in t if x.get("name") == "default"),
                 t[0].get("template", "") if t else "")
    return t if isinstance(t, str) else ""


def chat_format(tok_cfg: bytes) -> Tuple[Optional[str], Optional[str]]:
    """(chat_format, chat_system) from the Jinja chat template: Llama-3-style headers ->
    "llada", <|im_start|> -> "chatml"; the default system turn Qwen-style templates insert."""
    t = chat_template(tok_cfg)
    if "<|start_header_id|>" in t:
        return "llada", None
    if "<|im_start|>" in t:
        system = "You are a helpful assistant."
        return "chatml", (system if system in t else None)
    return None, None


# ----------------------------------------------------------------------------- weights

def check_tensors(directory: Path, family: str, specs: List[TensorSpec], found: Dict,
                  optional: Sequence[str] = (), ignored_suffixes: Sequence[str] = ()) -> None:
    """Every expected tensor present with its shape and a floating dtype; nothing else."""
    expected = {name for name, _, _ in specs}
    for name, shape, _ in specs:
        info = found.get(name)
        if info is None:
            raise ExportError(f"{name} is missing from {directory} (expected {shape_str(shape)})")
        if info.dtype not in FLOAT_DTYPES:
            raise ExportError(f"{name} in {info.file} has dtype {info.dtype}, expected F32, F16 or BF16")
        if tuple(info.shape) != tuple(shape):
            raise ExportError(f"{name} in {info.file} has shape {shape_str(info.shape)}, "
                              f"expected {shape_str(shape)}")
    for name, info in found.items():
        if name in expected or name in optional or name.endswith(tuple(ignored_suffixes)):
            continue
        raise ExportError(f"{name} in {info.file} is not a tensor of {family} "
                          f"(unexpected; the architecture from config.json has no such tensor)")


def check_hf_weights(directory: Path, family: str, specs: List[TensorSpec], optional: Sequence[str] = (),
                     ignored_suffixes: Sequence[str] = ("rotary_emb.inv_freq",)) -> Dict:
    """Every header read and checked (no torch needed): the tensors found, by name."""
    try:
        found = index_directory(directory)
    except SafetensorsError as e:
        raise ExportError(str(e)) from None
    check_tensors(directory, family, specs, found, optional, ignored_suffixes)
    return found


def load_hf_weights(arch: Arch, specs: List[TensorSpec], found: Dict, dtype: str):
    """Allocate the model once (in `dtype`) and copy tensor by tensor from memory maps
    (about one copy of the weights in memory)."""
    import torch
    from export.blocks import empty_model
    model = empty_model(arch, getattr(torch, dtype))
    with torch.no_grad():
        for name, _, dest in specs:
            try:
                copy_into(found[name], dest(model))
            except (OSError, ValueError) as e:
                raise ExportError(f"{name} in {found[name].file}: unreadable ({e})") from None
    return model


def random_weights(arch: Arch, dtype: str, seed: int = 0):
    """Normal(0, 0.02) weights and biases, norm weights one; deterministic in `seed`."""
    import torch
    from export.blocks import empty_model
    model = empty_model(arch, getattr(torch, dtype))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or p.numel() == 0:  # empty: an absent bias or tied head
                continue
            rows = p.shape[0] if p.dim() > 0 else 1
            step = max(1, (16 << 20) // max(1, p.numel() // rows))  # ~64 MB of float32 a slice
            for start in range(0, rows, step):
                part = p[start:start + step] if p.dim() > 0 else p
                part.copy_(torch.empty(part.shape, dtype=torch.float32).normal_(0.0, 0.02, generator=g))
    return model


# ----------------------------------------------------------------------------- output

def special_ids(fam, hf_cfg: dict, tok: dict, overrides: Dict[str, Optional[int]]) -> Dict[str, Optional[int]]:
    """mask/eos/pad/bos: the family's defaults, replaced by config.json's *_token_id where it
    has them (mask also by the family's mask token name in the tokenizer); eot: the family's
    end-of-turn token found by name in the tokenizer, else its default. Then the CLI's
    overrides."""
    ids: Dict[str, Optional[int]] = dict(fam.DEFAULT_IDS)
    by_name = token_id(tok, fam.MASK_NAMES)
    if by_name is not None:
        ids["mask"] = by_name
    for key in ("mask", "eos", "pad", "bos"):
        v = hf_cfg.get(f"{key}_token_id")
        if isinstance(v, list) and v:
            v = v[0]
        if isinstance(v, int) and not isinstance(v, bool):
            ids[key] = v
    eot = token_id(tok, fam.EOT_NAMES)
    if eot is not None:
        ids["eot"] = eot
    for key, v in overrides.items():
        if v is not None:
            ids[key] = None if v < 0 and key == "eot" else v
    return ids


def make_config(fam, arch: Arch, name: str, dtype: str, tok: dict, tok_cfg: bytes,
                ids: Dict[str, Optional[int]], source: str) -> dict:
    vocab = tokenizer_size(tok)
    if vocab > arch.vocab_rows:
        raise ExportError(f"the tokenizer has {vocab} ids but the embedding only {arch.vocab_rows} rows")
    for key, v in ids.items():
        if v is None and key == "eot":
            continue
        if v is None or not 0 <= v < vocab:
            raise ExportError(f"{key} token id {v} is outside the tokenizer's {vocab} ids "
                              f"(give --{key}-id)")
    if ids["mask"] == ids["pad"]:
        raise ExportError(f"mask and pad token ids are both {ids['mask']}")
    fmt, system = chat_format(tok_cfg)
    return {
        "format_version": 1,
        "family": fam.FAMILY,
        "name": name,
        "vocab_size": vocab,
        "mask_token_id": ids["mask"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
        "bos_token_id": ids["bos"],
        "eot_token_id": ids["eot"],
        "add_bos": fam.ADD_BOS,
        "max_seq_len": arch.max_seq_len,
        "logits": fam.LOGITS,
        "dtype": dtype,
        "tokenizer": "hf",
        "chat_format": fmt,
        "chat_system": system,
        "architecture": arch.to_dict(),
        "source": source,
    }


def write(model, config: dict, tokenizer_json: bytes, tokenizer_config: bytes,
          out: Path) -> None:
    from dlmpy.checkpoint import write_checkpoint
    write_checkpoint(model, config, tokenizer_json, out,
                     extra_files={"tokenizer_config.json": tokenizer_config})
