#!/usr/bin/python3
"""dlm against an eager Fast-dLLM-style Python sampler on the same weights: see
scripts/bench/bench_peer.py (this is its entry point under the name issue 17 gives it).

Usage: PYTHONPATH=scripts /usr/bin/python3 scripts/bench_peer.py [--dlm build/dlm] [--prompts 3] [-t 2]
"""
from bench.bench_peer import main

if __name__ == "__main__":
    main()
