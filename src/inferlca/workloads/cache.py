"""Where workloads keep what they build once: synthetic weights, exported ONNX models, calibrations.

The directory is ``$INFERLCA_CACHE_DIR`` when set, else ``~/.cache/inferlca``. Every file name
carries a key made of the things that change its content (model name, architecture, seed, shapes),
so a stale file is never reused for a different model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir(*parts: str) -> Path:
    """The cache directory (created), optionally a sub-directory of it."""
    root = os.environ.get("INFERLCA_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "inferlca")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(**fields: Any) -> str:
    """A short stable hash of JSON-able fields (sorted), for file names."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
