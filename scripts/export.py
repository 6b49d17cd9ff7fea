#!/usr/bin/python3
"""Export a Hugging Face masked-diffusion model (or random weights of its shape) as a dlm checkpoint.

Writes checkpoint format v1 (README "Checkpoint format v1"): one TorchScript file with
forward, forward_kv and forward_window, plus config.json, tokenizer.json and
tokenizer_config.json as extra files. Families: llada (LLaDA-8B), dream (Dream-v0-7B),
llada-moe (LLaDA-MoE-7B-A1B); the network is scripts/export/blocks.py, the name maps and
config readers scripts/export/{llada,dream,llada_moe}.py.

  PYTHONPATH=scripts /usr/bin/python3 scripts/export.py llada --hf DIR -o llada.pt [--dtype bfloat16]
  PYTHONPATH=scripts /usr/bin/python3 scripts/export.py dream --random --layers 2 --hidden 112 \
      --heads 14 --tokenizer TOKDIR -o tiny.pt

--hf reads config.json, tokenizer.json, tokenizer_config.json and the safetensors (one
file or shards with model.safetensors.index.json), checks every tensor's name, shape and
dtype against the architecture, and copies them one by one from memory maps into the
preallocated parameters (peak memory about one copy of the weights in the target dtype).
--random draws std-0.02 weights (seeded) of the real shapes or the given smaller ones.
Any input problem: one line on stderr (`export: ...`) and exit code 2.
"""
import sys

from export.cli import main

if __name__ == "__main__":
    sys.exit(main(doc=__doc__))
