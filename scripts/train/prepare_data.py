#!/usr/bin/python3
"""Prepare the King James Bible corpus for dlm's tiny default model.

Extracts every verse with the `bible` program (Debian `bible-kjv`), splits off
the committed held-out list (scripts/data/heldout_verses.txt, see dlmpy/kjv.py), trains a
sentencepiece tokenizer on the training verses only, and writes token streams:

  OUT/tokenizer.model       sentencepiece model (pad 0, unk 1, bos 2, eos 3, <mask> 4)
  OUT/train.npy, heldout.npy  uint16 token ids, each verse followed by eos
  OUT/train_starts.npy, heldout_starts.npy  offsets of verse starts in the streams
  OUT/heldout.jsonl         held-out verses as {"ref", "text"}

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/train/prepare_data.py [--out .work/data] [--vocab 4096]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Tuple

import numpy as np

from dlmpy.kjv import BOS_ID, EOS_ID, MASK_ID, PAD_ID, UNK_ID, VOCAB_SIZE, read_kjv, split_heldout
from dlmpy.paths import WORK


def train_tokenizer(texts: List[str], out: Path, vocab: int) -> None:
    import sentencepiece as spm
    corpus = out / "train_text.txt"
    corpus.write_text("\n".join(texts) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out / "tokenizer"), vocab_size=vocab,
        model_type="unigram", character_coverage=1.0, byte_fallback=True,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        control_symbols=["<mask>"],
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
    ap.add_argument("--out", default=str(WORK / "data"))
    ap.add_argument("--vocab", type=int, default=VOCAB_SIZE)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_verses, test = split_heldout(read_kjv())
    train = [text for _, text in train_verses]

    train_tokenizer(train, out, args.vocab)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert sp.piece_to_id("<mask>") == MASK_ID and sp.eos_id() == EOS_ID
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
