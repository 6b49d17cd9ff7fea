"""The King James Bible corpus: its verses, the committed held-out split, and the special
ids of the project's sentencepiece tokenizer (trained by train/prepare_data.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import List, Tuple

from dlmpy.paths import SCRIPT_DATA, SHIPPED_MODEL

VOCAB_SIZE = 4096
PAD_ID, UNK_ID, BOS_ID, EOS_ID, MASK_ID = range(5)  # fixed when the tokenizer is trained
VERSE_COUNT = 31102
HELDOUT_LIST = SCRIPT_DATA / "heldout_verses.txt"
Verse = Tuple[str, str]  # (reference such as "Genesis 1:1", text)


def read_kjv() -> List[Verse]:
    """All 31,102 verses in canonical order, headings and verse numbers stripped, from the
    `bible` program (Debian `bible-kjv`)."""
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
    if len(verses) != VERSE_COUNT:
        raise SystemExit(f"expected {VERSE_COUNT} verses from `bible`, got {len(verses)}")
    return verses


def heldout_refs(verses: List[Verse]) -> List[str]:
    """The committed held-out list; created once (every 50th verse from the 26th)."""
    if not HELDOUT_LIST.exists():
        refs = [ref for i, (ref, _) in enumerate(verses) if i % 50 == 25]
        HELDOUT_LIST.parent.mkdir(parents=True, exist_ok=True)
        HELDOUT_LIST.write_text("\n".join(refs) + "\n")
    return [r for r in HELDOUT_LIST.read_text().splitlines() if r.strip()]


def split_heldout(verses: List[Verse]) -> Tuple[List[Verse], List[Verse]]:
    """(training verses, held-out verses), both in canonical order."""
    held = set(heldout_refs(verses))
    missing = held - {ref for ref, _ in verses}
    if missing:
        raise SystemExit(f"{HELDOUT_LIST} names unknown verses: {sorted(missing)[:3]}")
    return [v for v in verses if v[0] not in held], [v for v in verses if v[0] in held]


def heldout_texts() -> List[str]:
    """The texts of the held-out verses, in canonical order."""
    return [text for _, text in split_heldout(read_kjv())[1]]


def heldout_prompts(count: int, tokens: int, checkpoint: Path = SHIPPED_MODEL) -> List[str]:
    """Runs of consecutive held-out words, each cut to at most `tokens` tokens of the
    checkpoint's tokenizer; run i starts at held-out word 1000 * i."""
    import sentencepiece as spm

    from dlmpy.checkpoint import load
    sp = spm.SentencePieceProcessor(model_proto=load(checkpoint).tokenizer)
    words = " ".join(heldout_texts()).split()
    prompts, start = [], 0
    while len(prompts) < count and start < len(words):
        chosen: List[str] = []
        for w in words[start:]:
            if len(sp.encode(" ".join(chosen + [w]))) > tokens:
                break
            chosen.append(w)
        prompts.append(" ".join(chosen))
        start += 1000
    return prompts
