"""The examples of README.md and docs/*.md that are marked runnable run as written.

A block fenced as ```` ```bash runnable ```` is executed; the blocks of one file run in order, in
one scratch folder that holds links to the clone's ``tests/`` and ``examples/`` (the examples are
written for the clone's root), with ``inferlca`` and ``python`` on the PATH and no
``$INFERLCA_STORE``. Each block must exit 0. The examples are chosen to be fast (replayed
recorded logs, no measurement).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```bash runnable[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def runnable_blocks(text: str) -> list[str]:
    """The bodies of the ```bash runnable blocks of a Markdown text, in order."""
    return [m.group(1) for m in FENCE.finditer(text)]


def _files() -> list[Path]:
    return [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
            if runnable_blocks(p.read_text(encoding="utf-8"))]


def test_marker_is_found_and_others_are_not():
    text = ("```bash\nnot run\n```\n\n```bash runnable\necho a\necho b\n```\n"
            "```\ninferlca x\n```\n```bash runnable\necho c\n```\n")
    assert runnable_blocks(text) == ["echo a\necho b\n", "echo c\n"]
    assert (ROOT / "README.md") in _files()  # the README has runnable examples


@pytest.mark.parametrize("doc", _files(), ids=lambda p: p.name)
def test_runnable_examples(doc: Path, tmp_path: Path):
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("tests", "examples"):
        (work / name).symlink_to(ROOT / name)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "inferlca"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m inferlca "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    py = bindir / "python"
    py.symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "INFERLCA_STORE"}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH", "")]))
    env["COLUMNS"] = "80"
    env["MPLBACKEND"] = "Agg"
    for i, block in enumerate(runnable_blocks(doc.read_text(encoding="utf-8")), 1):
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, (f"{doc.name} block {i} exited {r.returncode}:\n{block}\n"
                                   f"--- stdout ---\n{r.stdout[-2000:]}\n"
                                   f"--- stderr ---\n{r.stderr[-2000:]}")
