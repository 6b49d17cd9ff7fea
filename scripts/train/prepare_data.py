#!/usr/bin/python3
"""Prepare the King James Bible corpus for dlm's tiny default model.

Extracts every verse with the `bible` program (Debian `bible-kjv`), splits off
the committed held-out list (scripts/data/heldout_verses.txt), trains a
sentencepiece tokenizer on the training verses only, and writes token streams:

  OUT/tokenizer.model       sentencepiece model (pad 0, unk 1, bos 2, eos 3, <mask> 4)
  OUT/train.npy, heldout.npy  uint16 token ids, each verse followed by eos
  OUT/train_starts.npy, heldout_starts.npy  offsets of verse starts in the streams
  OUT/heldout.jsonl         held-out verses as {"ref", "text"}

Usage: /usr/bin/python3 scripts/prepare_data.py [--out .work/data] [--vocab 4096]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
HELDOUT_LIST = HERE / "data" / "heldout_verses.txt"
Verse = Tuple[str, str]  # (reference such as "Genesis 1:1", text)


def read_kjv() -> List[Verse]:
    """All 31,102 verses in canonical order, headings and verse numbers stripped."""
    raw = subprocess.run(["bible", "-l", "100000", "gen1:1-rev22:21"],
                         check=True, capture_output=True, text=True).stdout
    verses: List[Verse] = []
    chapter = ""
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s+(\d+) (.*)$", line)
        if m:
            verses.append((f"{chapter}:{m.group(1)}", m.group(2).strip()))
        else:
            chapter = line.strip()  # "Genesis 1"
    if len(verses) != 31102:
        raise SystemExit(f"expected 31102 verses from `bible`, got {len(verses)}")
    return verses


def heldout_refs(verses: List[Verse]) -> List[str]:
    """The committed held-out list; created once (every 50th verse from the 25th)."""
    if not HELDOUT_LIST.exists():
        refs = [ref for i, (ref, _) in enumerate(verses) if i % 50 == 25]
        HELDOUT_LIST.parent.mkdir(parents=True, exist_ok=True)
        HELDOUT_LIST.write_text("\n".join(refs) + "\n")
    return [r for r in HELDOUT_LIST.read_text().splitlines() if r.strip()]


def train_tokenizer(texts: List[str], out: Path, vocab: int) -> None:
    import sentencepiece as spm
    corpus = out / "train_text.txt"
    corpus.write_text("\n".join(texts) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out / "tokenizer"), vocab_size=vocab,
        model_type="unigram", character_coverage=1.0, byte_fallback=True,
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, control_symbols=["<mask>"],
        num_threads=2, minloglevel=2)


def encode_stream(sp, texts: List[str], eos: int) -> Tuple[np.ndarray, np.ndarray]:
    ids: List[int] = []
    starts: List[int] = []
    for ids_one in sp.encode(texts):
        starts.append(len(ids))
        ids.extend(ids_one)
        ids.append(eos)
    return np.asarray(ids, dtype=np.uint16), np.asarray(starts, dtype=np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE.parent / ".work" / "data"))
    ap.add_argument("--vocab", type=int, default=4096)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    verses = read_kjv()
    held = set(heldout_refs(verses))
    missing = held - {ref for ref, _ in verses}
    if missing:
        raise SystemExit(f"held-out list names unknown verses: {sorted(missing)[:3]}")
    train = [text for ref, text in verses if ref not in held]
    test = [(ref, text) for ref, text in verses if ref in held]

    train_tokenizer(train, out, args.vocab)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert sp.piece_to_id("<mask>") == 4 and sp.eos_id() == 3
    for name, texts in (("train", train), ("heldout", [t for _, t in test])):
        ids, starts = encode_stream(sp, texts, sp.eos_id())
        np.save(out / f"{name}.npy", ids)
        np.save(out / f"{name}_starts.npy", starts)
        print(f"{name}: {len(texts)} verses, {len(ids)} tokens")
    with open(out / "heldout.jsonl", "w") as f:
        for ref, text in test:
            f.write(json.dumps({"ref": ref, "text": text}) + "\n")


if __name__ == "__main__":
    main()
