#!/usr/bin/python3
"""The figures of a scripts/gpu_check.sh run, from the records its stages left in LOG_DIR
(NAME.out: dlm --json records, gpu_peer.py / gpu_floor.py JSON lines; NAME.err: dlm
batch's summary line). Missing stages are skipped; a line per figure.

Usage: python3 scripts/bench/gpu_table.py LOG_DIR NEW_TOKENS PROMPTS
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import List, Optional


def record(d: Path, name: str) -> Optional[dict]:
    path = d / f"{name}.out"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def dlm_tps(r: dict, new: int) -> float:
    t = r["timings_ms"]
    return new * 1000 / max(t["total"] - t["load"], 1e-9)


def agree(a: List[int], b: List[int]) -> str:
    n = max(len(a), len(b))
    return f"{sum(x == y for x, y in zip(a, b))}/{n}"


def main() -> int:
    d, new = Path(sys.argv[1]), int(sys.argv[2])
    out = []
    kjv = {name: record(d, name) for name in ("kjv_cuda_none", "kjv_cuda_dual", "kjv_cpu_none", "kjv_cpu_dual")}
    for mode in ("none", "dual"):
        a, b = kjv[f"kjv_cuda_{mode}"], kjv[f"kjv_cpu_{mode}"]
        if a:
            out.append(f"kjv cuda {mode}: {dlm_tps(a, new):.1f} tokens/s, nfe {a['nfe']}")
        if a and b:
            out.append(f"kjv {mode}: cuda vs cpu tokens agree {agree(a['token_ids'], b['token_ids'])}")
    for dt in ("bfloat16", "float16"):
        a, b = record(d, f"kjv_cuda_dual_{dt}"), kjv["kjv_cuda_dual"]
        if a and b:
            out.append(f"kjv dual cuda --dtype {dt}: {dlm_tps(a, new):.1f} tokens/s, tokens agree with "
                       f"float32 {agree(a['token_ids'], b['token_ids'])}")
    runs = {}
    for name in ("llada_none", "llada_dual"):
        r = record(d, name)
        if r:
            runs[name] = r
            out.append(f"{name} (dlm): {dlm_tps(r, new):.1f} tokens/s, nfe {r['nfe']}, prompt "
                       f"{len(r['prompt_token_ids'])} ids, cache {r['cache']['bytes']} B")
    plain = record(d, "llada_dual_nographs")
    if plain:
        line = f"llada_dual --cuda-graphs off: {dlm_tps(plain, new):.1f} tokens/s"
        if "llada_dual" in runs:
            r = runs["llada_dual"]
            line += (f"; graphs (auto) / off {dlm_tps(r, new) / dlm_tps(plain, new):.2f}x, tokens "
                     f"agree {agree(r['token_ids'], plain['token_ids'])}")
        out.append(line)
    err = d / "llada_dual.err"
    m = re.search(r"cuda graphs ([^|\n]+)", err.read_text() if err.exists() else "")
    if m:
        out.append(f"llada_dual cuda graphs: {m.group(1).strip()}")
    for mode in ("none", "dual"):
        p = record(d, f"peer_{mode}")
        r = runs.get(f"llada_{mode}")
        if p:
            line = f"peer_{mode} (eager PyTorch): {p['tokens_per_s']:.1f} tokens/s, nfe {p['nfe']}"
            if "peak_memory_bytes" in p:
                line += f", peak {p['peak_memory_bytes'] / 2 ** 30:.2f} GiB"
            if r:
                line += (f"; dlm / peer {dlm_tps(r, new) / p['tokens_per_s']:.2f}x, tokens agree "
                         f"{agree(r['token_ids'], p['token_ids'])}")
            out.append(line)
    f = record(d, "floor")
    if f:
        out.append(f"window step {f['window_ms']:.2f} ms, floor {f['floor_ms']:.2f} ms "
                   f"({f['weight_bytes'] / 2 ** 30:.2f} GiB at {f['bandwidth_gb_s']:.0f} GB/s): "
                   f"{f['x_floor']:.2f}x")
    prompts = int(sys.argv[3])
    for bs in (8, 32):
        err = d / f"batch_{bs}.err"
        m = re.search(r"\| ([0-9.]+) tokens/s \(([0-9]+) tokens in ([0-9.]+) s\)",
                      err.read_text() if err.exists() else "")
        if m:
            tps, tokens, seconds = float(m.group(1)), int(m.group(2)), float(m.group(3))
            step_ms = seconds * 1000 / (new * -(-prompts // bs))
            out.append(f"batch {bs}: {tps:.1f} tokens/s ({tokens} tokens of {prompts} prompts in "
                       f"{seconds:.1f} s), {step_ms:.1f} ms per step of {bs} rows")
    print("\n".join(out) if out else "no figures (see gpu_check.log)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
