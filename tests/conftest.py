"""Shared test helpers: run the CLI in-process or in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from subproc import subprocess_env

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


@pytest.fixture
def cli_subprocess():
    def _run(*args: str, timeout: float = 600, cwd: str | os.PathLike | None = None, **env: str):
        p = subprocess.run([sys.executable, "-m", "inferlca", *map(str, args)], check=False,
                           capture_output=True,
                           text=True, timeout=timeout, env=subprocess_env(**env), cwd=cwd)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return _run


class StoredRun:
    """A run as it was reported (``out``: the printed JSON of ``run --json``, or the ``RunOutcome``
    of ``run_benchmark``) and as the store gives it back (``record``), with the store's path."""

    def __init__(self, out, record, store: Path) -> None:
        self.out, self.record, self.store = out, record, store

    def _read(self, what: str, index: int):
        from inferlca.store.sqlite import Store

        with Store.open_readonly(self.store) as st:
            return getattr(st, what)(self.record.run_id, index)

    def series(self, index: int = 0):
        """The per-query series of repetition ``index``, by name."""
        return self._read("load_series", index)

    def latencies(self, index: int = 0):
        """The per-query latencies in seconds of repetition ``index``."""
        return self._read("load_latencies", index)

    def trace(self, index: int = 0):
        """The stored power trace of repetition ``index`` (``None`` without one)."""
        return self._read("load_trace", index)


def _read_back(out, run_id: str, store: Path) -> StoredRun:
    from inferlca.store.sqlite import Store

    with Store.open_readonly(store) as st:
        record = st.get_run(run_id)
        assert run_id in [r.run_id for r in st.list_runs()]
    return StoredRun(out, record, store)


@pytest.fixture
def run_and_read(cli, tmp_path):
    """``run_and_read("-w", "null", "-n", "4", store=None) -> StoredRun``: ``inferlca run ARGS
    --store STORE --logs-dir <tmp>/logs --json`` in-process, which must exit 0, then the run read
    back from the store (``<tmp>/r.db`` unless ``store`` is given)."""

    def _run(*args, store: str | os.PathLike | None = None) -> StoredRun:
        db = Path(store) if store is not None else tmp_path / "r.db"
        res = cli("run", *args, "--store", db, "--logs-dir", tmp_path / "logs", "--json")
        assert res.code == 0, res.err
        out = res.json()
        return _read_back(out, out["run_id"], db)

    return _run


@pytest.fixture
def benchmark_and_read(tmp_path):
    """``benchmark_and_read(spec, store=None, **kw) -> StoredRun``: ``run_benchmark(spec, store,
    logs_dir=<tmp>/logs, **kw)`` into a store (``<tmp>/r.db`` unless given), then the run read
    back from it."""

    def _run(spec, store: str | os.PathLike | None = None, **kw) -> StoredRun:
        from inferlca.loadgen.runner import run_benchmark
        from inferlca.store.sqlite import Store

        db = Path(store) if store is not None else tmp_path / "r.db"
        kw.setdefault("logs_dir", tmp_path / "logs")
        with Store.open(db) as st:
            out = run_benchmark(spec, st, **kw)
        return _read_back(out, out.run_id, db)

    return _run
