"""The environment of ``python -m inferlca`` in a child process: this checkout's ``src`` first on
``PYTHONPATH`` (importable from any test module: ``from subproc import subprocess_env``)."""

from __future__ import annotations

import os
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def subprocess_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with this checkout's ``src`` first on ``PYTHONPATH``, ``COLUMNS=200``
    unless set, and ``extra`` on top."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    env.setdefault("COLUMNS", "200")
    env.update(extra)
    return env
