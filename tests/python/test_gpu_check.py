#!/usr/bin/python3
"""The CPU rehearsal of scripts/gpu_check.sh (issue 15): `--dry-run` runs every stage the
GPU machine runs after its build (the shipped model, a random LLaDA-family export, dlm
none/dual, the eager peer, the window-step floor, batch 8 and 32) on a 2-layer model on
the CPU, so that the script cannot rot between GPU sessions. Checks: every stage exits 0,
the table has every figure, and dlm and the eager peer give the same tokens in both modes
(the same operators on the same bfloat16 weights, on one CPU).

Run: python3 tests/python/test_gpu_check.py DLM_EXECUTABLE   (exit 77: no .npm-deps)
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / ".npm-deps" / "node_modules" / "@lenml" / "tokenizer-llama3" / "models"


def main() -> int:
    if not (TOKENIZER / "tokenizer.json").exists():
        print("skipped: no .npm-deps (scripts/npm_deps.sh installs the tokenizer this embeds)")
        return 77
    dlm = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DLM_BUILD=str(dlm.parent), DLM_GPU_WORK=str(Path(tmp) / "work"))
        r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run", str(Path(tmp) / "log")],
                           capture_output=True, text=True, env=env, timeout=600)
        table = r.stdout
        print(table)
        failures = []
        if r.returncode != 0:
            failures.append(f"gpu_check.sh --dry-run exited {r.returncode}: {r.stderr[-2000:]}")
        for stage in ("kjv_cpu_none", "kjv_cpu_dual", "export", "llada_none", "llada_dual",
                      "llada_dual_nographs", "peer_none",
                      "peer_dual", "floor", "batch_8", "batch_32"):
            if not any(line.startswith(stage) and "rc=0" in line for line in table.splitlines()):
                failures.append(f"stage {stage} missing or failed")
        for needle in ("llada_none (dlm):", "llada_dual (dlm):", "prompt 64 ids",
                       "graphs (auto) / off", "agree 32/32",
                       "peer_none (eager PyTorch):", "peer_dual (eager PyTorch):", "window step",
                       "batch 8:", "batch 32:"):
            if needle not in table:
                failures.append(f"table lacks {needle!r}")
        for mode in ("none", "dual"):
            line = next((l for l in table.splitlines() if l.startswith(f"peer_{mode} (eager")), "")
            if "tokens agree 32/32" not in line:
                failures.append(f"dlm and the eager peer differ ({mode}): {line!r}")
        if (Path(tmp) / "work" / "llada-random.pt").exists():
            failures.append("the rehearsal left its checkpoint behind")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
