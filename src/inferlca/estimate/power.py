"""Power while a device runs an estimated workload: two models, both shown.

* ``tdp``: the device draws its TDP the whole time (the study's first approximation,
  docs/method.md, "Estimating without the device"). An upper-end figure for a device that is not saturated.
* ``utilisation``: an idle floor plus a dynamic share that grows with utilisation::

      P = TDP * (idle + (1 - idle) * u)

  where ``idle`` is the idle power as a fraction of TDP and ``u`` the utilisation of the binding
  resource, taken equal to the efficiency factor (the fraction of the roof the kernels reach).
  ``P`` grows with both ``idle`` and ``u`` (for 0 <= idle, u <= 1), so the interval's low end
  uses both low ends and the high end both high ends.

The default idle fraction comes from recorded NVIDIA A100 PCIe 40 GB logs (TDP 250 W): 58.69 W
and 80.52 W before the load step, i.e. 0.235 and 0.322 of TDP
(``data/idle_power.csv``, each row with its source). The low end 0.10 is an inferlca assumption for devices with deeper idle states (edge boards, consumer GPUs); users
set their own with ``--idle-fraction``.
"""

from __future__ import annotations

import functools

from inferlca.errors import InvalidValueError
from inferlca.uncertainty import UValue

POWER_MODELS: tuple[str, ...] = ("tdp", "utilisation")

@functools.cache
def idle_fraction_default() -> UValue:
    """The default idle fraction from ``data/idle_power.csv`` (nominal, low and high rows)."""
    import csv
    from importlib import resources

    text = resources.files("inferlca.estimate").joinpath("data/idle_power.csv").read_text("utf-8")
    rows = {r["role"]: r for r in csv.DictReader(text.splitlines())}
    return UValue(float(rows["nominal"]["idle_fraction"]), float(rows["low"]["idle_fraction"]),
                  float(rows["high"]["idle_fraction"]), "",
                  tuple(rows[k]["source"] for k in ("nominal", "high", "low")), "default")



def _check_fraction(name: str, v: UValue, allow_zero: bool) -> None:
    lo_ok = v.low >= 0 if allow_zero else v.low > 0
    if not (lo_ok and v.high <= 1):
        rel = ">= 0" if allow_zero else "> 0"
        raise InvalidValueError(f"{name} must lie in ({rel}, <= 1), got {v.format()}")


def tdp_power_w(tdp_w: float) -> UValue:
    """The study's model: the device draws its TDP (W)."""
    return UValue.exact(tdp_w, "W", ("device TDP (catalog)",), "derived")


def utilisation_power_w(tdp_w: float, utilisation: UValue,
                        idle_fraction: UValue | None = None) -> UValue:
    """``TDP * (idle + (1 - idle) * u)`` in W, with its interval (see the module docstring)."""
    if idle_fraction is None:
        idle_fraction = idle_fraction_default()
    _check_fraction("utilisation", utilisation, allow_zero=False)
    _check_fraction("idle fraction", idle_fraction, allow_zero=True)

    def p(idle: float, u: float) -> float:
        return tdp_w * (idle + (1.0 - idle) * u)

    return UValue(p(idle_fraction.value, utilisation.value), p(idle_fraction.low, utilisation.low),
                  p(idle_fraction.high, utilisation.high), "W",
                  (*utilisation.sources, *idle_fraction.sources), "derived")


def _read_csv(name: str) -> list[dict[str, str]]:
    import csv
    from importlib import resources

    text = resources.files("inferlca.estimate").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@functools.cache
def _idle_rows() -> dict[str, dict[str, str]]:
    """The recorded idle powers; each row needs a source and a positive ``idle_w`` within its
    ``idle_low_w`` .. ``idle_high_w`` (both optional)."""
    rows = {}
    for i, r in enumerate(_read_csv("device_idle.csv"), 2):
        try:
            w = float(r["idle_w"])
            lo = float(r["idle_low_w"]) if r.get("idle_low_w") else w
            hi = float(r["idle_high_w"]) if r.get("idle_high_w") else w
        except (KeyError, ValueError) as exc:
            raise ValueError(f"data/device_idle.csv line {i}: bad idle power ({exc})") from exc
        if not (r.get("source") or "").strip() or not 0 < lo <= w <= hi:
            raise ValueError(f"data/device_idle.csv line {i}: a row needs a source and "
                             "0 < idle_low_w <= idle_w <= idle_high_w")
        rows[r["device_id"]] = r
    return rows


def recorded_idle_devices() -> tuple[str, ...]:
    """The device ids with a recorded idle power (``data/device_idle.csv``)."""
    return tuple(_idle_rows())


def idle_power_w(device_id: str, tdp_w: float,
                 idle_fraction: UValue | None = None) -> tuple[UValue, str]:
    """Idle power of a device (W) and where it comes from.

    A recorded idle power (``data/device_idle.csv``, per device, sourced) wins; else the user's
    ``idle_fraction`` x TDP; else the default fraction (:func:`idle_fraction_default`) x TDP,
    said so in the note.
    """
    row = _idle_rows().get(device_id)
    if idle_fraction is None and row is not None:
        w = float(row["idle_w"])
        lo = float(row["idle_low_w"]) if row.get("idle_low_w") else w
        hi = float(row["idle_high_w"]) if row.get("idle_high_w") else w
        u = UValue(w, min(lo, w), max(hi, w), "W", (row["source"],), "input")
        span = f" [{u.low:g} - {u.high:g}]" if u.high > u.low else ""
        return u, f"recorded idle {w:g}{span} W, {row.get('state') or 'idle'}"
    frac = idle_fraction if idle_fraction is not None else idle_fraction_default()
    how = "--idle-fraction" if idle_fraction is not None else (
        "no recorded idle power for this device: default fraction of TDP")
    return (frac * tdp_w).with_unit("W"), f"{how} ({frac.format()} x {tdp_w:g} W)"


@functools.cache
def _load_rows() -> dict[str, dict[str, str]]:
    return {r["category"]: r for r in _read_csv("load_bandwidth.csv")}


def load_bandwidth_gbs(category: str | None) -> tuple[UValue, str]:
    """Bandwidth at which weights load (GB/s) for a device class, with its source."""
    rows = _load_rows()
    r = rows.get(category or "", rows["default"])
    v = UValue(float(r["load_gbs"]), float(r["load_gbs_low"]), float(r["load_gbs_high"]),
               "GB/s", (r["source"],), "default")
    return v, f"{r['source']}: {r['note']}"
