"""dlmpy: the Python code that dlm's scripts share.

Scripts import it as a top-level package, with scripts/ on the module search path; run
them from the repository root as

    PYTHONPATH=scripts /usr/bin/python3 scripts/train/train_tiny.py --minutes 30

No script edits sys.path. A script imports dlmpy, the standard library, Debian's packages
and, at most, modules in its own folder (scripts/reference/ imports its common.py so).

Modules: paths (repository locations), kjv (the corpus, its held-out split, the
tokenizer's special ids), model (the network), rng (the generator's bit-exact twin),
data (token streams and windows), diffusion (the masked-diffusion objective),
checkpoint (format v1, read and written), training (the wall-time training loop).
"""
