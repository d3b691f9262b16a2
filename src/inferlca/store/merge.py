"""Merging stores: copy into one store the runs of another that it lacks (keyed by run id).

A run already present is skipped, unless the other copy is further along (``complete`` there,
``running`` or ``incomplete`` here, or more repetitions): then it replaces this one. Merging the
same store twice changes nothing the second time. Rows are copied table by table with the
columns of the source, so nothing is decoded and re-encoded on the way.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import UsageError
from inferlca.store.records import RunRecord
from inferlca.store.schema import TABLES

_STATUS_RANK = {"running": 0, "failed": 1, "incomplete": 2, "complete": 3}


@dataclass
class MergeResult:
    """What ``Store.merge`` did: run ids added, replaced by a more complete copy, or skipped."""

    source: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "added": self.added, "updated": self.updated,
                "skipped": self.skipped}


def further_along(theirs: RunRecord, mine: RunRecord) -> bool:
    """Whether the other store's copy of a run should replace this one."""
    return (_STATUS_RANK.get(theirs.status, 0), len(theirs.repetitions)) > \
        (_STATUS_RANK.get(mine.status, 0), len(mine.repetitions))


def check_not_itself(dest: Path | None, src: Path | None) -> None:
    """Refuse to merge a store file into itself."""
    if src is not None and dest is not None and src.exists() and dest.exists() \
            and src.resolve() == dest.resolve():
        raise UsageError(f"cannot merge the store {dest} into itself")


def copy_run(dest: sqlite3.Connection, src: sqlite3.Connection, run_id: str, replace: bool) -> None:
    """Copy every row of one run inside the caller's write transaction on ``dest`` (deleting the
    copy there first with ``replace``)."""
    if replace:
        dest.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
    for table in TABLES:
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        col_list = ", ".join(cols)
        rows = src.execute(f"SELECT {col_list} FROM {table} WHERE run_id = ?",
                           (run_id,)).fetchall()
        if rows:
            dest.executemany(f"INSERT INTO {table} ({col_list}) VALUES "
                             f"({', '.join('?' for _ in cols)})", rows)
