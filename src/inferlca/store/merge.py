"""Merging stores: copy into one store the runs of another that it lacks (keyed by run id).

A run already present is skipped, unless the other copy is further along (``complete`` there,
``running`` or ``incomplete`` here, or more repetitions): then it replaces this one. Merging the
same store twice changes nothing the second time. Rows are copied table by table with the
columns of the source, so nothing is decoded and re-encoded on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferlca.errors import UsageError
from inferlca.store.records import RunRecord
from inferlca.store.schema import TABLES

if TYPE_CHECKING:
    from inferlca.store.sqlite import Store

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


def _further_along(theirs: RunRecord, mine: RunRecord) -> bool:
    return (_STATUS_RANK.get(theirs.status, 0), len(theirs.repetitions)) > \
        (_STATUS_RANK.get(mine.status, 0), len(mine.repetitions))


def _copy_run(dest: Store, src: Store, run_id: str, replace: bool) -> None:
    """Copy every row of one run, in one transaction (replacing the copy in ``dest``)."""
    with dest._write(f"merge run {run_id}") as c:
        if replace:
            c.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        for table in TABLES:
            cols = [r[1] for r in src._conn.execute(f"PRAGMA table_info({table})")]
            col_list = ", ".join(cols)
            rows = src._conn.execute(f"SELECT {col_list} FROM {table} WHERE run_id = ?",
                                     (run_id,)).fetchall()
            if rows:
                c.executemany(f"INSERT INTO {table} ({col_list}) VALUES "
                              f"({', '.join('?' for _ in cols)})", rows)


def merge_into(dest: Store, src: Store) -> MergeResult:
    """Copy the runs of ``src`` that ``dest`` lacks, or holds less far along (see module doc)."""
    if src.path is not None and dest.path is not None and src.path.exists() \
            and dest.path.exists() and src.path.resolve() == dest.path.resolve():
        raise UsageError(f"cannot merge the store {dest.path} into itself")
    result = MergeResult(source=str(src.path) if src.path else ":memory:")
    for run in src.list_runs():
        present = dest.has_run(run.run_id)
        if present and not _further_along(run, dest.get_run(run.run_id)):
            result.skipped.append(run.run_id)
            continue
        _copy_run(dest, src, run.run_id, replace=present)
        (result.updated if present else result.added).append(run.run_id)
    return result
