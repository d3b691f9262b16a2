"""Published measurements beside our estimates: validation and calibration without a device.

``data/published_results.csv`` holds results other people measured and published (MLPerf
Inference closed-division ``mlperf_log_summary.txt`` latencies; ML.ENERGY leaderboard energy per
output token), one row per figure, each with its ``source`` and ``unit``. A user's file with the
same columns can replace it (``inferlca estimate validate --published FILE``); a row without a
source or a unit, or with a unit we do not know, is an error.

**Estimates.** A ``latency`` row (an encoder at ``seq_len``, batch 1) is estimated as a single
query; an ``energy_per_token`` row (a decoder at ``concurrency``) as the continuous-batching
steady state (:mod:`inferlca.estimate.serving`), TDP power model; an ``energy_per_query`` row (an
encoder query, e.g. an MLPerf Power SingleStream submission: mean system power x mean latency)
as the single query's energy at TDP; a ``throughput`` row (MLPerf Offline samples/s, kept as
seconds per sample) as the pass time over the batch at ``concurrency`` sequences per pass (the
upper bound on throughput is a lower bound on seconds per sample). All at the row's precision.

**Uncalibrated** is the roofline at efficiency 1: for latency the lower bound, so
``published / bound >= 1`` must hold; a ratio below 1 is a **model error** (the device beat our
bound: wrong peak, traffic or length), reported with its ratio, never clipped.

**Calibrated, leave-one-out.** For each row, an efficiency is fitted on the *other* rows only
(a row never calibrates itself), in this order: other rows of the same kind on the same device
(other statistics or submissions), else of the same kind on the same device class, else nothing
(the row stays uncalibrated, said so). The efficiency of a row is ``bound / published`` for
latency and ``estimate at efficiency 1 / published`` for energy; the fit is their geometric mean
(with their min..max as the interval; one row: x/÷ 2). A row's fitted efficiency may exceed 1:
that is reported, not clipped. ``min`` and ``mean`` statistics of one submission are kept apart
(a fastest query is not a typical one), so only rows of the same statistic calibrate each other.

The score is the **median absolute log error** ``median |ln(estimate / published)|`` over the
rows, uncalibrated and calibrated (``exp`` of it is the typical factor off).
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from inferlca.errors import InputFileError, InvalidValueError
from inferlca.uncertainty import UValue

KINDS: tuple[str, ...] = ("latency", "energy_per_token", "energy_per_query", "throughput")
#: unit -> (kind, factor to SI: s or J per token)
UNITS: dict[str, tuple[str, float]] = {"ms": ("latency", 1e-3), "s": ("latency", 1.0),
                                       "us": ("latency", 1e-6), "ns": ("latency", 1e-9),
                                       "J/token": ("energy_per_token", 1.0),
                                       "mJ/token": ("energy_per_token", 1e-3),
                                       "J/query": ("energy_per_query", 1.0),
                                       "mJ/query": ("energy_per_query", 1e-3),
                                       # stored as its inverse: seconds per sample
                                       "samples/s": ("throughput", -1.0)}
REQUIRED = ("id", "kind", "model", "device_id", "precision", "statistic", "value", "unit",
            "source")


@dataclass(frozen=True)
class Published:
    """One published figure (``value_si`` in s, or J per output token)."""

    id: str
    kind: str
    model: str
    device_id: str
    precision: str
    scenario: str
    seq_len: int | None
    tokens_in: int | None
    tokens_out: int | None
    concurrency: int
    statistic: str
    value: float
    unit: str
    value_si: float
    source: str
    note: str = ""


def _opt_int(row: dict[str, str], key: str, name: str, line: int) -> int | None:
    v = (row.get(key) or "").strip()
    if not v:
        return None
    try:
        n = int(v)
    except ValueError:
        raise InputFileError(name, f"{key} must be an integer, got {v!r}", line) from None
    if n < 1:
        raise InputFileError(name, f"{key} must be >= 1, got {n}", line)
    return n


def _to_si(value: float, unit: str) -> float:
    """s, J per token or per query; a throughput (factor -1) becomes seconds per sample."""
    factor = UNITS[unit][1]
    return 1.0 / value if factor < 0 else value * factor


def load_published(path: str | Path | None = None) -> list[Published]:
    """Read and check a published-results file (default: the shipped one).

    Raises:
        InputFileError: missing file or column, a row without a source or a unit, an unknown
            unit or kind, a value that is not a positive number.
    """
    if path is None:
        text = resources.files("inferlca.estimate").joinpath(
            "data/published_results.csv").read_text("utf-8")
        name = "published_results.csv"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(str(p), "published-results file not found")
        try:
            text = p.read_text("utf-8")
        except UnicodeDecodeError:
            raise InputFileError(str(p), "not UTF-8 text: give a CSV file") from None
        name = p.name
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InputFileError(name, f"missing column(s) {', '.join(missing)} (needed: "
                             f"{', '.join(REQUIRED)})")
    out: list[Published] = []
    seen: set[str] = set()
    for i, row in enumerate(reader, start=2):
        rid = (row.get("id") or "").strip() or f"line-{i}"
        if not (row.get("source") or "").strip():
            raise InputFileError(name, f"({rid}) no source; every published figure needs "
                                 "where it was published", i)
        unit = (row.get("unit") or "").strip()
        if not unit:
            raise InputFileError(name, f"({rid}) no unit; give one of {', '.join(UNITS)}", i)
        if unit not in UNITS:
            raise InputFileError(name, f"({rid}) unknown unit {unit!r}; use one of "
                                 f"{', '.join(UNITS)}", i)
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            raise InputFileError(name, f"({rid}) kind must be one of {', '.join(KINDS)}, "
                                 f"got {kind!r}", i)
        if UNITS[unit][0] != kind:
            raise InputFileError(name, f"({rid}) unit {unit} does not measure {kind}", i)
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise InputFileError(name, f"({rid}) value must be a number, got "
                                 f"{row.get('value')!r}", i) from None
        if not (math.isfinite(value) and value > 0):
            raise InputFileError(name, f"({rid}) value must be > 0, got {value}", i)
        if rid in seen:
            raise InputFileError(name, f"duplicate id {rid!r}", i)
        seen.add(rid)
        out.append(Published(
            rid, kind, row["model"].strip(), row["device_id"].strip(), row["precision"].strip(),
            (row.get("scenario") or "").strip(), _opt_int(row, "seq_len", name, i),
            _opt_int(row, "tokens_in", name, i), _opt_int(row, "tokens_out", name, i),
            _opt_int(row, "concurrency", name, i) or 1, (row.get("statistic") or "mean").strip(),
            value, unit, _to_si(value, unit), row["source"].strip(),
            (row.get("note") or "").strip()))
    return out


@dataclass
class Validation:
    """One published figure beside our estimate."""

    point: Published
    device_name: str
    device_class: str
    bound_si: float                 # estimate at efficiency 1 (s or J/token)
    calibrated: UValue | None = None
    calibration_note: str = ""
    efficiency_fit: UValue | None = None

    @property
    def efficiency(self) -> float:
        """``bound / published``: the fraction of the roof this result reached."""
        return self.bound_si / self.point.value_si

    @property
    def ratio_uncalibrated(self) -> float:
        """``estimate / published`` at efficiency 1."""
        return self.bound_si / self.point.value_si

    @property
    def ratio_calibrated(self) -> float | None:
        return None if self.calibrated is None else self.calibrated.value / self.point.value_si

    @property
    def bound_holds(self) -> bool | None:
        """Latency or throughput (seconds per sample): is the bound at or below the published
        figure? (None for energy rows.)"""
        if self.point.kind not in ("latency", "throughput"):
            return None
        return self.bound_si <= self.point.value_si * (1 + 1e-12)

    def to_dict(self) -> dict[str, Any]:
        p = self.point
        return {"id": p.id, "kind": p.kind, "model": p.model, "device": p.device_id,
                "device_name": self.device_name, "device_class": self.device_class,
                "precision": p.precision, "statistic": p.statistic, "seq_len": p.seq_len,
                "tokens_in": p.tokens_in, "tokens_out": p.tokens_out,
                "concurrency": p.concurrency, "published": p.value, "unit": p.unit,
                "published_si": p.value_si, "estimate_uncalibrated_si": self.bound_si,
                "ratio_uncalibrated": self.ratio_uncalibrated,
                "bound_holds": self.bound_holds,
                "model_error": (self.bound_holds is False),
                "estimate_calibrated_si": (self.calibrated.to_dict()
                                           if self.calibrated else None),
                "ratio_calibrated": self.ratio_calibrated,
                "efficiency_fit": self.efficiency_fit.to_dict() if self.efficiency_fit else None,
                "calibration": self.calibration_note, "source": p.source, "note": p.note}


@dataclass
class ValidationReport:
    rows: list[Validation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def mean_abs_log(self, calibrated: bool) -> float | None:
        errs = []
        for r in self.rows:
            ratio = r.ratio_calibrated if calibrated else r.ratio_uncalibrated
            if ratio is not None:
                errs.append(abs(math.log(ratio)))
        return statistics.median(errs) if errs else None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows],
                "median_abs_log_error_uncalibrated": self.mean_abs_log(False),
                "median_abs_log_error_calibrated": self.mean_abs_log(True),
                "skipped": list(self.skipped)}


def _bound_si(p: Published, device: Any, traffic: str) -> float:
    from inferlca.estimate.estimator import estimate_device
    from inferlca.estimate.flops import query_cost
    from inferlca.estimate.models import load_model
    from inferlca.estimate.serving import serving_point

    model = load_model(p.model)
    eff = UValue.exact(1.0)
    if p.kind in ("latency", "energy_per_query"):
        if model.arch != "encoder":
            raise InvalidValueError(f"{p.id}: {p.kind} rows are encoder SingleStream queries; "
                                    f"{p.model} is a decoder")
        cost = query_cost(model, "faithful", p.precision, seq_len=p.seq_len, traffic=traffic,
                          batch=p.concurrency)
        est = estimate_device(cost, device, efficiency=eff)
        if p.kind == "energy_per_query":
            return est.energy_j.value
        return est.time_per_query_s.value
    if p.kind == "throughput":
        if model.arch != "encoder":
            raise InvalidValueError(f"{p.id}: throughput rows are encoder Offline runs; "
                                    f"{p.model} is a decoder")
        cost = query_cost(model, "faithful", p.precision, seq_len=p.seq_len, traffic=traffic,
                          batch=p.concurrency)
        est = estimate_device(cost, device, efficiency=eff)
        return est.time_per_query_s.value / p.concurrency
    if model.arch != "decoder":
        raise InvalidValueError(f"{p.id}: energy_per_token rows need a decoder model")
    pt = serving_point(model, device, p.precision, p.concurrency,
                       tokens_in=p.tokens_in or 128, tokens_out=p.tokens_out or 128,
                       efficiency=eff, traffic=traffic)
    if pt.energy_per_token_j is None:
        raise InvalidValueError(f"{p.id}: concurrency {p.concurrency} does not fit "
                                f"{device.name}: {pt.memory.summary()}")
    return pt.energy_per_token_j.value


def _fit(effs: list[float], what: str) -> UValue:
    geo = math.exp(sum(math.log(e) for e in effs) / len(effs))
    src = (f"fitted on {len(effs)} other published result(s) ({what})",)
    if len(effs) == 1:
        return UValue(geo, geo / 2, geo * 2, "", src, "derived")
    return UValue(geo, min(effs), max(effs), "", src, "derived")


def validate(points: list[Published], catalog: Any, *, traffic: str = "fused") -> ValidationReport:
    """Estimate every published point, uncalibrated and leave-one-out calibrated."""
    from inferlca.estimate.calibration import device_class
    from inferlca.estimate.rates import describe_rates, peak_for

    rep = ValidationReport()
    for p in points:
        device = catalog.find(p.device_id)
        if device is None:
            rep.skipped.append(f"{p.id}: device {p.device_id!r} not in the catalog")
            continue
        if peak_for(device, p.precision) is None:
            rep.skipped.append(f"{p.id}: {device.name} has no {p.precision} rate (it has: "
                               f"{describe_rates(device)})")
            continue
        bound = _bound_si(p, device, traffic)
        rep.rows.append(Validation(p, device.name, device_class(device.category, device.kind),
                                   bound))
    for r in rep.rows:
        others = [o for o in rep.rows if o is not r and o.point.kind == r.point.kind
                  and o.point.statistic == r.point.statistic]
        same_dev = [o.efficiency for o in others if o.point.device_id == r.point.device_id]
        same_cls = [o.efficiency for o in others if o.device_class == r.device_class]
        if same_dev:
            fit, note = _fit(same_dev, f"{r.point.kind} {r.point.statistic}, same device"), \
                "same device, other results"
        elif same_cls:
            fit, note = _fit(same_cls, f"{r.point.kind} {r.point.statistic}, "
                             f"{r.device_class} class"), f"other {r.device_class} devices"
        else:
            r.calibration_note = "nothing else to calibrate on (left uncalibrated)"
            continue
        r.efficiency_fit = fit
        r.calibration_note = note + (" (fitted efficiency > 1: those results beat the bound)"
                                     if fit.value > 1 else "")
        r.calibrated = (UValue.exact(r.bound_si) / fit).with_unit(
            "s" if r.point.kind in ("latency", "throughput") else "J")
    return rep


def calibration_from_published(points: list[Published], catalog: Any, kind: str,
                               statistic: str = "mean",
                               traffic: str = "fused") -> dict[str, UValue]:
    """Efficiency per device id and per device class (keys ``class:<name>``) from every point of
    ``kind`` and ``statistic`` (for estimates of devices outside the published set)."""
    rep = validate([p for p in points if p.kind == kind and p.statistic == statistic], catalog,
                   traffic=traffic)
    out: dict[str, UValue] = {}
    by_dev: dict[str, list[float]] = {}
    by_cls: dict[str, list[float]] = {}
    for r in rep.rows:
        by_dev.setdefault(r.point.device_id, []).append(r.efficiency)
        by_cls.setdefault(r.device_class, []).append(r.efficiency)
    for k, v in by_dev.items():
        out[k] = _fit(v, f"{kind} {statistic}, device {k}")
    for k, v in by_cls.items():
        out[f"class:{k}"] = _fit(v, f"{kind} {statistic}, class {k}")
    return out




@dataclass
class PublishedCalibration:
    """Efficiencies fitted on published results, applied like a store calibration.

    Latency rows calibrate encoders, energy-per-token rows decoders; a device with rows of its
    own uses them, else its device class's, else nothing (the lower bound stays).
    """

    kind: str
    fits: dict[str, UValue]
    n_points: int
    pairs: list[Any] = field(default_factory=list)   # no store pairs (the CLI prints none)

    def efficiency_for(self, device_id: str, category: str,
                       kind: str = "gpu") -> tuple[UValue, str] | None:
        from inferlca.estimate.calibration import device_class

        own = self.fits.get(device_id)
        if own is not None:
            return own, (f"calibrated on published {self.kind} results of this device "
                         f"(interval: their spread, or x/÷ 2 for one)")
        klass = device_class(category, kind)
        cls = self.fits.get(f"class:{klass}")
        if cls is not None:
            return cls, (f"calibrated on published {self.kind} results of {klass} devices "
                         "(this device has none of its own)")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"source": "published results", "kind": self.kind, "points": self.n_points,
                "fits": {k: v.to_dict() for k, v in self.fits.items()}, "pairs": []}


def published_calibration(arch: str, path: str | Path | None = None,
                          traffic: str = "fused") -> PublishedCalibration:
    """The calibration for a model of ``arch`` (``encoder``: latency means; ``decoder``: energy
    per token) from the published-results file."""
    from inferlca.hardware.catalog import get_catalog

    points = load_published(path)
    kind = "latency" if arch == "encoder" else "energy_per_token"
    fits = calibration_from_published(points, get_catalog(), kind, "mean", traffic=traffic)
    return PublishedCalibration(kind, fits, sum(1 for p in points if p.kind == kind))


__all__ = ["KINDS", "UNITS", "Published", "PublishedCalibration", "Validation",
           "ValidationReport", "calibration_from_published", "load_published",
           "published_calibration", "validate"]
