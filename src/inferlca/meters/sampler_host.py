"""The sampler process and its ring, kept for a whole run: :class:`SamplerProcess`.

One :class:`SamplerProcess` starts the sampler process (:mod:`inferlca.meters.sampler_child`)
once, copies its readings out of the shared-memory ring into this process (about once a second,
from a thread that otherwise sleeps) and answers windows: :meth:`SamplerProcess.sample_now` asks
the process for one sample at once and says its row number, so that a measured window (one
repetition: :class:`~inferlca.meters.sampler_process.ProcessSampler`) starts and ends on a
sample of its own, against the same ``CLOCK_MONOTONIC`` as the caller's phase marks. Between
windows the process keeps sampling on its grid; rows before the current window are let go.

Rows are numbered as the process numbers them (0, 1, ...); rows overwritten in the ring before
they were copied are counted as holes ``(first row, rows lost)``, never silently lost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import numpy as np

from inferlca.meters.base import PowerMeter


class SamplerProcess:
    """The sampler process of ``meter`` at ``period_s``; see the module.

    Args as :class:`~inferlca.meters.sampler_process.ProcessSampler` (priority, cpu, capacity,
    start_timeout_s). Nothing starts until :meth:`start`.
    """

    def __init__(self, meter: PowerMeter, period_s: float, priority: str = "nice",
                 cpu: int | None = None, capacity: int = 4096,
                 start_timeout_s: float = 30.0) -> None:
        self.meter = meter
        self.period_s = float(period_s)
        self.priority = priority
        self.cpu = cpu
        self.capacity = int(capacity)
        self.start_timeout_s = float(start_timeout_s)
        self.proc: Any = None
        self.died: str | None = None  # why the process is gone, once it is
        self.starts = 0  # processes started (more than one: restarted after a death)
        self._shm: Any = None
        self._header: np.ndarray | None = None
        self._rows: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = 0  # row number of the first row held in _data
        self._data: list[np.ndarray] = []  # copied rows from _first on, in order, holes removed
        self._numbers: list[np.ndarray] = []  # their row numbers
        self._n_copied = 0  # rows copied out (or lost) so far
        self.holes: list[tuple[int, int]] = []  # (first row lost, rows lost)
        self._messages_path: str | None = None
        self._stderr: Any = None
        self.facts: dict[str, Any] = {}

    # ---- life cycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.died is None and self.proc.poll() is None

    def start(self) -> str | None:
        """Start the process and wait for its first sample (row 0); a reason when it cannot."""
        self.close()
        self.died = None
        self._stop.clear()
        self._first = self._n_copied = 0
        self._data, self._numbers, self.holes = [], [], []
        try:
            reason = self._spawn()
        except BaseException:  # Ctrl-C while the process starts: leave nothing behind
            self._abandon()
            raise
        if reason is not None:
            self._abandon()
            return reason
        self.starts += 1
        self._thread = threading.Thread(target=self._copy_loop, name="inferlca-ring-reader",
                                        daemon=True)
        self._thread.start()
        return None

    def close(self) -> None:
        """Ask for a last sample, wait for the process to leave, copy what is left, free the
        ring (idempotent). A process that does not stop is killed and recorded in ``died``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.proc is not None and self._header is not None:
            self._finish()
            self.copy_out()
        self._cleanup()

    def _abandon(self) -> None:
        """Kill a process that is still starting and free its ring."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._cleanup()

    def _finish(self) -> None:
        from inferlca.meters import sampler_child as child

        assert self._header is not None and self.proc is not None
        if self.proc.poll() is None:
            self._header[child.H_STATE] = child.STOP
            try:
                self.proc.wait(timeout=max(5.0, 3 * self.period_s))
            except Exception:  # noqa: BLE001 - TimeoutExpired: a stuck read
                self.proc.kill()
                self.proc.wait()
                self.died = self.died or ("the sampler process did not stop (a meter read "
                                          "hung?) and was killed")
                return
        if self.died is None and (self.proc.returncode != 0
                                  or self._header[child.H_STATE] != child.DONE):
            self.died = self._death()

    def _death(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code is None:
            return "the sampler process died during the run"
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        tail = self.stderr_tail()
        return f"the sampler process died ({how}){': ' + tail if tail else ''}"

    # ---- windows ----------------------------------------------------------------------------
    def sample_now(self) -> int | None:
        """Ask for one sample at once; its row number once copied out, or None when the process
        has died (``died`` says how) or does not answer."""
        from inferlca.meters import sampler_child as child

        header = self._header
        if header is None or not self.running:
            self._note_death()
            return None
        answered = int(header[child.H_ACK])  # one request at a time: a new answer is ours
        header[child.H_REQ] = int(header[child.H_REQ]) + 1
        deadline = time.monotonic() + max(5.0, 3 * self.period_s)
        while int(header[child.H_ACK]) == answered:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._note_death()
                return None
            time.sleep(0.0002)
        row = int(header[child.H_ACK]) - 1
        self.copy_out()
        return row

    def _note_death(self) -> None:
        if self.died is None and self.proc is not None:
            if self.proc.poll() is None:  # alive but deaf: a read that hangs
                with contextlib.suppress(Exception):
                    self.proc.kill()
                    self.proc.wait(timeout=5)
                self.died = "the sampler process stopped answering (a meter read hung?) and " \
                            "was killed"
            else:
                self.died = self._death()

    def header_value(self, slot: int) -> int:
        """A header slot of the ring (0 once the ring is freed)."""
        return 0 if self._header is None else int(self._header[slot])

    def rows(self, first: int, last: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(row numbers, rows)`` copied out with numbers in ``[first, last]`` (to the newest
        when ``last`` is None)."""
        self.copy_out()
        with self._lock:
            if not self._data:
                return np.empty(0, dtype=np.int64), np.empty((0, 0))
            numbers = np.concatenate(self._numbers)
            data = np.concatenate(self._data)
        keep = (numbers >= first) & (numbers <= (numbers[-1] if last is None else last))
        return numbers[keep], data[keep]

    def let_go_before(self, row: int) -> None:
        """Forget the rows before ``row`` (a window starts there; nobody reads them again)."""
        with self._lock:
            if not self._data:
                return
            numbers, data = np.concatenate(self._numbers), np.concatenate(self._data)
            keep = numbers >= row
            self._numbers, self._data = [numbers[keep]], [data[keep]]
            self._first = row

    # ---- the ring ---------------------------------------------------------------------------
    def _spawn(self) -> str | None:
        """Start the process and wait for its first sample; a reason when it cannot."""
        import os
        import pickle
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        from inferlca.meters import sampler_child as child

        spec = getattr(self.meter, "open_spec", None)
        if spec is None:
            return (f"meter {self.meter.name!r} was not opened by open_meter, so it cannot be "
                    "opened again in another process")
        channels, counters = list(self.meter.channels), list(self.meter.counter_channels)
        try:
            from multiprocessing import shared_memory

            self._shm = shared_memory.SharedMemory(
                create=True, size=child.ring_bytes(self.capacity, len(channels), len(counters)))
        except (ImportError, OSError, ValueError) as exc:
            return f"no shared memory: {exc}"
        self._header, self._rows = child.ring_views(self._shm.buf, self.capacity, len(channels),
                                                    len(counters))
        self._header[:] = 0
        fd, self._messages_path = tempfile.mkstemp(prefix="inferlca-sampler-", suffix=".jsonl")
        os.close(fd)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _cleanup
        job = {"shm_name": self._shm.name, "capacity": self.capacity, "meter": spec[0],
               "options": spec[1], "channels": channels, "counters": counters,
               "period_s": self.period_s, "priority": self.priority, "cpu": self.cpu,
               "messages": self._messages_path}
        try:
            payload = pickle.dumps(job)
        except Exception as exc:  # noqa: BLE001 - an option that cannot cross processes
            return f"the meter's options cannot be sent to another process: {exc}"
        import inferlca

        src = str(Path(inferlca.__file__).resolve().parents[1])  # this very inferlca, not another
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "inferlca.meters.sampler_child"], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=self._stderr, env=env, close_fds=True)
            assert self.proc.stdin is not None
            self.proc.stdin.write(payload)
            self.proc.stdin.close()
        except OSError as exc:
            return f"cannot start the sampler process: {exc}"
        deadline = time.monotonic() + self.start_timeout_s
        while self._header[child.H_STATE] == child.STARTING:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        state = int(self._header[child.H_STATE])
        if state not in (child.RUNNING, child.STOP, child.DONE) or self._header[child.H_COUNT] < 1:
            why = self.child_says().get("fatal") or self.stderr_tail()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                why = why or f"no first sample within {self.start_timeout_s:g} s"
            return why or f"the sampler process exited with code {self.proc.returncode}"
        self.child_says()
        return None

    def _copy_loop(self) -> None:
        while not self._stop.wait(1.0):
            self.copy_out()

    def copy_out(self) -> None:
        """Copy the rows written since the last copy out of the ring (count what was lost)."""
        from inferlca.meters import sampler_child as child

        header, rows = self._header, self._rows
        if header is None or rows is None:
            return
        with self._lock:
            cap = self.capacity
            count = int(header[child.H_COUNT])
            if count <= self._n_copied:
                return
            first = self._n_copied
            if count - first > cap:  # overwritten before we got to them
                self.holes.append((first, count - cap - first))
                first = count - cap
            chunk = rows[np.arange(first, count) % cap].copy()
            # rows the writer overwrote while we copied are not to be trusted either
            late = min(int(header[child.H_COUNT]) - cap - first, chunk.shape[0])
            if late > 0:
                self.holes.append((first, late))
                chunk = chunk[late:]
                first += late
            if chunk.shape[0]:
                self._data.append(chunk)
                self._numbers.append(np.arange(first, count, dtype=np.int64))
            self._n_copied = count

    # ---- the child's words ------------------------------------------------------------------
    def child_says(self) -> dict[str, Any]:
        """Facts of the child's messages file (priority, cpu, fatal); error lists are separate."""
        import json

        facts: dict[str, Any] = {}
        for line in self._message_lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "row" not in obj:
                facts.update(obj)
        self.facts.update(facts)
        return facts

    def error_reasons(self) -> list[tuple[int, dict[str | None, str]]]:
        """``(row, reasons)`` each time the set of failed-read reasons changed."""
        import json

        out: list[tuple[int, dict[str | None, str]]] = []
        self.child_says()
        for line in self._message_lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "row" in obj:
                out.append((int(obj["row"]), {(None if k == "*" else k): v
                                              for k, v in obj["errors"].items()}))
        return out

    def _message_lines(self) -> list[str]:
        if self._messages_path is None:
            return []
        try:
            with open(self._messages_path, encoding="utf-8") as fh:
                return fh.read().splitlines()
        except OSError:
            return []

    def stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return lines[-1] if lines else ""

    def _cleanup(self) -> None:
        import os

        self._header = self._rows = None
        if self._shm is not None:
            with contextlib.suppress(Exception):
                self._shm.close()
            with contextlib.suppress(Exception):
                self._shm.unlink()
            self._shm = None
        if self._stderr is not None:
            with contextlib.suppress(Exception):
                self._stderr.close()
            self._stderr = None
        if self._messages_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._messages_path)
            self._messages_path = None
