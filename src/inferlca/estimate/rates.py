"""Peak rates per precision, the precision a device serves at, and the bytes a value takes.

``data/device_rates.csv`` holds the **dense** tensor rates of catalogued devices at each
precision (TFLOP/s, TOP/s for integers), each row with its source; the structured-sparsity rate
(2:4) sits in its own column and is never used unless asked for (``sparse=True``). A precision the
file lacks falls back to the hardware catalog's ``Device.peak_flops`` (its FP32 and dense tensor
columns), so a device added to the catalog is estimated at the rates the catalog gives.

**Default precision** (:func:`default_precision`): what serving stacks run on the device class
unless told otherwise, printed with every estimate:

* GPUs and Jetson modules with an FP16 rate: ``fp16`` (TensorRT, vLLM, TGI and ONNX Runtime
  serve FP16 by default; INT8 and FP8 need a quantised model, so they are opt-in);
* everything else (CPUs, GPUs without a half-precision rate): ``fp32``.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError

#: Bytes one value takes at each precision (weights, activations and KV cache alike).
BYTES_PER_VALUE: dict[str, float] = {"fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0,
                                     "fp8": 1.0, "int8": 1.0, "int4": 0.5}
PRECISIONS: tuple[str, ...] = tuple(BYTES_PER_VALUE)


@dataclass(frozen=True)
class Rate:
    """One device's peak at one precision (FLOP/s or OP/s)."""

    precision: str
    dense: float
    sparse: float | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "dense_flops": self.dense,
                "sparse_flops": self.sparse, "source": self.source}


def check_precision(precision: str) -> str:
    if precision not in BYTES_PER_VALUE:
        raise UnknownNameError("precision", precision, PRECISIONS,
                               f"(accepted: {', '.join(PRECISIONS)})")
    return precision


def bytes_per_value(precision: str) -> float:
    """Bytes per stored value at ``precision`` (int4 is half a byte)."""
    return BYTES_PER_VALUE[check_precision(precision)]


@functools.cache
def _table() -> dict[str, dict[str, Rate]]:
    text = resources.files("inferlca.estimate").joinpath("data/device_rates.csv").read_text(
        "utf-8")
    out: dict[str, dict[str, Rate]] = {}
    for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        prec = row["precision"].strip()
        if prec not in BYTES_PER_VALUE or not row["source"].strip():
            raise InvalidValueError(f"device_rates.csv line {i}: unknown precision or no source")
        sparse = row.get("sparse_tflops", "").strip()
        out.setdefault(row["device_id"].strip(), {})[prec] = Rate(
            prec, float(row["dense_tflops"]) * 1e12, float(sparse) * 1e12 if sparse else None,
            row["source"].strip())
    return out


def rates_for(device: Any) -> dict[str, Rate]:
    """Every rate known for ``device``: the rates file first, then the catalog's peaks."""
    out: dict[str, Rate] = {}
    for prec, v in (getattr(device, "peak_flops", None) or {}).items():
        if v and prec in BYTES_PER_VALUE:
            out[prec] = Rate(prec, float(v), None, "hardware catalog (devices.csv)")
    out.update(_table().get(getattr(device, "id", ""), {}))
    return dict(sorted(out.items(), key=lambda kv: PRECISIONS.index(kv[0])))


def peak_for(device: Any, precision: str, *, sparse: bool = False) -> Rate | None:
    """The peak of ``device`` at ``precision`` (dense unless ``sparse``), or ``None``."""
    r = rates_for(device).get(check_precision(precision))
    if r is None:
        return None
    if sparse:
        if r.sparse is None:
            return None
        return Rate(r.precision, r.sparse, r.sparse, r.source + " (2:4 sparse rate)")
    return r


def default_precision(device: Any) -> tuple[str, str]:
    """The precision the device class usually serves at, and why (see the module docstring)."""
    kind = getattr(device, "kind", None) or "gpu"
    if kind != "cpu" and "fp16" in rates_for(device):
        cat = getattr(device, "category", "") or ""
        return "fp16", f"the usual serving precision of {cat} {kind}s".replace("  ", " ")
    return "fp32", f"default for {kind}s without a half-precision rate"


def describe_rates(device: Any) -> str:
    """``fp32 19.5, fp16 312 (TFLOP/s)`` for error messages, or ``none``."""
    rs = rates_for(device)
    if not rs:
        return "none"
    return ", ".join(f"{p} {r.dense / 1e12:g}" for p, r in rs.items()) + " (TFLOP/s)"


__all__ = ["BYTES_PER_VALUE", "PRECISIONS", "Rate", "bytes_per_value", "check_precision",
           "default_precision", "describe_rates", "peak_for", "rates_for"]
