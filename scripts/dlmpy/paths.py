"""Where things are in the repository: the defaults of the scripts' path options."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_DATA = ROOT / "scripts" / "data"  # committed: held-out verse list, prompt set
WORK = ROOT / ".work"  # git-ignored: prepared data, training folders
MODELS = ROOT / "models"
SHIPPED_MODEL = MODELS / "dlm-kjv-tiny.pt"
