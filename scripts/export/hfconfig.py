"""Reading a Hugging Face config.json: required keys and unsupported switches, as one-line
ExportErrors naming the file."""
from __future__ import annotations

from pathlib import Path

from export.common import ExportError


class HfConfig:
    def __init__(self, cfg: dict, path: Path):
        self.cfg, self.path = cfg, path

    def get(self, key, default=None):
        return self.cfg.get(key, default)

    def need(self, *keys):
        """The first of `keys` present (synonyms), as given."""
        for key in keys:
            if self.cfg.get(key) is not None:
                return self.cfg[key]
        raise ExportError(f"{self.path}: no {' or '.join(keys)}")

    def int(self, *keys) -> int:
        v = self.need(*keys)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ExportError(f"{self.path}: {keys[0]} is {v!r}, expected a positive integer")
        return v

    def float(self, *keys) -> float:
        v = self.need(*keys)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ExportError(f"{self.path}: {keys[0]} is {v!r}, expected a number")
        return float(v)

    def require(self, key, allowed, default=None):
        """Fail on a switch value the exporter does not implement."""
        v = self.cfg.get(key, default)
        if v not in allowed:
            raise ExportError(f"{self.path}: {key} = {v!r} is not supported (supported: "
                              f"{', '.join(repr(a) for a in allowed)})")
        return v
