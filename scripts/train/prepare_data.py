#!/usr/bin/python3
"""Prepare the King James Bible corpus for dlm's tiny default model.

Extracts every verse with the `bible` program (Debian `bible-kjv`), splits off
the committed held-out list (scripts/data/heldout_verses.txt, see dlmpy/kjv.py), trains a
sentencepiece tokenizer on the training verses only, and writes token streams:

  OUT/tokenizer.model       sentencepiece model (pad 0, unk 1, bos 2, eos 3, <mask> 4)
  OUT/train.npy, heldout.npy  uint16 token ids, each verse followed by eos
                            (--passages: eos only after a chapter's last verse)
  OUT/train_starts.npy, heldout_starts.npy  offsets of verse starts in the streams
  OUT/heldout.jsonl         held-out verses as {"ref", "text"}

With --passages the verses of a chapter run on into one passage (each verse's tokens
follow the previous verse's, which decodes as one space between them) and <eos> comes
only after a chapter's last verse, so that a model trained on it writes on across verses.
Held-out verses stay out of the training stream either way (a chapter's passage skips
them). Both streams follow one rule: <eos> after a verse that is the last of its chapter
in the Bible, so the held-out stream (one verse in 50) runs on as well and its NELBO
measures what training asks for.
--tokenizer reuses an existing sentencepiece model (a tokenizer.model file, or a dlm
checkpoint whose tokenizer is taken) instead of training one, so that weights trained
before can be fine-tuned on the new streams.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/train/prepare_data.py [--out .work/data] [--vocab 4096]
       PYTHONPATH=scripts /usr/bin/python3 scripts/train/prepare_data.py --passages \
           --tokenizer models/dlm-kjv-tiny.pt --out .work/data-passages
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Optional, Set, Tuple

import numpy as np

from dlmpy.kjv import BOS_ID, EOS_ID, MASK_ID, PAD_ID, UNK_ID, VOCAB_SIZE, Verse, read_kjv, split_heldout
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


def chapter_of(ref: str) -> str:
    """The chapter ("Genesis 1") of a verse reference ("Genesis 1:26")."""
    return ref.rsplit(":", 1)[0]


def chapter_ends(verses: List[Verse]) -> Set[str]:
    """References of the verses that end their chapter (of the whole Bible, in order)."""
    return {ref for (ref, _), (nxt, _) in zip(verses, verses[1:] + [("", "")])
            if chapter_of(ref) != chapter_of(nxt)}


def encode_stream(sp, verses: List[Verse], eos: int,
                  ends: Optional[Set[str]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Token ids of `verses` in order and the offsets of their starts; <eos> after every
    verse, or, given `ends` (chapter_ends), only after the verses it names."""
    ids: List[int] = []
    starts: List[int] = []
    for (ref, _), ids_one in zip(verses, sp.encode([text for _, text in verses])):
        starts.append(len(ids))
        ids.extend(ids_one)
        if ends is None or ref in ends:
            ids.append(eos)
    return np.asarray(ids, dtype=np.uint16), np.asarray(starts, dtype=np.int64)


def tokenizer_bytes(path: Path) -> bytes:
    """A sentencepiece model from a tokenizer.model file or a dlm checkpoint (.pt)."""
    if path.suffix == ".pt":
        from dlmpy.checkpoint import load
        return load(path).tokenizer
    return path.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(WORK / "data"))
    ap.add_argument("--vocab", type=int, default=VOCAB_SIZE)
    ap.add_argument("--passages", action="store_true",
                    help="eos only at a chapter's end (verses of a chapter run on)")
    ap.add_argument("--tokenizer", metavar="PATH",
                    help="reuse this tokenizer.model or checkpoint's tokenizer instead of training one")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    verses = read_kjv()
    train_verses, test = split_heldout(verses)
    ends = chapter_ends(verses) if args.passages else None
    if args.tokenizer:
        (out / "tokenizer.model").write_bytes(tokenizer_bytes(Path(args.tokenizer)))
    else:
        train_tokenizer([text for _, text in train_verses], out, args.vocab)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert sp.piece_to_id("<mask>") == MASK_ID and sp.eos_id() == EOS_ID
    for name, part in (("train", train_verses), ("heldout", test)):
        ids, starts = encode_stream(sp, part, sp.eos_id(), ends)
        np.save(out / f"{name}.npy", ids)
        np.save(out / f"{name}_starts.npy", starts)
        print(f"{name}: {len(part)} verses, {len(ids)} tokens, {int((ids == sp.eos_id()).sum())} eos")
    with open(out / "heldout.jsonl", "w") as f:
        for ref, text in test:
            f.write(json.dumps({"ref": ref, "text": text}) + "\n")


if __name__ == "__main__":
    main()
