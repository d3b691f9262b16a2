"""Apple Silicon power: ``powermetrics`` output (recorded files and a live subprocess under sudo)
and ``zeus-apple-silicon`` (IOReport energy counters, no sudo) when installed.

``powermetrics`` prints one block per sample::

    *** Sampled system activity (Sat Nov  8 15:54:21 2025 +0900) (5021.96ms elapsed) ***
    ...
    CPU Power: 954 mW
    GPU Power: 28 mW
    ANE Power: 0 mW
    Combined Power (CPU + GPU + ANE): 983 mW

Each value is the average over the block's elapsed time, so a block becomes two trace points (its
start and its end, same watts): the integral is exactly watts x elapsed. The first ``CPU``/``GPU``/
``ANE`` lines of a block are taken (the GPU section repeats ``GPU Power``). Channels ``cpu``,
``gpu``, ``ane`` and ``combined`` (the primary: the SoC's CPU+GPU+ANE, not the whole laptop);
Intel Macs print ``Intel energy model derived package power (CPUs+GT+SA): 48.61W``, read as
``package`` (host scope). ``mW`` and ``W`` are both accepted.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferlca.errors import InputFileError, MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading, stop_process
from inferlca.traces.trace import PowerTrace

_BLOCK = re.compile(r"^\*\*\* Sampled system activity \((.*?)\) \(([\d.]+)\s*ms elapsed\) \*\*\*")
_POWER = re.compile(
    r"^(CPU Power|GPU Power|ANE Power|Combined Power \(CPU \+ GPU \+ ANE\)|"
    r"Intel energy model derived package power \(CPUs\+GT\+SA\)):\s*([\d.]+)\s*(mW|W)\s*$"
)
_CHANNEL = {
    "CPU Power": "cpu",
    "GPU Power": "gpu",
    "ANE Power": "ane",
    "Combined Power (CPU + GPU + ANE)": "combined",
    "Intel energy model derived package power (CPUs+GT+SA)": "package",
}


@dataclass
class PmSample:
    """One powermetrics block: its stamp text, elapsed seconds and watts per channel."""

    stamp: str
    elapsed_s: float
    watts: dict[str, float] = field(default_factory=dict)


def parse_powermetrics(text: str, path: object = "<powermetrics>") -> list[PmSample]:
    """Every sample block with its powers.

    Raises:
        InputFileError: no sample block, or blocks without any power line (the samplers
            ``cpu_power``/``gpu_power`` were not recorded).
    """
    samples: list[PmSample] = []
    for line in text.splitlines():
        m = _BLOCK.match(line.strip())
        if m:
            samples.append(PmSample(m.group(1), float(m.group(2)) / 1000.0))
            continue
        p = _POWER.match(line.strip())
        if p and samples:
            ch = _CHANNEL[p.group(1)]
            value = float(p.group(2)) / (1000.0 if p.group(3) == "mW" else 1.0)
            samples[-1].watts.setdefault(ch, value)
    if not samples:
        raise InputFileError(
            path,
            "no powermetrics sample block ('*** Sampled system activity (...) (N ms elapsed) ***')",
        )
    if not any(s.watts for s in samples):
        raise InputFileError(
            path,
            "these powermetrics samples have no power lines: record with "
            "'sudo powermetrics --samplers cpu_power,gpu_power,ane_power -i 1000'",
        )
    return samples


def is_powermetrics(text: str) -> bool:
    return any(_BLOCK.match(ln.strip()) for ln in text.splitlines()[:40])


def powermetrics_trace(text: str, path: object = "<powermetrics>") -> PowerTrace:
    """A recorded powermetrics log as a trace (two points per block, see the module doc)."""
    samples = [s for s in parse_powermetrics(text, path) if s.watts]
    names = list(dict.fromkeys(c for s in samples for c in s.watts))
    t: list[float] = []
    cols: dict[str, list[float]] = {c: [] for c in names}
    start = 0.0
    for s in samples:
        for x in (start, start + s.elapsed_s):
            t.append(x)
            for c in names:
                cols[c].append(s.watts.get(c, math.nan))
        start += s.elapsed_s
    primary = "combined" if "combined" in names else ("package" if "package" in names else names[0])
    scopes = {c: ("host" if c == "package" else "accelerator") for c in names}
    from inferlca.traces.scope import scope_meta

    step = float(np.median([s.elapsed_s for s in samples]))
    return PowerTrace(
        t_s=np.asarray(t, dtype=float),
        channels={c: np.asarray(v, dtype=float) for c, v in cols.items()},
        primary=primary,
        meter="replay:powermetrics",
        period_requested_s=step,
        meta={
            "start_time": samples[0].stamp,
            "samples": len(samples),
            "sensor_update_s": step,
            "power_averaging_s": step,
            "power_note": "each powermetrics value is the average over its sample block",
            "device_name": "Apple Silicon" if primary == "combined" else "Intel Mac",
            **scope_meta(scopes, {scopes[primary]: primary}),
        },
    )


class PowermetricsMeter(PowerMeter):
    """Live ``powermetrics`` (macOS, root): ``sudo -n`` is used when not root (no prompt)."""

    name = "powermetrics"
    estimated = False
    description = "Apple Silicon SoC power via powermetrics (CPU, GPU, ANE; needs sudo)"
    scope = "accelerator"
    rail_family = "apple-soc"

    def __init__(
        self,
        interval_ms: int = 1000,
        command: str | os.PathLike[str] | None = None,
        first_sample_timeout_s: float | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        exe = str(command) if command else shutil.which("powermetrics") or "/usr/bin/powermetrics"
        args = [exe, "--samplers", "cpu_power,gpu_power,ane_power", "-i", str(int(interval_ms))]
        if command is None and hasattr(os, "geteuid") and os.geteuid() != 0:
            args = ["sudo", "-n", *args]
        self.interval_ms = int(interval_ms)
        self._proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self._latest: dict[str, float] | None = None
        self._error: str | None = None
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._pump, daemon=True, name="inferlca-pm")
        self._reader.start()
        timeout = first_sample_timeout_s or max(5.0, 3 * interval_ms / 1000.0)
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self._error is not None,
                                timeout=timeout)
        if self._latest is None:
            err = self._error or f"no sample within {timeout:g} s"
            self.close()
            raise MeterUnavailableError(
                f"powermetrics gave no power sample ({err}); it needs root: run with sudo, or "
                "allow 'sudo -n powermetrics' for this user"
            )
        self.channels = list(self._latest)
        self.primary = "combined" if "combined" in self.channels else self.channels[0]
        self.averaging_s = interval_ms / 1000.0

    @classmethod
    def probe(cls, command: str | os.PathLike[str] | None = None, **_: Any) -> tuple[bool, str]:
        if command is not None:
            return (os.access(str(command), os.X_OK), f"powermetrics command {command}")
        if sys.platform != "darwin":
            return False, "powermetrics is a macOS tool (this is not macOS)"
        exe = shutil.which("powermetrics")
        if exe is None:
            return False, "powermetrics not found"
        return True, f"{exe} (needs root: sudo)"

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        block: dict[str, float] = {}
        in_block = False
        for raw in self._proc.stdout:
            line = raw.strip()
            if _BLOCK.match(line):
                if in_block and block:
                    self._publish(block)
                block, in_block = {}, True
                continue
            p = _POWER.match(line)
            if p and in_block:
                ch = _CHANNEL[p.group(1)]
                block.setdefault(ch, float(p.group(2)) / (1000.0 if p.group(3) == "mW" else 1.0))
                if ch == "combined":  # the block's power section is complete
                    self._publish(block)
                    block, in_block = {}, False
        err = ""
        if self._proc.stderr is not None:
            err = self._proc.stderr.read().strip()[:200]
        with self._cond:
            self._error = f"powermetrics exited with code {self._proc.wait()}" + (
                f": {err}" if err else "")
            self._cond.notify_all()

    def _publish(self, block: dict[str, float]) -> None:
        with self._cond:
            self._latest = dict(block)
            self._cond.notify_all()

    def read(self) -> Reading:
        with self._cond:
            latest, error = self._latest, self._error
        if latest is None or error is not None:
            return Reading.failed(self.channels, error or "no powermetrics sample yet")
        return Reading({c: latest.get(c, math.nan) for c in self.channels})

    def meta(self) -> dict[str, Any]:
        return {
            "device_name": "Apple Silicon",
            "sensor_update_s": self.interval_ms / 1000.0,
            "power_averaging_s": self.interval_ms / 1000.0,
        }

    def close(self) -> None:
        stop_process(getattr(self, "_proc", None))


class ZeusAppleMeter(PowerMeter):
    """Apple Silicon energy counters through ``zeus-apple-silicon`` (IOReport, no sudo).

    The library measures windows: the meter keeps one window open and, at each read, closes it and
    opens the next; the energies (millijoules) add up to cumulative counters per channel.
    """

    name = "zeus-apple"
    estimated = False
    description = "Apple Silicon energy counters via zeus-apple-silicon (CPU, GPU, ANE, DRAM)"
    scope = "accelerator"
    rail_family = "apple-soc"
    _FIELDS = (("cpu", "cpu_total_mj"), ("gpu", "gpu_mj"), ("ane", "ane_mj"), ("dram", "dram_mj"))

    def __init__(self, zeus_apple: Any = None, **_: Any) -> None:
        super().__init__()
        lib = zeus_apple if zeus_apple is not None else _load_zeus()
        try:
            self._mon = lib.AppleEnergyMonitor()
        except Exception as exc:  # noqa: BLE001 - IOReport unavailable
            raise MeterUnavailableError(f"zeus-apple-silicon cannot start: {exc}") from None
        self._k = 0
        self._mon.begin_window(f"inferlca-{self._k}")
        self._t = time.monotonic()
        self._total = {c: 0.0 for c, _ in self._FIELDS}
        self.channels = [c for c, _ in self._FIELDS] + ["soc"]
        self.counter_channels = list(self.channels)
        self.primary = "soc"

    @classmethod
    def probe(cls, zeus_apple: Any = None, **_: Any) -> tuple[bool, str]:
        if zeus_apple is None:
            if sys.platform != "darwin":
                return False, "zeus-apple-silicon works on macOS only"
            try:
                _load_zeus()
            except ImportError:
                return False, "zeus-apple-silicon is not installed: pip install zeus-apple-silicon"
        return True, "zeus-apple-silicon (IOReport)"

    def read(self) -> Reading:
        try:
            m = self._mon.end_window(f"inferlca-{self._k}")
            self._k += 1
            self._mon.begin_window(f"inferlca-{self._k}")
        except Exception as exc:  # noqa: BLE001 - a failed read is a gap
            return Reading.failed(self.channels, f"zeus-apple-silicon: {exc}", self.counter_channels)
        now = time.monotonic()
        dt = now - self._t
        self._t = now
        power: dict[str, float] = {}
        for c, f in self._FIELDS:
            mj = getattr(m, f, None)
            j = float(mj) / 1000.0 if mj is not None else 0.0
            self._total[c] += j
            power[c] = j / dt if dt > 0 else math.nan
        energy = dict(self._total)
        # soc = CPU + GPU + ANE (DRAM is reported beside it, as RAPL's dram is beside the package)
        energy["soc"] = self._total["cpu"] + self._total["gpu"] + self._total["ane"]
        power["soc"] = power["cpu"] + power["gpu"] + power["ane"]
        return Reading(power, energy)

    def meta(self) -> dict[str, Any]:
        return {"device_name": "Apple Silicon", "primary_rule": "soc = cpu + gpu + ane"}


def _load_zeus() -> Any:
    import zeus_apple_silicon  # type: ignore[import-not-found]

    return zeus_apple_silicon
