"""dlm checkpoint format v1 (README "Checkpoint format v1"): one TorchScript file with the
extra files config.json and the tokenizer (tokenizer.model for kind sentencepiece,
tokenizer.json for kind hf)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from dlmpy.kjv import BOS_ID, EOS_ID, MASK_ID, PAD_ID, VOCAB_SIZE
from dlmpy.model import ModelArgs


@dataclass
class Checkpoint:
    """A loaded checkpoint: the scripted module (eval mode), its config and tokenizer."""
    module: torch.jit.ScriptModule
    config: dict
    tokenizer: bytes  # tokenizer.model (sentencepiece) or tokenizer.json (hf), per config["tokenizer"]


def load(path: Union[str, Path], map_location: str = "cpu") -> Checkpoint:
    extra = {"config.json": "", "tokenizer.model": "", "tokenizer.json": ""}
    module = torch.jit.load(str(path), map_location=map_location, _extra_files=extra)
    module.eval()
    config = json.loads(extra["config.json"])
    kind = config.get("tokenizer", "sentencepiece")
    tokenizer = extra["tokenizer.json" if kind == "hf" else "tokenizer.model"]
    if not isinstance(tokenizer, bytes):  # some torch versions hand back str
        tokenizer = tokenizer.encode("latin1")
    return Checkpoint(module, config, tokenizer)


def checkpoint_config(margs: ModelArgs, name: str, family: str = "llada",
                      mask_token_id: Optional[int] = MASK_ID, **info) -> dict:
    """config.json of a KJV model (train/prepare_data.py's tokenizer); `info`
    (measurements such as heldout_nelbo, then recipe) is appended as given."""
    config = {
        "format_version": 1,
        "family": family,
        "name": name,
        "vocab_size": VOCAB_SIZE,
        "mask_token_id": mask_token_id,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "bos_token_id": BOS_ID,
        "eot_token_id": None,
        "add_bos": True,
        "max_seq_len": margs.max_seq_len,
        "logits": "aligned",
        "dtype": "float32",
        "tokenizer": "sentencepiece",
        "architecture": margs.to_dict(),
    }
    config.update(info)
    return config


def write_checkpoint(model: nn.Module, config: dict, tokenizer: bytes, out: Path,
                     extra_files: Optional[dict] = None) -> None:
    """Script `model` (unless it is scripted already) and save it with config.json and the
    tokenizer as extra files (tokenizer.json for config["tokenizer"] == "hf", else
    tokenizer.model) plus `extra_files`, replacing `out` in place (written to a temporary
    file, then renamed)."""
    scripted = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    name = "tokenizer.json" if config.get("tokenizer") == "hf" else "tokenizer.model"
    files = {"config.json": json.dumps(config, indent=1), name: tokenizer}
    files.update(extra_files or {})
    torch.jit.save(scripted, str(tmp), _extra_files=files)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
