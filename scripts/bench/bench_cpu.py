#!/usr/bin/python3
"""CPU speed of dlm on the shipped model (issue 17; README "CPU speed"), as ratios taken in
one run with the load average beside them (other jobs on the machine skew every absolute
figure; interleaved runs share the noise).

Sections (--only to pick some):
- floor:  a window pass (B=1, W=32 against a 320-position cache: 64-token prompt + 256 new)
          timed in-process through the checkpoint's TorchScript methods with dlm's thread
          layout (torch 1 thread, OpenBLAS -t), against the compute floor: its FLOP over the
          measured torch.mm rate (1024^3, same threads). forward_window_update with the head
          on the 32 block rows and on 16 (a half-filled block), and forward_window (format
          v1) of the same file and, with --baseline, of an older export.
- profile: where the window pass's time goes (torch.profiler, self time per operator
          grouped: GEMMs, attention, the other ATen operators, the TorchScript interpreter),
          and the same pass's GEMMs alone (their shapes, run back to back) against the floor.
- bf16:   --dtype bfloat16: the window pass in bfloat16 (torch's pool at --threads,
          OpenBLAS 1: oneDNN runs bfloat16 GEMMs) against float32 and the float32 floor;
          then dlm dual, 256 new tokens, float32 and bfloat16 interleaved per prompt:
          tokens/s and how many tokens agree.
- peer:   dlm --cache dual against the eager Fast-dLLM-style Python peer (bench_peer.py).
- before: with --before DLM (an older dlm build) and --baseline (its model): dual and none,
          256 new tokens, the older pair and this one interleaved per prompt, same -t.
- cache:  dual against none at 256 and 440 new tokens (64-token prompt, the shipped model's
          512 positions) and at 1,024 (a copy of the model with max_seq_len 1152: rotary
          positions run past the training length; --eos none, speed only).
- threads: dual at -t 1, -t 2 and the default, quiet and beside a competing busy process.
- batch:  `dlm batch --cache dual` over 32 prompts (64 new tokens, 64 steps) at batch sizes
          1, 8 and 32.

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench/bench_cpu.py [--dlm build/dlm]
       [--threads 2] [--prompts 2] [--only floor,profile,bf16,peer,cache,threads,batch]
       [--baseline OLD.pt [--before OLD_DLM]] (section before: --only before)
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from bench.bench_peer import agreement, eager_model, run_dlm, run_peer
from dlmpy.checkpoint import load
from dlmpy.kjv import heldout_prompts, heldout_texts
from dlmpy.paths import ROOT, SHIPPED_MODEL


def load_text() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def set_threads(threads: int) -> None:
    """dlm's layout: torch's pool at one thread, OpenBLAS at `threads`."""
    torch.set_num_threads(1)
    for name in ("openblas", "blas"):
        path = ctypes.util.find_library(name)
        lib = ctypes.CDLL(path) if path else None
        if lib is not None and hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads(threads)
            return


def median_ms(fn, repeat: int = 30) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def window_flops(arch: dict, width: int, cache: int, rows: int) -> float:
    d, ff, layers, vocab = arch["d_model"], arch["d_ff"], arch["n_layers"], arch["vocab_size"]
    per_layer = 2 * width * d * (3 * d + d + 3 * ff) + 2 * 2 * width * cache * d
    return layers * per_layer + 2 * rows * d * vocab


def floor(args) -> None:
    set_threads(args.threads)
    a = torch.randn(1024, 1024)
    rate = 2 * 1024 ** 3 / (median_ms(lambda: torch.mm(a, a), 10) / 1e3)
    S, W, lo = 320, 32, 64
    files = [("shipped", args.model)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"\nWindow pass vs compute floor (B=1, W={W}, cache {S}; torch.mm {rate / 1e9:.1f} GFLOP/s "
          f"on {args.threads} OpenBLAS threads; {load_text()})\n")
    print("| file | method | head rows | ms | MFLOP | floor ms | x floor |")
    print("|---|---|---|---|---|---|---|")
    ids = torch.randint(5, 4000, (1, S), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, S, dtype=torch.bool)
    pos = torch.arange(S).unsqueeze(0)
    off = torch.tensor([lo])
    for label, path in files:
        ckpt = load(path)
        m, arch = ckpt.module, ckpt.config["architecture"]
        with torch.inference_mode():
            _, keys, values = m.forward_kv(ids, mask, pos)
            win, wpos = ids[:, lo:lo + W], pos[:, lo:lo + W]
            cases = []
            if hasattr(m, "forward_window_update"):
                for rows in (W, W // 2):
                    cases.append(("forward_window_update", rows, lambda r=rows: m.forward_window_update(
                        win, wpos, off, keys, values, mask, torch.tensor([0]), r)))
            cases.append(("forward_window", W, lambda: m.forward_window(win, wpos, off, keys, values, mask)))
            for name, rows, fn in cases:
                ms = median_ms(fn)
                flop = window_flops(arch, W, S, rows)
                fl = flop / rate * 1e3
                print(f"| {label} | {name} | {rows} | {ms:.2f} | {flop / 1e6:.1f} | {fl:.2f} | {ms / fl:.2f} |")


GROUPS = {"aten::mm": "GEMMs (mm/addmm/linear)", "aten::addmm": "GEMMs (mm/addmm/linear)",
          "aten::bmm": "attention (bmm, softmax)", "aten::_softmax": "attention (bmm, softmax)"}


def window_case(path: str, dtype=None):
    """The floor section's window pass (B=1, W=32, cache 320) of the checkpoint at `path`,
    its parameters converted to `dtype` when given (as dlm --dtype does)."""
    S, W, lo = 320, 32, 64
    ckpt = load(path)
    m = ckpt.module
    if dtype is not None:
        m.to(dtype)
    ids = torch.randint(5, 4000, (1, S), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, S, dtype=torch.bool)
    pos = torch.arange(S).unsqueeze(0)
    with torch.inference_mode():
        _, keys, values = m.forward_kv(ids, mask, pos)
    win, wpos, off = ids[:, lo:lo + W], pos[:, lo:lo + W], torch.tensor([lo])
    return ckpt, lambda: m.forward_window_update(win, wpos, off, keys, values, mask, torch.tensor([0]), W)


def profile(args) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    set_threads(args.threads)
    ckpt, fn = window_case(args.model)
    arch = ckpt.config["architecture"]
    a = torch.randn(1024, 1024)
    rate = 2 * 1024 ** 3 / (median_ms(lambda: torch.mm(a, a), 10) / 1e3)
    reps = 30
    with torch.inference_mode():
        total = median_ms(fn)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(reps):
                fn()
    groups: dict = {}
    for e in prof.key_averages():
        if e.key == "forward_window_update":
            groups["TorchScript interpreter (the method's own time)"] = e.self_cpu_time_total
            continue
        name = GROUPS.get(e.key, "other ATen operators (norms, rotary, scatter, elementwise)")
        groups[name] = groups.get(name, 0) + e.self_cpu_time_total
    whole = sum(groups.values())
    # The pass's GEMMs alone: per layer Q/K/V, O, gate/up, down, then the head over 32 rows.
    d, ff, layers, vocab = arch["d_model"], arch["d_ff"], arch["n_layers"], arch["vocab_size"]
    shapes = [(d, 3 * d), (d, d), (d, 2 * ff), (ff, d)] * layers + [(d, vocab)]
    mats = [(torch.randn(32, k), torch.randn(k, n)) for k, n in shapes]
    gemm_ms = median_ms(lambda: [torch.mm(x, w) for x, w in mats])
    gemm_flop = sum(2 * 32 * k * n for k, n in shapes)
    print(f"\nWhere a window pass goes (B=1, W=32, cache 320, torch 1 thread, OpenBLAS {args.threads}; "
          f"{load_text()}): {total:.2f} ms a pass (median)\n")
    print("| part | share of profiled time | ms a pass (share x median) |")
    print("|---|---|---|")
    for name, us in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {100 * us / whole:.1f}% | {total * us / whole:.2f} |")
    print(f"\nThe pass's {len(shapes)} GEMMs alone, back to back (32 rows; weights of the same "
          f"shapes): {gemm_ms:.2f} ms for {gemm_flop / 1e6:.1f} MFLOP = {gemm_flop / gemm_ms / 1e6:.1f} "
          f"GFLOP/s, {gemm_flop / gemm_ms / 1e6 / (rate / 1e9):.2f} of torch.mm's 1024^3 rate "
          f"({rate / 1e9:.1f} GFLOP/s)")


def bf16(args) -> None:
    a = torch.randn(1024, 1024)
    set_threads(args.threads)
    rate = 2 * 1024 ** 3 / (median_ms(lambda: torch.mm(a, a), 10) / 1e3)
    ckpt, fn32 = window_case(args.model)
    arch = ckpt.config["architecture"]
    with torch.inference_mode():
        ms32 = median_ms(fn32)
    set_threads(1)
    torch.set_num_threads(args.threads)
    a16 = a.to(torch.bfloat16)
    rate16 = 2 * 1024 ** 3 / (median_ms(lambda: torch.mm(a16, a16), 10) / 1e3)
    ckpt16, fn16 = window_case(args.model, torch.bfloat16)
    with torch.inference_mode():
        ms16 = median_ms(fn16)
    torch.set_num_threads(1)
    set_threads(args.threads)
    flop = window_flops(arch, 32, 320, 32)
    fl, fl16 = flop / rate * 1e3, flop / rate16 * 1e3
    print(f"\nbfloat16 window pass (B=1, W=32, cache 320, {args.threads} threads; {load_text()}): "
          f"float32 {ms32:.2f} ms ({ms32 / fl:.2f}x the float32 floor {fl:.2f} ms at torch.mm's "
          f"{rate / 1e9:.1f} GFLOP/s), bfloat16 {ms16:.2f} ms ({ms16 / fl:.2f}x the float32 floor; "
          f"{ms16 / fl16:.2f}x the bfloat16 floor {fl16:.2f} ms at {rate16 / 1e9:.1f} GFLOP/s; "
          f"{ms32 / ms16:.2f}x faster than float32)\n")
    print("| prompt | float32 tok/s | bfloat16 tok/s | bfloat16 / float32 | tokens agreeing |")
    print("|---|---|---|---|---|")
    ratios, same, total = [], 0, 0
    for i, prompt in enumerate(heldout_prompts(args.prompts, 64)):
        f = generate(args, prompt, 256, "dual", args.threads, i)
        b = generate(args, prompt, 256, "dual", args.threads, i, extra=["--dtype", "bfloat16"])
        agree = sum(x == y for x, y in zip(f["tokens"], b["tokens"]))
        n = max(len(f["tokens"]), len(b["tokens"]))
        ratios.append(b["tps"] / f["tps"])
        same, total = same + agree, total + n
        print(f"| {i} | {f['tps']:.1f} | {b['tps']:.1f} | {ratios[-1]:.2f} | {agree}/{n} |")
    print(f"\nbfloat16 / float32 dual: {statistics.median(ratios):.2f}x (median), tokens agreeing "
          f"{same}/{total} ({100 * same / max(total, 1):.1f}%); {load_text()}")


def generate(args, prompt: str, n: int, cache: str, threads: int, seed: int,
             dlm: str = "", model: str = "", extra=None) -> dict:
    cmd = [dlm or args.dlm, "generate", "-m", model or args.model, "-p", prompt, "-n", str(n), "--steps", str(n),
           "--block-length", "32", "--temperature", "0", "--seed", str(seed), "--cache", cache, "--json"]
    cmd += extra or []
    if threads:
        cmd += ["-t", str(threads)]
    rec = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    t = rec["timings_ms"]
    return {"tps": n * 1000 / (t["total"] - t["load"]), "nfe": rec["nfe"], "tokens": rec["token_ids"],
            "step_ms": (t["total"] - t["load"]) / rec["nfe"]}


def peer(args) -> None:
    torch.set_num_threads(args.threads)
    model, config, _ = eager_model(args.model)
    mask_id = int(config["mask_token_id"])
    pa = SimpleNamespace(dlm=args.dlm, model=args.model, n=256, block_length=32, threads=args.threads)
    ratios, same = [], []
    for prompt in heldout_prompts(args.prompts, 64):
        d = run_dlm(pa, prompt)
        p = run_peer(pa, model, mask_id, d["ids"])
        ratios.append(d["tokens_per_s"] / p["tokens_per_s"])
        same.append(agreement(d["tokens"], p["tokens"]) == 1.0)
        print(f"  dlm {d['tokens_per_s']:.1f} tok/s, peer {p['tokens_per_s']:.1f} tok/s", file=sys.stderr)
    print(f"\ndlm dual vs eager Fast-dLLM peer (256 new tokens, block 32, -t {args.threads}, peer "
          f"{args.threads} torch threads): {statistics.median(ratios):.2f}x (median of {len(ratios)} "
          f"prompts), identical tokens {sum(same)}/{len(same)}; {load_text()}")


def before(args) -> None:
    print(f"\nBefore/after (64-token prompts, 256 new tokens, block 32, 256 steps, -t {args.threads})\n")
    print("| cache | before tok/s | after tok/s | after / before | tokens identical | load average |")
    print("|---|---|---|---|---|---|")
    for mode in ("dual", "none"):
        old, new, same = [], [], 0
        for i, prompt in enumerate(heldout_prompts(args.prompts, 64)):
            a = generate(args, prompt, 256, mode, args.threads, i, args.before, args.baseline)
            b = generate(args, prompt, 256, mode, args.threads, i)
            old.append(a["tps"])
            new.append(b["tps"])
            same += a["tokens"] == b["tokens"]
        o, n = statistics.median(old), statistics.median(new)
        print(f"| {mode} | {o:.1f} | {n:.1f} | {n / o:.2f} | {same}/{len(old)} | {os.getloadavg()[0]:.1f} |")


def long_copy(path: str, max_len: int, out: Path) -> str:
    """The checkpoint at `path` with config.json's max_seq_len raised to `max_len` (rotary
    positions have no table, so the network runs past its training length; speed only)."""
    from dlmpy.checkpoint import write_checkpoint
    ckpt = load(path)
    config = dict(ckpt.config, max_seq_len=max_len)
    config["architecture"] = dict(config["architecture"], max_seq_len=max_len)
    write_checkpoint(ckpt.module, config, ckpt.tokenizer, out)
    return str(out)


def cache(args) -> None:
    prompts = heldout_prompts(args.prompts, 64)
    print(f"\nDual vs none (64-token prompts, block 32, steps = new tokens, -t {args.threads}; "
          f"1024: a copy of the model with max_seq_len 1152, --eos none)\n")
    print("| new tokens | none tok/s | dual tok/s | dual / none | dual step ms | load average |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        long_model = long_copy(args.model, 1152, Path(tmp) / "long.pt")
        # 64 + 440 + bos fits the shipped model's 512-position canvas; 1024 runs on the copy.
        for n, model in ((256, ""), (440, ""), (1024, long_model)):
            rows = {"none": [], "dual": []}
            for i, prompt in enumerate(prompts):
                for mode in rows:
                    extra = ["--eos", "none"] if model else None
                    rows[mode].append(generate(args, prompt, n, mode, args.threads, i, model=model,
                                               extra=extra))
            none = statistics.median(r["tps"] for r in rows["none"])
            dual = statistics.median(r["tps"] for r in rows["dual"])
            step = statistics.median(r["step_ms"] for r in rows["dual"])
            print(f"| {n} | {none:.1f} | {dual:.1f} | {dual / none:.2f} | {step:.1f} | {os.getloadavg()[0]:.1f} |")
            sys.stdout.flush()


def threads(args) -> None:
    prompt = heldout_prompts(1, 64)[0]
    settings = [("-t 1", 1), ("-t 2", 2), ("default", 0)]
    print("\nThreads: dual, 256 new tokens, quiet vs beside one busy process (`python3 -c "
          "'while True: pass'`), interleaved\n")
    print("| setting | as found tok/s | with competing job tok/s | busy / as found | load average |")
    print("|---|---|---|---|---|")
    res = {s: {"quiet": [], "busy": []} for s, _ in settings}
    for _ in range(args.rounds):
        for state in ("quiet", "busy"):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if state == "busy" else None
            try:
                time.sleep(1.0)
                for name, t in settings:
                    res[name][state].append(generate(args, prompt, 256, "dual", t, 0)["tps"])
            finally:
                if hog:
                    hog.kill()
                    hog.wait()
    for name, _ in settings:
        q, b = statistics.median(res[name]["quiet"]), statistics.median(res[name]["busy"])
        print(f"| {name} | {q:.1f} | {b:.1f} | {b / q:.2f} | {os.getloadavg()[0]:.1f} |")


def batch(args) -> None:
    texts = heldout_texts()
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        inp.write_text("".join(json.dumps({"id": f"p{i}", "prompt": " ".join(texts[i].split()[:30])}) + "\n"
                               for i in range(32)))
        speeds = {}
        for bs in (1, 8, 32):
            out = Path(tmp) / f"out{bs}.jsonl"
            cmd = [args.dlm, "batch", "-q", "-m", args.model, "-i", str(inp), "-o", str(out), "--overwrite",
                   "-n", "64", "--steps", "64", "--block-length", "32", "--temperature", "0",
                   "--batch-size", str(bs), "--cache", "dual"]
            if args.threads:
                cmd += ["-t", str(args.threads)]
            t0 = time.time()
            subprocess.run(cmd, check=True)
            speeds[bs] = 32 * 64 / (time.time() - t0)
    print(f"\nBatch (dual, 32 prompts, 64 new tokens, incl. load, -t {args.threads}; {load_text()}): "
          + ", ".join(f"batch {bs} {s:.1f} tok/s ({s / speeds[1]:.2f}x)" for bs, s in speeds.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dlm", default=str(ROOT / "build" / "dlm"))
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--baseline", help="an older export of the same model (floor and before sections)")
    ap.add_argument("--before", help="an older dlm build, run with --baseline (before section)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="threads section: rounds of interleaved runs")
    ap.add_argument("--only", default="floor,profile,bf16,peer,cache,threads,batch")
    args = ap.parse_args()
    sections = {"floor": floor, "profile": profile, "bf16": bf16, "before": before, "peer": peer, "cache": cache, "threads": threads, "batch": batch}
    for name in args.only.split(","):
        sections[name](args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
