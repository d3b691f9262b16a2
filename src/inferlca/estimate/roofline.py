"""The roofline model: how fast a device can at best run a pass of known FLOPs and bytes.

For a pass of ``F`` FLOPs moving ``B`` bytes on a device of peak ``P`` FLOP/s and memory bandwidth
``W`` B/s (Williams, Waterman and Patterson 2009, "Roofline", CACM 52(4))::

    intensity  I = F / B                        FLOP/B
    attainable A = min(P, I * W)                FLOP/s
    ridge      R = P / W                        FLOP/B; I >= R is compute-bound, I < R memory-bound
    time       t >= F / A                       s, the lower bound

Real kernels reach a fraction ``e`` of the roof (the efficiency factor, 0 < e <= 1), so the
estimate is ``t = (F / A) / e``. ``e = 1`` is the study's lower bound; the user can set ``e`` or
calibration can fit it from measured runs (see :mod:`inferlca.estimate.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from inferlca.errors import InvalidValueError, named


class DeviceLike(Protocol):
    """What the estimator reads from a catalog ``Device`` (see docs/CONTRACTS.md)."""

    id: str
    name: str
    category: str
    peak_flops: dict[str, float]
    bandwidth_gbs: float | None
    tdp_w: float | None


@dataclass(frozen=True)
class Roof:
    """The two roofs of one device at one precision.

    Attributes:
        peak_flops: peak FLOP/s at ``precision``.
        bandwidth_bps: memory bandwidth in B/s.
        tdp_w: thermal design power (W).
        given: which of the three values the user supplied instead of the catalog.
    """

    device_id: str
    device_name: str
    category: str
    precision: str
    peak_flops: float
    bandwidth_bps: float
    tdp_w: float
    given: tuple[str, ...] = field(default=())
    peak_source: str = ""
    sparse: bool = False

    @property
    def ridge_intensity(self) -> float:
        """FLOP/B at which the two roofs meet."""
        return self.peak_flops / self.bandwidth_bps

    def attainable(self, intensity: float) -> float:
        """Attainable FLOP/s at an operational intensity (FLOP/B)."""
        return min(self.peak_flops, intensity * self.bandwidth_bps)

    def to_dict(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "device_name": self.device_name,
                "category": self.category, "precision": self.precision,
                "peak_flops": self.peak_flops, "bandwidth_gbs": self.bandwidth_bps / 1e9,
                "tdp_w": self.tdp_w, "ridge_flop_per_byte": self.ridge_intensity,
                "given_by_user": list(self.given), "peak_source": self.peak_source,
                "sparse": self.sparse}


def roof_for(device: DeviceLike, precision: str, *, peak_flops: float | None = None,
             bandwidth_gbs: float | None = None, tdp_w: float | None = None,
             sparse: bool = False) -> Roof:
    """Take a device's roof from the rates file and the catalog, filling or overriding values the
    user gave. The peak is the dense rate at ``precision`` (:mod:`inferlca.estimate.rates`); the
    2:4 sparse rate only with ``sparse``.

    Raises:
        InvalidValueError: a value is missing and was not given; the message names each missing
            value, the rates the device has, and the option that supplies it.
    """
    from inferlca.estimate.rates import describe_rates, peak_for

    given: list[str] = []
    rate = peak_for(device, precision, sparse=sparse)
    peak = rate.dense if rate is not None else None
    peak_source = rate.source if rate is not None else ""
    if peak_flops is not None:
        peak = _check_positive("peak_flops", peak_flops)
        given.append("peak_flops")
    bw = getattr(device, "bandwidth_gbs", None)
    if bandwidth_gbs is not None:
        bw = _check_positive("bandwidth_gbs", bandwidth_gbs)
        given.append("bandwidth_gbs")
    tdp = getattr(device, "tdp_w", None)
    if tdp_w is not None:
        tdp = _check_positive("tdp_w", tdp_w)
        given.append("tdp_w")
    missing = []
    if not peak:
        kind = "sparse " if sparse else ""
        missing.append(f"{kind}{precision} peak FLOP/s (catalog has: {describe_rates(device)}; "
                       f"pick one of those with {named('precision')}, or give {named('peak_flops')} in FLOP/s, "
                       "e.g. 1.41e12)")
    if not bw:
        missing.append(f"memory bandwidth (give {named('bandwidth_gbs')}, in GB/s, e.g. 136.5)")
    if not tdp:
        missing.append(f"TDP (give {named('tdp_w')}, in W)")
    if missing:
        raise InvalidValueError(f"device {device.name!r} lacks " + "; ".join(missing))
    assert peak is not None and bw is not None and tdp is not None
    if "peak_flops" in given:
        peak_source = "user input (--peak-flops)"
    return Roof(device.id, device.name, getattr(device, "category", "") or "", precision,
                float(peak), float(bw) * 1e9, float(tdp), tuple(given), peak_source, sparse)


def _check_positive(option: str, v: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise InvalidValueError(f"{named(option)} must be a finite number > 0, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class RooflinePoint:
    """Where one pass sits under a device's roof.

    Attributes:
        intensity: FLOP/B.
        attainable_flops: FLOP/s at that intensity.
        bound: ``compute`` (intensity >= ridge) or ``memory``.
        time_lower_bound_s: ``flops / attainable_flops`` (s), efficiency 1.
    """

    name: str
    flops: float
    bytes: float
    intensity: float
    attainable_flops: float
    bound: str
    time_lower_bound_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "flops": self.flops, "bytes": self.bytes,
                "intensity_flop_per_byte": self.intensity,
                "attainable_flops": self.attainable_flops, "bound": self.bound,
                "time_lower_bound_s": self.time_lower_bound_s}


def place(name: str, flops: float, bytes_moved: float, roof: Roof) -> RooflinePoint:
    """Put a pass of ``flops`` FLOPs and ``bytes_moved`` bytes under ``roof``."""
    if not (flops > 0 and bytes_moved > 0):
        raise InvalidValueError(f"a roofline point needs FLOPs > 0 and bytes > 0, got "
                                f"{flops} and {bytes_moved}")
    intensity = flops / bytes_moved
    bound = "compute" if intensity >= roof.ridge_intensity else "memory"
    attainable = roof.peak_flops if bound == "compute" else intensity * roof.bandwidth_bps
    return RooflinePoint(name, flops, bytes_moved, intensity, attainable, bound,
                         flops / attainable)
