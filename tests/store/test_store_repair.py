"""`store repair` recovers a damaged store into a new file and says what was saved and lost."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from inferlca.cli import run
from inferlca.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Path:
    p = tmp_path / "s.db"
    for label in ("a", "b"):
        assert run(["run", "-w", "null", "-n", "4", "-r", "2", "--store", str(p), "--label",
                    label, "--logs-dir", str(tmp_path / "logs")]) == 0
    with sqlite3.connect(p) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p


def _repair(p: Path, capsys) -> dict:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert run(["store", "repair", "--store", str(p), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_corrupt_arrays_lose_their_repetitions_only(store: Path, capsys) -> None:
    with sqlite3.connect(store) as c:
        rid = c.execute("SELECT run_id FROM runs WHERE label = 'a'").fetchone()[0]
        c.execute("UPDATE trace_arrays SET data = x'0011' WHERE run_id = ? AND idx = 1", (rid,))
    assert run(["store", "info", "--check", "--store", str(store)]) == 2
    assert "corrupt" in capsys.readouterr().err
    r = _repair(store, capsys)
    assert r["damaged"] and r["runs_saved"] == 2 and r["runs_lost"] == 0
    assert r["repetitions_saved"] == 3 and r["repetitions_lost"] == 1
    assert Path(r["damaged_copy"]).exists()
    with Store.open_readonly(store) as s:
        assert s.integrity_check(deep=True) == []
        a = s.get_run(rid)
        assert a.stored_status == "incomplete" and [x.index for x in a.repetitions] == [0]
        assert "repetition(s) 1" in (a.error or "")


def test_damaged_json_summary_is_recomputed_and_a_bad_spec_loses_its_run(store: Path,
                                                                           capsys) -> None:
    with sqlite3.connect(store) as c:
        c.execute("UPDATE runs SET summary_json = '{broken' WHERE label = 'a'")
        c.execute("UPDATE runs SET spec_json = '[1]' WHERE label = 'b'")
    assert run(["results", "--store", str(store)]) == 2
    assert "damaged" in capsys.readouterr().err
    r = _repair(store, capsys)
    assert r["runs_saved"] == 1 and r["runs_lost"] == 1
    with Store.open_readonly(store) as s:
        (a,) = s.list_runs()
        assert a.label == "a" and a.summary and a.summary.get("metrics")


def test_garbage_pages_are_refused_then_recovered(store: Path, capsys) -> None:
    size = store.stat().st_size
    with open(store, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(3000))
    before = store.read_bytes()
    assert run(["run", "-w", "null", "-n", "2", "-r", "1", "--store", str(store)]) == 2
    assert store.read_bytes() == before  # refused before anything was measured or written
    r = _repair(store, capsys)
    assert r["damaged"] and r["runs_saved"] + r["runs_lost"] >= 1
    with Store.open_readonly(store) as s:
        assert s.integrity_check(deep=True) == []
    assert run(["run", "-w", "null", "-n", "2", "-r", "1", "--store", str(store), "--logs-dir",
                str(store.parent / "logs")]) == 0


def test_a_sound_store_is_left_as_it_is(store: Path, capsys) -> None:
    r = _repair(store, capsys)
    assert r == {"store": str(store), "damaged": False, "closed": [], "integrity": ["ok"]}
    assert not list(store.parent.glob("*.damaged-*"))
