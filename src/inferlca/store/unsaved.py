"""Unsaved repetitions: the guarantee that a measured repetition is never lost.

When the store refuses to write a repetition (disk full, file turned read-only, locked too long,
I/O error), ``Store.add_repetition`` writes it, with the header of its run, as one self-contained
JSON file in ``<store>.unsaved/`` (or the temporary folder when even that fails) and says so in
its error. ``Store.import_unsaved`` (``inferlca store import-unsaved``) adds the files back into
a store, this one or another (:func:`read_unsaved`), and removes each file once its repetition is
stored.

Floats are written exactly (``json`` writes ``repr``), ``NaN`` gaps as ``NaN``; the trace is in
the form of :func:`inferlca.traces.io.trace_to_json`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InputFileError, UsageError
from inferlca.store.rows import dumps
from inferlca.traces.io import trace_from_json, trace_to_json

FORMAT = "inferlca-unsaved-repetition"


def unsaved_dir(store_path: Path | None) -> Path:
    """``<store>.unsaved/`` next to a store file (a temporary folder for an in-memory store)."""
    if store_path is not None:
        return Path(str(store_path) + ".unsaved")
    return Path(tempfile.gettempdir()) / "inferlca.unsaved"


def _floats(values: Any) -> list[float]:
    return np.asarray(values, dtype=np.float64).ravel().tolist()


def save_unsaved(store_path: Path | None, run: dict[str, Any] | None, run_id: str, index: int,
                 **rep: Any) -> Path | None:
    """Write one repetition (the keyword arguments of ``add_repetition``) and the header of its
    run as a JSON file in :func:`unsaved_dir`, else in the temporary folder; return its path, or
    ``None`` when no folder would take it."""
    trace = rep.pop("trace", None)
    doc: dict[str, Any] = {"format": FORMAT, "version": 1, "run_id": run_id, "index": index, **rep}
    if run is not None:
        doc["run"] = run
    if trace is not None:
        doc["trace"] = trace_to_json(trace)
    if doc.get("latencies_s") is not None:
        doc["latencies_s"] = _floats(doc["latencies_s"])
    if doc.get("extra_series"):
        doc["extra_series"] = {k: _floats(v) for k, v in doc["extra_series"].items()}
    text = dumps(doc)
    for folder in (unsaved_dir(store_path), unsaved_dir(None)):
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


@dataclass(frozen=True)
class SavedRepetition:
    """One file of :func:`save_unsaved`, read back: ``fields`` are the keyword arguments of
    ``add_repetition`` (the trace a :class:`PowerTrace` again), ``run`` the run's header."""

    path: Path
    run_id: str
    index: int
    run: dict[str, Any]
    fields: dict[str, Any]


#: The largest saved-repetition file read (a long trace at 10 ms is a few tens of MB).
MAX_FILE_BYTES = 1024**3


def _read(path: Path) -> SavedRepetition:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            raise InputFileError(path, "not a saved repetition (not a regular file, or over "
                                       f"{MAX_FILE_BYTES:,} bytes)")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputFileError(path, f"not a saved repetition ({str(exc)[:100]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputFileError(path, f"not a saved repetition (no {FORMAT} format)")
    try:
        fields = {"metrics": doc["metrics"], "impact": doc.get("impact"),
                  "trace": trace_from_json(doc["trace"]) if doc.get("trace") else None,
                  "latencies_s": doc.get("latencies_s"), "loadgen": doc.get("loadgen"),
                  "extra_series": doc.get("extra_series"), "status": doc.get("status")}
        run = doc.get("run") or {}
        if not isinstance(run, dict) or not isinstance(fields["metrics"], dict):
            raise TypeError("the run header and the metrics must be mappings")
        index = doc["index"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"index {index!r} is not an integer >= 0")
        return SavedRepetition(path, str(doc["run_id"]), index, run, fields)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise InputFileError(path, f"a damaged saved repetition ({type(exc).__name__}: "
                                   f"{str(exc)[:100]})") from None


def read_unsaved(folder: str | os.PathLike[str]) -> list[SavedRepetition]:
    """The repetitions saved in ``folder``, in file name order.

    Raises:
        UsageError: ``folder`` is not a folder.
        InputFileError: a file that is not a saved repetition.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of unsaved repetitions")
    files = sorted(folder.glob("*-rep*.json"))
    if not files and any(folder.iterdir()):
        raise UsageError(f"{folder} holds no saved repetitions (files named RUN-repN.json); "
                         f"give the folder named in the error, <store>.unsaved")
    return [_read(path) for path in files]
