"""Writes a copy of a checkpoint (format v1) with a chat format in its config.json, for the
tests of `dlm generate --chat` and `dlm chat` on a checkpoint that has one.

The weights, methods and tokenizer are kept; config.json gets `chat_format`,
`chat_system` and `eot_token_id` (the id of one sentencepiece piece, so that a tiny
model's ordinary text holds ends of turn).

Usage: /usr/bin/python3 tests/python/chat_checkpoint.py IN.pt OUT.pt --chat-format chatml
           [--chat-system TEXT] [--eot-piece PIECE]
"""
import argparse
import json
from typing import Dict

import sentencepiece
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--chat-format", required=True)
    parser.add_argument("--chat-system", default=None)
    parser.add_argument("--eot-piece", default=None, help="sentencepiece piece whose id becomes eot_token_id")
    args = parser.parse_args()
    extra: Dict[str, str] = {"config.json": "", "tokenizer.model": ""}
    module = torch.jit.load(args.input, _extra_files=extra)
    config = json.loads(extra["config.json"])
    config["chat_format"] = args.chat_format
    config["chat_system"] = args.chat_system
    if args.eot_piece is not None:
        processor = sentencepiece.SentencePieceProcessor(model_proto=extra["tokenizer.model"])
        config["eot_token_id"] = processor.piece_to_id(args.eot_piece)
    extra["config.json"] = json.dumps(config)
    torch.jit.save(module, args.output, _extra_files=extra)
    print(config["eot_token_id"])


if __name__ == "__main__":
    main()
