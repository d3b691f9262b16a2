"""Modelled CPU meter: power from CPU utilisation, for machines with no power sensor.

Model (linear in utilisation, the usual first approximation of the SPECpower curves)::

    P(u) = P_max * (s + (1 - s) * u)

* ``u``: CPU utilisation over the interval since the previous read, from ``/proc/stat``
  (busy = user + nice + system + irq + softirq; idle, iowait and a VM's steal time are not busy;
  ``guest`` is already inside ``user``).
* ``P_max``: the CPU's TDP in watts when known (``--cpu-tdp`` or the hardware catalog); otherwise
  ``n_vcpu x`` the median maximum watts per vCPU of the Cloud Carbon Footprint coefficients.
* ``s``: the idle share, ``P(0) / P(1)``. Default: the median of ``min/max`` watts per vCPU over the
  micro-architectures of the Cloud Carbon Footprint coefficients (``data/cpu_power_model.csv``,
  SPECpower-derived): 0.201, range 0.158 (Skylake) to 0.317 (Haswell).
* Without a TDP, the CPU's own micro-architecture row when ``/proc/cpuinfo`` identifies it
  (:mod:`inferlca.meters.cpumodel`: Intel Sandy Bridge to Granite Rapids, AMD EPYC Zen to Zen 5):
  ``P_max = n_vcpu x`` its max W per vCPU (mean of the sources, their spread as the range), and
  its own ``s = min/max``.
* ``process_dynamic``: the measured process tree's own dynamic power,
  ``P_max (1 - s) x`` (its CPU seconds per second / CPUs), from ``/proc/<pid>/stat`` of the process
  (default: this one, whose children include a command run by ``inferlca measure``) and all its
  descendants; a busy neighbour process is not charged to it. Summaries give its energy as
  ``dynamic_energy_j`` beside the machine total (``cpu``).
* ``dram_gb``: an optional DRAM term, ``dram_gb x 0.392 W/GB`` (Cloud Carbon Footprint's memory
  coefficient, ``data/dram_power.csv``), as channel ``dram``; the primary is then ``host`` =
  ``cpu + dram``.

Every trace from this meter is flagged ``estimated``. ``/proc/stat`` counts in ticks of
``1/USER_HZ`` (10 ms on Linux), so at a 10 ms period single reads are coarse (each CPU is 0 or 1
busy tick); the energy of a window of many ticks is unaffected. When no tick elapsed since the
last read the previous utilisation is repeated.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from inferlca.errors import InvalidValueError, MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.cpumodel import CPUINFO, dram_w_per_gb, microarch_of, read_cpuinfo
from inferlca.meters.proctree import ProcessTree, spread_cpu

PROC_STAT = Path("/proc/stat")
#: the process tree's CPU time is re-read at most this often
TREE_REFRESH_S = 0.2


def _microarch(cpuinfo: str | os.PathLike[str]) -> dict[str, Any] | None:
    info = read_cpuinfo(cpuinfo)
    return microarch_of(info) if info is not None else None


@lru_cache(maxsize=1)
def power_model_coefficients() -> list[dict[str, Any]]:
    """Rows of ``data/cpu_power_model.csv`` (min/max W per vCPU, idle share, source)."""
    text = resources.files("inferlca.meters").joinpath("data/cpu_power_model.csv").read_text()
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append(
            {
                "microarchitecture": row["microarchitecture"],
                "min_w_per_vcpu": float(row["min_w_per_vcpu"]),
                "max_w_per_vcpu": float(row["max_w_per_vcpu"]),
                "idle_share": float(row["min_w_per_vcpu"]) / float(row["max_w_per_vcpu"]),
                "source": row["source"],
            }
        )
    return rows


def default_idle_share() -> tuple[float, float, float]:
    """(nominal, low, high) idle share from the coefficient table: median, min, max."""
    shares = [r["idle_share"] for r in power_model_coefficients()]
    return statistics.median(shares), min(shares), max(shares)


def default_max_w_per_vcpu() -> float:
    """Median maximum watts per vCPU of the coefficient table (used when the TDP is unknown)."""
    return statistics.median(r["max_w_per_vcpu"] for r in power_model_coefficients())


def read_proc_stat(path: Path = PROC_STAT) -> tuple[int, int, int]:
    """Return ``(busy_ticks, total_ticks, n_cpus)`` from a ``/proc/stat`` file.

    Raises:
        OSError: the file cannot be read.
        ValueError: the aggregate ``cpu`` line is missing or malformed.
    """
    with open(path, "rb") as fh:
        data = fh.read(8192)
    lines = data.split(b"\n")
    first = lines[0].split()
    if not first or first[0] != b"cpu" or len(first) < 5:
        raise ValueError(f"{path}: first line is not the aggregate 'cpu' line")
    busy, total = _busy_total_of(first)
    n_cpus = sum(1 for ln in lines[1:] if ln.startswith(b"cpu") and ln[3:4].isdigit())
    return busy, total, max(n_cpus, 1)


def _busy_total_of(fields: list[bytes]) -> tuple[int, int]:
    """Busy and total ticks of a ``cpu`` line: user nice system idle iowait irq softirq steal
    [guest guest_nice]. Busy = user + nice + system + irq + softirq; idle, iowait and steal (time
    the hypervisor gave to another guest: not this machine's work) are not busy. guest and
    guest_nice are already inside user and nice, so they are not added again."""
    ticks = [int(x) for x in fields[1:9]]
    ticks += [0] * (8 - len(ticks))
    user, nice, system, _idle, _iowait, irq, softirq, _steal = ticks
    return user + nice + system + irq + softirq, sum(ticks)


class ModelledCpuMeter(PowerMeter):
    """CPU power estimated from ``/proc/stat`` utilisation and the CPU's TDP (see module doc)."""

    name = "modelled"
    estimated = True
    scope = "host"
    rail_family = "cpu-package"
    description = "CPU power estimated from /proc/stat utilisation x TDP (no sensor; estimated)"

    def __init__(
        self,
        cpu_tdp_w: float | None = None,
        idle_share: float | None = None,
        device: Any = None,
        proc_stat: str | os.PathLike[str] = PROC_STAT,
        cpuinfo: str | os.PathLike[str] = CPUINFO,
        root_pid: int | None = None,
        track_process: bool = True,
        dram_gb: float | None = None,
        proc_root: str | os.PathLike[str] = "/proc",
    ) -> None:
        super().__init__()
        self._path = Path(proc_stat)
        ok, reason = self.probe(proc_stat=self._path)
        if not ok:
            raise MeterUnavailableError(reason)
        if cpu_tdp_w is not None and not (math.isfinite(cpu_tdp_w) and cpu_tdp_w > 0):
            raise InvalidValueError(
                f"cpu-tdp must be a finite number of watts > 0, got {cpu_tdp_w}"
            )
        nominal, low, high = default_idle_share()
        if idle_share is not None and not (0.0 <= idle_share <= 1.0):
            raise InvalidValueError(f"idle share must be between 0 and 1, got {idle_share}")
        self.idle_share = nominal if idle_share is None else float(idle_share)
        self.idle_share_range = (low, high)
        busy, total, n_cpus = read_proc_stat(self._path)
        self.n_cpus = n_cpus
        self.tdp_source: str
        self.device_name: str | None = None
        self.microarch: dict[str, Any] | None = None
        self._idle_from_row = idle_share is None
        #: (low, high) of P_max when it is itself a default guess (no TDP known), else None
        self.max_power_range_w: tuple[float, float] | None = None
        if cpu_tdp_w is not None:
            self.max_power_w = float(cpu_tdp_w)
            self.tdp_source = "--cpu-tdp"
        else:
            tdp_w, name, threads = _catalog_cpu_tdp(device)
            self.device_name = name
            if tdp_w is not None and threads and n_cpus < threads:
                # a VM or container seeing n of the package's threads draws its share of the
                # TDP (the vCPU allocation of Cloud Carbon Footprint and Boavizta), not all of it
                self.max_power_w = tdp_w * n_cpus / threads
                self.tdp_source = (f"hardware catalog ({name}): {tdp_w:g} W TDP x {n_cpus} of "
                                   f"{threads} hardware threads")
            elif tdp_w is not None:
                self.max_power_w = tdp_w
                self.tdp_source = f"hardware catalog ({name})"
            elif (row := _microarch(cpuinfo)) is not None:
                lo_w, hi_w = row["max_w_per_vcpu_range"]
                self.microarch = row
                self.max_power_w = n_cpus * row["max_w_per_vcpu"]
                self.max_power_range_w = (n_cpus * lo_w, n_cpus * hi_w)
                if idle_share is None:
                    self.idle_share = row["min_w_per_vcpu"] / row["max_w_per_vcpu"]
                    self.idle_share_range = (row["min_w_per_vcpu"] / hi_w,
                                             row["min_w_per_vcpu"] / lo_w)
                self.tdp_source = (
                    f"{n_cpus} vCPU x {row['max_w_per_vcpu']:.3f} W ({row['microarchitecture']}"
                    + (f", {row['generation']}" if row["generation"] else "")
                    + " max W per vCPU, Cloud Carbon Footprint coefficients from /proc/cpuinfo "
                    "family/model); give --cpu-tdp for your CPU"
                )
            else:
                self.max_power_w = n_cpus * default_max_w_per_vcpu()
                per_vcpu = [r["max_w_per_vcpu"] for r in power_model_coefficients()]
                self.max_power_range_w = (n_cpus * min(per_vcpu), n_cpus * max(per_vcpu))
                self.tdp_source = (
                    f"{n_cpus} vCPU x {default_max_w_per_vcpu():.2f} W (median max W per "
                    "vCPU, Cloud Carbon Footprint coefficients); give --cpu-tdp for your CPU"
                )
        self.channels = ["cpu"]
        self.primary = "cpu"
        self._last = (busy, total)
        self._last_util = 0.0
        self._fd: int | None = None
        # the measured process tree's own CPU time (the command measured, not its neighbours)
        self._proc_root = Path(proc_root)
        self.root_pid = root_pid if root_pid is not None else os.getpid()
        self._tree: tuple[float, float] | None = None
        self._tree_power = 0.0
        self._tree_carry_s = 0.0  # CPU seconds found late, charged over the next refreshes
        self._proc_tree: ProcessTree | None = None
        if track_process:
            self._proc_tree = ProcessTree(self.root_pid, self._proc_root)
            cpu_s = self._proc_tree.cpu_seconds()
            if cpu_s is not None:
                self._tree = (time.monotonic(), cpu_s)
                self.channels.append("process_dynamic")
        self.dram_w = 0.0
        self.dram_gb = dram_gb
        if dram_gb is not None:
            if not (math.isfinite(dram_gb) and dram_gb > 0):
                raise InvalidValueError(f"DRAM size must be > 0 GB, got {dram_gb}")
            w_per_gb, _ = dram_w_per_gb()
            self.dram_w = dram_gb * w_per_gb
            self.channels += ["dram", "host"]
            self.primary = "host"

    def reopen_options(self) -> dict[str, Any]:
        # the copy in the sampler process charges this process's tree, not its own
        if self._tree is None:
            return {"track_process": False}
        return {"root_pid": self.root_pid, "track_process": True}

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None

    @classmethod
    def probe(cls, proc_stat: str | os.PathLike[str] = PROC_STAT, **_: Any) -> tuple[bool, str]:
        try:
            read_proc_stat(Path(proc_stat))
        except (OSError, ValueError) as exc:
            return False, f"cannot read CPU utilisation from {proc_stat} ({exc}); needs Linux /proc"
        return (
            True,
            "estimates CPU power from /proc/stat utilisation (no sensor: results are estimated)",
        )

    def power_at(self, utilisation: float) -> float:
        """Modelled watts at a utilisation in [0, 1]."""
        u = min(max(utilisation, 0.0), 1.0)
        return self.max_power_w * (self.idle_share + (1.0 - self.idle_share) * u)

    def _busy_total(self) -> tuple[int, int]:
        """Aggregate busy and total ticks, re-reading only the head of the file through a kept
        descriptor (``pread`` at offset 0 regenerates procfs content; cheaper at 100-1000 Hz)."""
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDONLY)
        head = os.pread(self._fd, 512, 0)
        nl = head.find(b"\n")
        first = (head if nl < 0 else head[:nl]).split()
        if not first or first[0] != b"cpu" or len(first) < 5:
            raise ValueError("first line is not the aggregate 'cpu' line")
        return _busy_total_of(first)

    def read(self) -> Reading:
        try:
            busy, total = self._busy_total()
        except (OSError, ValueError) as exc:
            self.close()
            return Reading.failed(self.channels, f"/proc/stat unreadable: {exc}")
        d_total = total - self._last[1]
        if d_total > 0:
            self._last_util = (busy - self._last[0]) / d_total
            self._last = (busy, total)
        power = {"cpu": self.power_at(self._last_util)}
        if self._tree is not None:
            power["process_dynamic"] = self._process_dynamic_w()
        if self.dram_gb is not None:
            power["dram"] = self.dram_w
            power["host"] = power["cpu"] + self.dram_w
        return Reading(power)

    def _process_dynamic_w(self) -> float:
        """Dynamic watts of the measured process tree: ``P_max (1 - s) u_tree`` with ``u_tree``
        its CPU seconds per second over the machine's CPUs (refreshed every 0.2 s at most from
        the tree's own /proc/<pid>/stat files; /proc is scanned again only when a process may
        have been created: :mod:`inferlca.meters.proctree`)."""
        assert self._tree is not None and self._proc_tree is not None
        now = time.monotonic()
        t0, c0 = self._tree
        if now - t0 < TREE_REFRESH_S:
            return self._tree_power
        c1 = self._proc_tree.cpu_seconds()
        if c1 is None:  # the measured process ended: nothing more to charge
            self._tree_power = 0.0
            self._tree = (now, c0)
            return 0.0
        u, self._tree_carry_s = spread_cpu(c1 - c0, now - t0, self.n_cpus, self._tree_carry_s)
        self._tree = (now, c1)
        self._tree_power = self.max_power_w * (1.0 - self.idle_share) * u
        return self._tree_power

    def meta(self) -> dict[str, Any]:
        low, high = self.idle_share_range
        return {
            "model": "P = P_max * (idle_share + (1 - idle_share) * utilisation)",
            "max_power_w": self.max_power_w,
            "max_power_source": self.tdp_source,
            "max_power_range_w": list(self.max_power_range_w) if self.max_power_range_w else None,
            "idle_share": self.idle_share,
            "idle_share_range": [low, high],
            "idle_share_source": (
                f"min/max W per vCPU of {self.microarch['microarchitecture']} "
                "(data/cpu_microarch_power.csv)" if self.microarch and self._idle_from_row
                else "median (range) of min/max W per vCPU, Cloud Carbon Footprint "
                "coefficients (SPECpower), data/cpu_power_model.csv"
            ),
            "n_cpus": self.n_cpus,
            "device_name": self.device_name,
            "sensor_update_s": 0.01,
            "microarchitecture": self.microarch["microarchitecture"] if self.microarch else None,
            "process_tree_root": self.root_pid if self._tree is not None else None,
            "process_dynamic_rule": (
                "process_dynamic = P_max x (1 - idle_share) x (CPU seconds of the measured "
                "process tree / s / CPUs): the command's dynamic power above idle; other "
                "processes on the machine are not charged to it"
                if self._tree is not None else None
            ),
            **(
                {"dram_gb": self.dram_gb, "dram_w": self.dram_w,
                 "dram_source": dram_w_per_gb()[1]}
                if self.dram_gb is not None else {}
            ),
        }


def _catalog_cpu_tdp(device: Any) -> tuple[float | None, str | None, int | None]:
    """TDP and hardware threads of this machine's CPU from the hardware catalog: ``device`` (a
    catalog CPU or its name) when given, else the CPU detected from ``/proc/cpuinfo``. A GPU
    device is not a CPU TDP."""
    from inferlca.hardware.catalog import get_catalog
    from inferlca.hardware.detect import detect_device

    name: str | None
    if isinstance(device, str):
        dev = get_catalog().find(device)
        name = device
    elif device is not None:
        dev, name = device, getattr(device, "name", None)
    else:
        det = detect_device(use_nvml=False)
        dev, name = det.device, det.name
    if dev is None or getattr(dev, "kind", None) != "cpu" or not getattr(dev, "tdp_w", None):
        return None, name, None
    return float(dev.tdp_w or 0.0), dev.name, getattr(dev, "threads", None)


def energy_interval_j(
    meta: dict[str, Any], energy_j: float, duration_s: float
) -> tuple[float, float]:
    """Low and high energy of a modelled trace over the idle-share range of the model.

    ``E(s) = P_max * (s * T + (1 - s) * U)`` with ``U`` the integral of utilisation, recovered from
    the nominal energy; ``E`` is linear in ``s`` so the bounds are at the ends of the range.
    A TDP given or found in the catalog is not varied (it is an input); the per-vCPU default
    ``P_max`` (no TDP known) is varied over ``meta["max_power_range_w"]`` (the min and max of the
    coefficient table's maximum W per vCPU), ``E`` being proportional to ``P_max``.
    """
    p_max = float(meta["max_power_w"])
    s0 = float(meta["idle_share"])
    lo_s, hi_s = meta["idle_share_range"]
    if p_max <= 0 or s0 >= 1 or duration_s <= 0:
        return energy_j, energy_j
    util_s = (energy_j / p_max - s0 * duration_s) / (1.0 - s0)
    p_range = meta.get("max_power_range_w") or (p_max, p_max)
    ends = [
        p * (s * duration_s + (1.0 - s) * util_s)
        for p in (float(p_range[0]), float(p_range[1]), p_max)
        for s in (lo_s, hi_s, s0)
    ]
    return min(ends), max(ends)
