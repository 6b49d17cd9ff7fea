#!/usr/bin/python3
"""Write the held-out prompt set for `dlm sweep`: scripts/data/heldout_prompts.jsonl.

Every held-out verse (scripts/data/heldout_verses.txt, never trained on by the shipped
model or the judge) with at least MIN_WORDS words becomes one record

  {"id": "Genesis 1:26", "prompt": <its first ~40% of words>, "reference": <the rest>}

split on whitespace (the prompt ends and the reference starts at a word boundary; the
sweep joins them with one space). Records are in a fixed shuffled order (seed 0), so
that the first N (`dlm sweep --limit N`) sample the whole Bible rather than Genesis.
The output is deterministic: the same `bible` text gives the same file.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/train/make_heldout_prompts.py [--out scripts/data/heldout_prompts.jsonl]
       [--share 0.4] [--min-words 8]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Dict, List

from dlmpy.kjv import read_kjv, split_heldout
from dlmpy.paths import SCRIPT_DATA

MIN_WORDS = 8     # shorter verses leave too little to prompt with or to continue
PROMPT_SHARE = 0.4
MIN_PROMPT_WORDS = 3
SHUFFLE_SEED = 0


def split_verse(text: str, share: float) -> Dict[str, str]:
    """The verse's first `share` of words (at least MIN_PROMPT_WORDS) and the rest."""
    words = text.split()
    k = max(MIN_PROMPT_WORDS, round(share * len(words)))
    k = min(k, len(words) - 1)
    return {"prompt": " ".join(words[:k]), "reference": " ".join(words[k:])}


def make_records(share: float, min_words: int) -> List[Dict[str, str]]:
    records = [{"id": ref, **split_verse(text, share)}
               for ref, text in split_heldout(read_kjv())[1] if len(text.split()) >= min_words]
    random.Random(SHUFFLE_SEED).shuffle(records)
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(SCRIPT_DATA / "heldout_prompts.jsonl"))
    ap.add_argument("--share", type=float, default=PROMPT_SHARE, help="share of words in the prompt")
    ap.add_argument("--min-words", type=int, default=MIN_WORDS)
    args = ap.parse_args()
    records = make_records(args.share, args.min_words)
    if len(records) < 200:
        raise SystemExit(f"only {len(records)} held-out verses qualify; the sweep wants >= 200")
    with open(args.out, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{args.out}: {len(records)} prompts", file=sys.stderr)


if __name__ == "__main__":
    main()
