"""NVIDIA Jetson power through ``tegrastats``: a parser for its lines and a live meter.

Formats handled (see tests/fixtures/power-logs for recorded examples):

* L4T r32 (Nano, TX1, TX2, Xavier): rails without units, ``POM_5V_IN 920/920``, ``GPU 463/463``;
  no timestamp prefix.
* L4T r35/r36 (Xavier on JetPack 5, Orin): ``MM-DD-YYYY hh:mm:ss`` prefix, rails in mW,
  ``VDD_GPU_SOC 2801mW/2801mW``.
* Rails are ``NAME current/average``; unitless values are milliwatts (NVIDIA's documentation of
  tegrastats). Only the current value is kept (the average is tegrastats' running mean).
* L4T r39 (JetPack 7.2) prints three values per rail, ``VDD_GPU_SOC 2792mW/2792mW/2792mW``
  (current/average/maximum), and temperatures as ``cpu@43.093C/43.093C``; the current value is kept.
* Rails printed with a current value only (``VDD_IN 5012mW``) are read when they carry the ``mW``
  unit (a bare number without unit or ``/``, like ``APE 245``, is not a rail).
* Lines without any rail (``tegrastats`` run without the INA3221 exposed) parse with no power:
  nothing is invented; importing such a log is an error that says so.

Every rail is its own channel. Two derived channels, chosen so nothing is counted twice:

* ``module``: the module's input rail when the board has one (``VDD_IN`` on Orin NX/Nano, Xavier NX,
  TX1/TX2; ``POM_5V_IN`` on Nano), whose sub-rails are *inside* it and are not added; otherwise
  (AGX Xavier, AGX Orin: the monitors see separate supplies and no input rail) the sum of all
  rails. The carrier board is never included. This is the primary channel.
* ``gpu``: the rail carrying the GPU (``VDD_GPU_SOC`` on AGX Orin includes the SOC; ``GPU`` on AGX
  Xavier; ``VDD_CPU_GPU_CV`` on Orin NX/Nano and Xavier NX includes CPU and CV). The rule used is
  stored in the trace's meta.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from inferlca.errors import InputFileError, InvalidValueError, MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading, stop_process

_STAMP = re.compile(r"^(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ")
#: ``NAME cur[unit]`` then up to two more ``/value[unit]`` (average; JetPack 7.2 adds the maximum)
_RAIL = re.compile(r"(?<![\w@])([A-Z][A-Z0-9_]*) (\d+)(m[WV])?((?:/\d+(?:m[WV])?){0,2})(?=\s|$)")
#: something that looks like a power field, used to tell "no rails" from "rails we cannot read"
_POWER_LIKE = re.compile(r"\b[A-Z][A-Z0-9_]* \d+mW")
_NOT_RAILS = {"RAM", "SWAP", "IRAM"}
INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
GPU_RAILS = (
    ("VDD_GPU_SOC", "GPU and SOC rail (AGX Orin)"),
    ("GPU", "GPU rail (AGX Xavier)"),
    ("VDD_GPU", "GPU rail"),
    ("VDD_SYS_GPU", "GPU rail (TX2)"),
    ("POM_5V_GPU", "GPU rail (Nano)"),
    ("VDD_CPU_GPU_CV", "CPU+GPU+CV rail (Orin NX/Nano, Xavier NX): includes the CPU"),
)


@dataclass
class TegraLine:
    """One parsed tegrastats line: wall-clock stamp (if any) and current power per rail in W."""

    line_no: int
    stamp: datetime | None
    rails_w: dict[str, float]


def is_tegrastats_line(text: str) -> bool:
    """True for a data line (``RAM x/yMB ... CPU [...]``), optionally after a timestamp."""
    body = _STAMP.sub("", text, count=1).lstrip()
    return body.startswith("RAM ") and " CPU [" in body


def parse_line(text: str, line_no: int = 0) -> TegraLine:
    """Parse one tegrastats line; rails in watts (current value).

    Raises:
        ValueError: not a tegrastats data line.
    """
    if not is_tegrastats_line(text):
        raise ValueError("not a tegrastats line (expected 'RAM .../...MB ... CPU [...]')")
    stamp = None
    m = _STAMP.match(text)
    if m:
        mo, d, y, hh, mi, ss = (int(g) for g in m.groups())
        stamp = datetime(y, mo, d, hh, mi, ss)
    rails: dict[str, float] = {}
    for name, cur, unit, rest in _RAIL.findall(text):
        if name in _NOT_RAILS or (unit and unit != "mW"):
            continue
        if not rest and unit != "mW":  # a bare number without '/' is not a rail ("APE 245")
            continue
        rails[name] = int(cur) / 1000.0
    return TegraLine(line_no, stamp, rails)


def has_unreadable_power(text: str) -> bool:
    """True when a line without readable rails still shows power-like fields (a format change)."""
    return bool(_POWER_LIKE.search(text))


def derived_rules(rails: list[str]) -> dict[str, Any]:
    """The non double-counting choice of ``module`` and ``gpu`` for a set of rail names."""
    rules: dict[str, Any] = {}
    inputs = [r for r in INPUT_RAILS if r in rails]
    if inputs:
        rules["module"] = [inputs[0]]
        rules["module_rule"] = f"{inputs[0]} (module input rail; the other rails are inside it)"
    elif rails:
        rules["module"] = list(rails)
        rules["module_rule"] = "sum of all rails (separate supplies, no input rail on this module)"
    for name, note in GPU_RAILS:
        if name in rails:
            rules["gpu"] = name
            rules["gpu_rule"] = f"{name}: {note}"
            break
    return rules


def derive(rails_w: dict[str, float], rules: dict[str, Any]) -> dict[str, float]:
    out = dict(rails_w)
    if "module" in rules:
        parts = [rails_w.get(r, math.nan) for r in rules["module"]]
        out["module"] = math.fsum(parts) if not any(math.isnan(p) for p in parts) else math.nan
    if "gpu" in rules:
        out["gpu"] = rails_w.get(rules["gpu"], math.nan)
    return out


@dataclass
class TegraLog:
    """A parsed tegrastats log: data lines, their rails, and the lines skipped as header."""

    lines: list[TegraLine]
    rails: list[str]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def parse_log(text: str, path: object = "<tegrastats>") -> TegraLog:
    """Parse a whole log. Header lines before the first data line (a ``date`` line in any locale, a
    shell prompt, a sudo prompt) are skipped and reported; blank lines are ignored.

    Raises:
        InputFileError: no data line, a non-tegrastats line among the data, or a line whose rails
            differ from the first line's (a truncated or mixed log), with its line number.
    """
    lines: list[TegraLine] = []
    skipped: list[tuple[int, str]] = []
    rails: list[str] | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if not is_tegrastats_line(s):
            if not lines:
                skipped.append((no, s[:80]))
                continue
            raise InputFileError(path, f"not a tegrastats line: {s[:60]!r}", line=no)
        tl = parse_line(s, no)
        if rails is None:
            rails = list(tl.rails_w)
        elif list(tl.rails_w) != rails:
            missing = [r for r in rails if r not in tl.rails_w]
            raise InputFileError(
                path,
                f"truncated or inconsistent tegrastats line: rails {list(tl.rails_w)} "
                f"differ from the first line's {rails}"
                + (f" (missing {missing})" if missing else ""),
                line=no,
            )
        lines.append(tl)
    if not lines:
        raise InputFileError(
            path,
            "no tegrastats data line found (expected lines like "
            "'RAM 936/3964MB ... CPU [...] ... VDD_IN 5542mW/5542mW')",
        )
    return TegraLog(lines, rails or [], skipped)


def line_times_s(log: TegraLog, interval_s: float | None) -> tuple[list[float], float, str]:
    """Seconds since the first line for each line, and the interval used, and how it was found.

    Stamps have a 1 s resolution. With stamps, each line is placed one interval after the previous
    one, kept inside its stamp's second (so lost lines and clock jumps re-synchronise); the interval
    is the one given, else the stamps' span over the line count. Without stamps: index x interval
    (default 1 s, tegrastats' default).
    """
    n = len(log.lines)
    stamps = [ln.stamp for ln in log.lines]
    if interval_s is not None and (not math.isfinite(interval_s) or interval_s <= 0):
        raise InvalidValueError(f"tegrastats interval must be > 0 s, got {interval_s}")
    if all(s is not None for s in stamps) and n > 1:
        sec = [(s - stamps[0]).total_seconds() for s in stamps]  # type: ignore[operator]
        how = "given" if interval_s else "from the timestamps"
        if interval_s is None:
            interval_s = _interval_from_stamps(sec)
        t: list[float] = [0.0]
        for i in range(1, n):
            cand = t[-1] + interval_s
            lo, hi = sec[i], sec[i] + 1.0 - 1e-6
            t.append(max(t[-1], min(max(cand, lo), hi)))
        return t, interval_s, how
    if interval_s is None:
        return (
            [float(i) for i in range(n)],
            1.0,
            "assumed 1 s (tegrastats default; give --interval-ms)",
        )
    return [i * interval_s for i in range(n)], interval_s, "given"


def _interval_from_stamps(sec: list[float]) -> float:
    """Logging interval from 1 s-resolution stamps: 1 / (median lines per whole second) when
    several lines share a second (first and last seconds are partial and left out), else the
    median step between distinct stamps."""
    from collections import Counter
    from statistics import median

    counts = Counter(sec)
    full = [c for s, c in counts.items() if s not in (sec[0], sec[-1])] or list(counts.values())
    per_s = median(full)
    if per_s > 1:
        return 1.0 / per_s
    distinct = sorted(counts)
    steps = [b - a for a, b in pairwise(distinct)]
    return float(median(steps)) if steps else 1.0


class TegrastatsMeter(PowerMeter):
    """Live Jetson rails from a ``tegrastats --interval MS`` subprocess (argument list, no shell).

    ``read()`` returns the latest line's rails; the sampler's period should not be shorter than the
    tegrastats interval (faster reads only repeat the value; diagnostics flag it).
    """

    name = "tegrastats"
    estimated = False
    description = (
        "NVIDIA Jetson rails via tegrastats (module and GPU totals without double counting)"
    )
    scope = "accelerator"
    rail_family = "jetson-ina3221"

    def __init__(
        self,
        interval_ms: int = 50,
        command: str | os.PathLike[str] | None = None,
        first_line_timeout_s: float = 5.0,
        **_: Any,
    ) -> None:
        super().__init__()
        exe = str(command) if command else shutil.which("tegrastats") or "/usr/bin/tegrastats"
        if not os.path.exists(exe):
            raise MeterUnavailableError(f"tegrastats not found at {exe}")
        if not isinstance(interval_ms, int) or interval_ms < 1:
            raise InvalidValueError(
                f"tegrastats interval must be an integer >= 1 ms, got {interval_ms!r}"
            )
        self.interval_ms = interval_ms
        self._proc = subprocess.Popen(
            [exe, "--interval", str(interval_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._latest: dict[str, float] | None = None
        self._first_raw = ""
        self._rails: list[str] = []
        self.rules: dict[str, Any] = {}
        self._lines = 0
        self._error: str | None = None
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._pump, name="inferlca-tegrastats", daemon=True)
        self._reader.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._latest is not None or self._error is not None,
                timeout=first_line_timeout_s,
            )
        if self._latest is None:
            self.close()
            raise MeterUnavailableError(
                f"tegrastats gave no data line within {first_line_timeout_s:g} s"
                + (f" ({self._error})" if self._error else "")
            )
        if not self._rails and has_unreadable_power(self._first_raw):
            self.close()
            raise MeterUnavailableError(
                "tegrastats prints power fields in a form not understood: "
                f"{self._first_raw[-80:]!r} (please report this line)"
            )
        if not self._rails:
            self.close()
            raise MeterUnavailableError(
                "tegrastats reports no power rails here (INA3221 not exposed; "
                "try running it with sudo)"
            )
        self.rules = derived_rules(self._rails)
        self.channels = list(self._rails) + [c for c in ("module", "gpu") if c in self.rules]
        self.primary = "module"

    @classmethod
    def probe(cls, command: str | os.PathLike[str] | None = None, **_: Any) -> tuple[bool, str]:
        exe = str(command) if command else shutil.which("tegrastats") or "/usr/bin/tegrastats"
        if not os.path.exists(exe):
            return (
                False,
                "tegrastats not found: not an NVIDIA Jetson (or the L4T tools are not installed)",
            )
        if not os.access(exe, os.X_OK):
            return False, f"{exe} is not executable by this user"
        return True, f"Jetson tegrastats at {exe}"

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            s = raw.strip()
            if not is_tegrastats_line(s):
                continue
            tl = parse_line(s)
            with self._cond:
                if self._latest is None:
                    self._rails = list(tl.rails_w)
                    self._first_raw = s
                self._latest = tl.rails_w
                self._lines += 1
                self._cond.notify_all()
        with self._cond:
            self._error = f"tegrastats exited with code {self._proc.wait()}"
            self._cond.notify_all()

    def read(self) -> Reading:
        with self._cond:
            latest, error = self._latest, self._error
        if error is not None or latest is None:
            return Reading.failed(self.channels, error or "no tegrastats line yet")
        return Reading(derive(latest, self.rules))

    def meta(self) -> dict[str, Any]:
        return {
            "rails": list(self._rails),
            **{k: v for k, v in self.rules.items()},
            "sensor_update_s": self.interval_ms / 1000.0,
            "tegrastats_lines": self._lines,
            "device_name": "NVIDIA Jetson",
        }

    def close(self) -> None:
        stop_process(getattr(self, "_proc", None))

