"""Shared test helpers: run the CLI in-process or in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """``cli("hardware", "list", "--json") -> CliResult`` run in-process."""
    from inferlca.cli import run

    def _run(*args: str) -> CliResult:
        capsys.readouterr()
        code = run([str(a) for a in args])
        cap = capsys.readouterr()
        return CliResult(code, cap.out, cap.err)

    return _run


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for ``python -m inferlca`` in a child process, finding this checkout's src."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("COLUMNS", "200")
    env.update(extra)
    return env


@pytest.fixture
def cli_subprocess():
    def _run(*args: str, timeout: float = 600, cwd: str | os.PathLike | None = None, **env: str):
        p = subprocess.run([sys.executable, "-m", "inferlca", *map(str, args)], check=False,
                           capture_output=True,
                           text=True, timeout=timeout, env=subprocess_env(**env), cwd=cwd)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return _run
