"""Schema migrations: a frozen version-1 store opens, migrates and reads back; bad files refused."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from helpers_store import FIXTURES, SPEC, add_complete_run

from inferlca.errors import StoreError
from inferlca.store import SCHEMA_VERSION, Store, schema
from inferlca.store.schema import MIGRATIONS

V1_RUN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _make_v1(path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "v1_store.sql").read_text())
    conn.close()


def _version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    finally:
        conn.close()


def test_migrations_are_ordered_and_counted():
    assert SCHEMA_VERSION == len(MIGRATIONS) == 3
    assert all(callable(step) and description for description, step in MIGRATIONS)


def test_v1_store_migrates_and_reads_back(tmp_path):
    path = tmp_path / "old.db"
    _make_v1(path)
    assert _version(path) == 1
    with Store.open(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        run = s.get_run(V1_RUN[:6])
        # fields that existed in v1 come back unchanged
        assert (run.status, run.kind, run.workload, run.label) == ("complete", "measured", "bert-base-squad", "v1 run")
        assert run.spec == SPEC and run.summary["metrics"]["energy_total_j"]["mean"] == 100.0
        # columns added by migration 2 get their defaults: no owner, repetitions complete
        assert run.pid is None and run.hostname is None
        assert [r.status for r in run.repetitions] == ["complete"]
        assert run.repetitions[0].series == []  # table added by migration 3
        trace = s.load_trace(V1_RUN, 0)
        assert trace.t_s.tolist() == [0.5 * i for i in range(12)]
        assert np.isnan(trace.channels["VDD_GPU_SOC"][7])
        assert trace.channels["VIN_SYS_5V0"][0] == 4.536  # 4536 mW in the recorded log
        assert s.load_latencies(V1_RUN, 0).tolist() == [0.01, 0.012, 0.015, 0.02]
        # and the migrated store takes new runs with everything v3 has
        rid = add_complete_run(s, reps=1)
        assert s.get_run(rid).repetitions[0].series == ["ttft_s"]
        assert s.integrity_check() == []
        assert [m["version"] for m in s.info()["migrations"]] == [1, 2, 3]
    assert _version(path) == SCHEMA_VERSION


def test_readonly_open_migrates_in_memory_only(tmp_path):
    path = tmp_path / "old.db"
    _make_v1(path)
    before = path.read_bytes()
    with Store.open_readonly(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.get_run(V1_RUN).repetitions[0].status == "complete"
    assert _version(path) == 1 and path.read_bytes() == before


def test_partial_migration_resumes(tmp_path):
    # a store left at version 2 (e.g. by an older inferlca) continues from there
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn, wal=True)
    assert schema.migrate(conn, target=2) == [1, 2]
    assert schema.migrate(conn, target=2) == []
    conn.close()
    assert _version(path) == 2
    with Store.open(path) as s:
        assert s.schema_version == 3


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "new.db"
    with Store.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', '2030-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer inferlca .*v99") as e:
        Store.open(path)
    assert e.value.exit_code == 2


def test_foreign_and_garbage_files_are_refused(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an inferlca results store"):
        Store.open(other)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError, match="not an inferlca results store"):
        Store.open(garbage)
    assert garbage.read_text().startswith("these are my notes")  # left untouched
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)
