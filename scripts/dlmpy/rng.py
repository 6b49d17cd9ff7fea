"""Bit-exact Python twin of dlm's counter-based generator (include/dlm/sampling/rng.h).

Every draw is a pure function of (seed, position within the generated span, step,
stream, index). Used by the reference samplers in scripts/reference/ and checked
against the C++ generator by the test suite (tests/test_rng.cpp runs this file).
It needs only the standard library (numpy for uniform_array), so it also runs by path:

    /usr/bin/python3 scripts/dlmpy/rng.py SEED POSITION STEP STREAM INDEX...  -> one uniform per line (%.17g)
"""
from __future__ import annotations

import sys
from typing import Iterable, List

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

STREAM_GUMBEL, STREAM_POSITION_SCORE, STREAM_TOKEN_SAMPLE, STREAM_REVEAL, STREAM_SELECT = range(5)


def mix64(z: int) -> int:
    """SplitMix64's finaliser."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def cell_key(seed: int, position: int, step: int, stream: int) -> int:
    h = mix64((seed & MASK64) ^ GOLDEN)
    h = mix64(h ^ (((position + 1) * 0xD1B54A32D192ED03) & MASK64))
    h = mix64(h ^ (((step + 1) * 0xABC98388FB8FAC03) & MASK64))
    return mix64(h ^ (((stream + 1) * 0x8CB92BA72F3D8DD7) & MASK64))


def bits(key: int, index: int) -> int:
    return mix64((key + (index + 1) * GOLDEN) & MASK64)


def uniform(key: int, index: int) -> float:
    """Uniform in (0, 1): ((bits >> 11) + 0.5) / 2**53, exactly as in C++."""
    return ((bits(key, index) >> 11) + 0.5) * 2.0 ** -53


def uniforms(seed: int, position: int, step: int, stream: int, indices: Iterable[int]) -> List[float]:
    key = cell_key(seed, position, step, stream)
    return [uniform(key, i) for i in indices]


def uniform_array(seed: int, position: int, step: int, stream: int, count: int):
    """Draws 0..count-1 of one cell as a float64 numpy array (vectorised, same bits)."""
    import numpy as np
    key = np.uint64(cell_key(seed, position, step, stream))
    idx = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = key + idx * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


if __name__ == "__main__":
    seed, position, step, stream = (int(a) for a in sys.argv[1:5])
    for value in uniforms(seed, position, step, stream, (int(a) for a in sys.argv[5:])):
        print(f"{value:.17g}")
