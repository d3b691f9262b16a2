"""The CPU's micro-architecture from ``/proc/cpuinfo`` and its power coefficients.

``data/cpu_microarch_power.csv`` holds, per micro-architecture (Intel Sandy Bridge to Granite
Rapids, AMD EPYC 1st to 5th generation = Zen to Zen 5), the minimum and maximum watts per vCPU
(hardware thread) of the Cloud Carbon Footprint coefficients (SPECpower_ssj2008-derived; AWS
figures, and GCP's maximum where it has one: two sources, so a spread), and the ``cpu family`` /
``model`` numbers that identify it in ``/proc/cpuinfo``. ``data/dram_power.csv`` holds the DRAM
figure (W per GB).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    vendor: str
    family: int | None
    model: int | None
    stepping: int | None
    model_name: str
    threads: int


def parse_cpuinfo(text: str) -> CpuInfo:
    """Vendor, family/model/stepping, model name and hardware thread count of a cpuinfo text."""
    first: dict[str, str] = {}
    threads = 0
    for line in text.splitlines():
        if ":" not in line:
            continue
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        if k == "processor":
            threads += 1
        first.setdefault(k, v)

    def num(key: str) -> int | None:
        try:
            return int(first[key], 0) if key in first else None
        except ValueError:
            return None

    return CpuInfo(first.get("vendor_id", ""), num("cpu family"), num("model"), num("stepping"),
                   first.get("model name", ""), max(threads, 1))


@lru_cache(maxsize=1)
def microarch_table() -> list[dict[str, Any]]:
    text = resources.files("inferlca.meters").joinpath("data/cpu_microarch_power.csv").read_text()
    rows = []
    for r in csv.DictReader(text.splitlines()):
        maxes = [float(r["max_w_per_vcpu_aws"])]
        if r["max_w_per_vcpu_gcp"]:
            maxes.append(float(r["max_w_per_vcpu_gcp"]))
        rows.append({
            "microarchitecture": r["microarchitecture"],
            "vendor_id": r["vendor_id"],
            "cpu_family": int(r["cpu_family"]),
            "models": r["models"].split(),
            "generation": r["generation"],
            "min_w_per_vcpu": float(r["min_w_per_vcpu"]),
            "max_w_per_vcpu": sum(maxes) / len(maxes),
            "max_w_per_vcpu_range": (min(maxes), max(maxes)),
            "source": r["source"],
        })
    return rows


def _model_matches(spec: str, model: int, stepping: int | None) -> bool:
    if ":" not in spec:
        return int(spec) == model
    m, steps = spec.split(":")
    lo, hi = (int(x) for x in steps.split("-"))
    return int(m) == model and stepping is not None and lo <= stepping <= hi


def microarch_of(info: CpuInfo) -> dict[str, Any] | None:
    """The coefficient row of this CPU, or None (unknown CPU: the meter falls back)."""
    if info.family is None or info.model is None:
        return None
    for row in microarch_table():
        if row["vendor_id"] == info.vendor and row["cpu_family"] == info.family and any(
            _model_matches(s, info.model, info.stepping) for s in row["models"]
        ):
            return row
    return None


def read_cpuinfo(path: str | os.PathLike[str] = CPUINFO) -> CpuInfo | None:
    try:
        return parse_cpuinfo(Path(path).read_text(errors="replace"))
    except OSError:
        return None


@lru_cache(maxsize=1)
def dram_w_per_gb() -> tuple[float, str]:
    text = resources.files("inferlca.meters").joinpath("data/dram_power.csv").read_text()
    row = next(r for r in csv.DictReader(text.splitlines()) if r["quantity"] == "dram_w_per_gb")
    return float(row["value"]), row["source"]
