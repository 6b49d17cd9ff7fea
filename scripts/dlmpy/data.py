"""The token streams of train/prepare_data.py and the <bos>-led windows models train on."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Tuple

import torch
from torch import Tensor

from dlmpy.kjv import BOS_ID


def load_npy(path: Path) -> Tensor:
    """A 1-D .npy of uint16 (ids < 32768) or int64 as an int64 tensor, without numpy
    (the GPU machine's pip torch may come without it)."""
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    header = ast.literal_eval(raw[10:10 + header_len].decode("latin1"))
    dtype = {"<u2": torch.int16, "<i8": torch.int64}[header["descr"]]
    return torch.frombuffer(bytearray(raw[10 + header_len:]), dtype=dtype).to(torch.int64)


def load_split(data: Path, split: str) -> Tuple[Tensor, Tensor]:
    """(token stream, offsets of its verse starts) of split "train" or "heldout"."""
    return load_npy(data / f"{split}.npy"), load_npy(data / f"{split}_starts.npy")


class Windows:
    """Windows of whole verses from a token stream, each starting with <bos>."""

    def __init__(self, stream: Tensor, starts: Tensor, seq_len: int):
        self.stream = stream
        self.starts = starts[starts + seq_len - 1 <= len(stream)]
        self.seq_len = seq_len

    def batch(self, gen: torch.Generator, size: int) -> Tensor:
        """`size` windows starting at random verse starts."""
        picks = self.starts[torch.randint(len(self.starts), (size,), generator=gen)].tolist()
        rows = [torch.cat([torch.tensor([BOS_ID]), self.stream[s:s + self.seq_len - 1]]) for s in picks]
        return torch.stack(rows)

    def tiled(self) -> Tensor:
        """Non-overlapping windows covering the stream (for evaluation)."""
        rows, pos, n = [], 0, len(self.stream)
        while pos + self.seq_len - 1 <= n:
            rows.append(torch.cat([torch.tensor([BOS_ID]), self.stream[pos:pos + self.seq_len - 1]]))
            pos += self.seq_len - 1
        return torch.stack(rows)
