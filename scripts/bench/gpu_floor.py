#!/usr/bin/python3
"""A dual-cache window step against its memory floor (issue 15), on any device: the
checkpoint's forward_window_update (the TorchScript method dlm calls; B=1, a 32-position
window against a cache of prompt + new tokens, head on the block's 32 rows) timed on
`--device`, against the floor weight bytes / the device's copy bandwidth measured in the
same run (a large tensor copied device to device; read + write counted, as a window step
reads every weight once).

Prints one JSON line: window_ms (median), weight_bytes, bandwidth_gb_s, floor_ms, x_floor.

Usage: PYTHONPATH=scripts python3 scripts/bench/gpu_floor.py --model M.pt [--device cuda]
       [--cache 320] [--new 256] [--window 32] [--repeat 30]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from dlmpy.checkpoint import load


def timed(fn, device: str, repeat: int) -> float:
    """Median milliseconds of fn() (synchronised on CUDA), after 3 warm-up calls."""
    cuda = device.startswith("cuda")
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def copy_bandwidth(device: str, megabytes: int) -> float:
    """Bytes read + written per second by a device-to-device copy of `megabytes`."""
    src = torch.empty(megabytes * 2 ** 20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    ms = timed(lambda: dst.copy_(src), device, 10)
    return 2 * src.numel() / (ms / 1e3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", type=int, default=320, help="cache positions (prompt + new tokens)")
    ap.add_argument("--new", type=int, default=256, help="new tokens: the window is the first block after the prompt")
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--copy-mb", type=int, default=2048, help="size of the bandwidth copy")
    args = ap.parse_args()
    ckpt = load(args.model, map_location=args.device)
    m = ckpt.module
    weight_bytes = sum(p.numel() * p.element_size() for p in m.parameters())
    S, W, lo = args.cache, args.window, max(args.cache - args.new, 0)
    dev = args.device
    ids = torch.randint(5, 1000, (1, S), generator=torch.Generator().manual_seed(0)).to(dev)
    mask = torch.ones(1, S, dtype=torch.bool, device=dev)
    pos = torch.arange(S, device=dev).unsqueeze(0)
    off, rows = torch.tensor([lo], device=dev), torch.zeros(1, dtype=torch.long, device=dev)
    with torch.inference_mode():
        _, keys, values = m.forward_kv(ids, mask, pos)
        win, wpos = ids[:, lo:lo + W], pos[:, lo:lo + W]
        window_ms = timed(lambda: m.forward_window_update(win, wpos, off, keys, values, mask, rows, W),
                          dev, args.repeat)
    bandwidth = copy_bandwidth(dev, args.copy_mb)
    floor_ms = weight_bytes / bandwidth * 1e3
    print(json.dumps({"device": dev, "dtype": ckpt.config.get("dtype"), "window_ms": window_ms,
                      "weight_bytes": weight_bytes, "bandwidth_gb_s": bandwidth / 1e9,
                      "floor_ms": floor_ms, "x_floor": window_ms / floor_ms,
                      "cache": S, "window": W}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
