"""Unsaved repetitions: the guarantee that a measured repetition is never lost.

When the store refuses to write a repetition (disk full, file turned read-only, locked too long,
I/O error), ``Store.add_repetition`` writes it, with the header of its run, as one self-contained
JSON file in ``<store>.unsaved/`` (or the temporary folder when even that fails) and says so in
its error. :func:`import_unsaved` (``inferlca store import-unsaved``) adds the files back into a
store, this one or another, and removes each file once its repetition is stored.

Floats are written exactly (``json`` writes ``repr``), ``NaN`` gaps as ``NaN``; the trace is in
the form of :func:`inferlca.traces.io.trace_to_json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InputFileError, UsageError
from inferlca.store.rows import dumps
from inferlca.traces.io import trace_from_json, trace_to_json

if TYPE_CHECKING:
    from inferlca.store.sqlite import Store

FORMAT = "inferlca-unsaved-repetition"


def unsaved_dir(store_path: Path | None) -> Path:
    """``<store>.unsaved/`` next to a store file (a temporary folder for an in-memory store)."""
    if store_path is not None:
        return Path(str(store_path) + ".unsaved")
    return Path(tempfile.gettempdir()) / "inferlca.unsaved"


def _floats(values: Any) -> list[float]:
    return np.asarray(values, dtype=np.float64).ravel().tolist()


def save_unsaved(store: Store, run_id: str, index: int, **rep: Any) -> Path | None:
    """Write one repetition (the keyword arguments of ``add_repetition``) as a JSON file; return
    its path, or ``None`` when no folder would take it."""
    trace = rep.pop("trace", None)
    doc: dict[str, Any] = {"format": FORMAT, "version": 1, "run_id": run_id, "index": index, **rep}
    with contextlib.suppress(Exception):
        doc["run"] = store.get_run(run_id).to_dict(repetitions=False)
    if trace is not None:
        doc["trace"] = trace_to_json(trace)
    if doc.get("latencies_s") is not None:
        doc["latencies_s"] = _floats(doc["latencies_s"])
    if doc.get("extra_series"):
        doc["extra_series"] = {k: _floats(v) for k, v in doc["extra_series"].items()}
    text = dumps(doc)
    for folder in (unsaved_dir(store.path), unsaved_dir(None)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{run_id}-rep{index}.json"
            tmp = target.with_suffix(".json.part")
            tmp.write_text(text)
            os.replace(tmp, target)  # never a half-written file under the final name
            return target
        except OSError:
            continue
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"not a saved repetition ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputFileError(path, f"not a saved repetition (no {FORMAT} format)")
    return doc


def _ensure_run(store: Store, run_id: str, run: dict[str, Any]) -> None:
    """Create the run of a saved repetition from the header saved with it, when it is missing."""
    if store.has_run(run_id):
        return
    store.create_run(run.get("spec") or {}, kind=run.get("kind", "measured"),
                     device_id=run.get("device_id"), device_name=run.get("device_name"),
                     meter=run.get("meter"), estimated=bool(run.get("estimated")),
                     environment=run.get("environment") or {}, label=run.get("label"),
                     run_id=run_id)


def import_unsaved(store: Store, folder: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """Store the repetitions saved in ``folder``; each file is removed once its repetition is in
    the store (one already there is not stored twice). Returns ``[(run_id, index)]`` imported."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of unsaved repetitions")
    done: list[tuple[str, int]] = []
    for path in sorted(folder.glob("*-rep*.json")):
        doc = _read(path)
        run_id, index = str(doc["run_id"]), int(doc["index"])
        _ensure_run(store, run_id, doc.get("run") or {})
        if not store.has_repetition(run_id, index):
            trace = trace_from_json(doc["trace"]) if doc.get("trace") else None
            store.add_repetition(run_id, index, metrics=doc["metrics"], impact=doc.get("impact"),
                                 trace=trace, latencies_s=doc.get("latencies_s"),
                                 loadgen=doc.get("loadgen"), extra_series=doc.get("extra_series"),
                                 status=doc.get("status"))
            done.append((run_id, index))
        path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
    return done
