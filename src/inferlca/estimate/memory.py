"""Does the workload fit the device's memory? If not, what would it take?

The bytes a device must hold while serving (decimal GB, ``1e9`` B, so the check is conservative
for capacities quoted in GiB)::

    weights      = parameters x bytes_per_value
    KV cache     = concurrency x context x layers x 2 x kv_dim x bytes_per_value   (decoders)
    activations  = batch x tokens x (3 d + f) x bytes_per_value   (the live tensors of one layer:
                   its input, the residual, and the widest intermediate; fused kernels free the
                   rest layer by layer)

Framework overhead (CUDA context, allocator slack, TensorRT workspace) is left out, so "fits"
is necessary, not sufficient. When it does not fit, :class:`MemoryCheck` says by how much and
what would make it fit: a lower precision (weights, activations and cache shrink together), more
devices (tensor parallel: weights split ``n`` ways), or offloading weights to host memory (then
every pass streams them over the host link, so time is no longer the device's roofline). For
decoders it also gives the largest concurrency whose KV cache fits (the memory bound on the
batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from inferlca.estimate.models import ModelFacts
from inferlca.estimate.rates import bytes_per_value

GB = 1e9


@dataclass(frozen=True)
class MemoryCheck:
    """Bytes needed against the device's capacity (units in the names)."""

    device_id: str
    precision: str
    capacity_bytes: float | None
    weight_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    kv_bytes_per_token: float
    batch: int
    max_batch: int | None
    advice: tuple[str, ...] = field(default=())

    @property
    def need_bytes(self) -> float:
        return self.weight_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def fits(self) -> bool | None:
        """``None`` when the catalog has no memory size for the device."""
        if self.capacity_bytes is None:
            return None
        return self.need_bytes <= self.capacity_bytes

    def summary(self) -> str:
        cap = "unknown" if self.capacity_bytes is None else f"{self.capacity_bytes / GB:.4g} GB"
        return (f"needs {self.need_bytes / GB:.4g} GB (weights {self.weight_bytes / GB:.4g}, "
                f"KV cache {self.kv_cache_bytes / GB:.4g}, activations "
                f"{self.activation_bytes / GB:.3g}) of {cap}")

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device_id, "precision": self.precision,
                "capacity_gb": None if self.capacity_bytes is None else self.capacity_bytes / GB,
                "need_gb": self.need_bytes / GB, "weights_gb": self.weight_bytes / GB,
                "kv_cache_gb": self.kv_cache_bytes / GB,
                "activations_gb": self.activation_bytes / GB,
                "kv_bytes_per_token": self.kv_bytes_per_token, "batch": self.batch,
                "max_batch": self.max_batch, "fits": self.fits, "advice": list(self.advice)}


def kv_bytes_per_token(model: ModelFacts, precision: str) -> float:
    """KV-cache bytes one token of context takes (0 for encoders, which keep no cache)."""
    if model.arch != "decoder":
        return 0.0
    return model.layers * 2 * model.kv_dim * bytes_per_value(precision)


def _need(model: ModelFacts, precision: str, tokens: int, context: int, batch: int) -> tuple[
        float, float, float]:
    b = bytes_per_value(precision)
    weights = model.parameter_count() * b
    kv = batch * context * kv_bytes_per_token(model, precision)
    act = batch * tokens * (3 * model.hidden + model.ffn) * b
    return weights, kv, act


def check_memory(model: ModelFacts, device: Any, precision: str, *, tokens: int, context: int,
                 batch: int = 1) -> MemoryCheck:
    """Memory needed to serve ``batch`` sequences of ``tokens`` new tokens against ``context``
    tokens of cache (decoders: prompt + generated; encoders: ``context`` is unused)."""
    mem_gb = getattr(device, "memory_gb", None)
    cap = float(mem_gb) * GB if mem_gb else None
    weights, kv, act = _need(model, precision, tokens, context, batch)
    per_token = kv_bytes_per_token(model, precision)
    per_seq = context * per_token + tokens * (3 * model.hidden + model.ffn) * bytes_per_value(
        precision)
    max_batch = None
    if cap is not None:
        max_batch = max(0, int((cap - weights) // per_seq)) if per_seq > 0 else None
    advice: list[str] = []
    need = weights + kv + act
    if cap is not None and need > cap:
        advice.append(f"needs {need / GB:.4g} GB, the device has {cap / GB:.4g} GB")
        for lower in ("fp16", "int8", "int4"):
            if bytes_per_value(lower) >= bytes_per_value(precision):
                continue
            w2, kv2, a2 = _need(model, lower, tokens, context, batch)
            if w2 + kv2 + a2 <= cap:
                advice.append(f"quantised to {lower} it would need {(w2 + kv2 + a2) / GB:.4g} GB "
                              "and fit")
                break
        n = max(2, math.ceil(need / cap))
        advice.append(f"split over {n} such devices (tensor parallel, weights {weights / n / GB:.4g}"
                      " GB each)")
        advice.append("or offload weights to host memory: every pass then streams "
                      f"{max(0.0, weights - (cap - kv - act)) / GB:.4g} GB over the host link, "
                      "which the roofline does not model")
        if model.arch == "decoder" and batch > 1 and max_batch is not None:
            advice.append(f"at most {max_batch} concurrent sequence(s) fit at this precision")
    return MemoryCheck(getattr(device, "id", "?"), precision, cap, weights, kv, act, per_token,
                       batch, max_batch, tuple(advice))


__all__ = ["GB", "MemoryCheck", "check_memory", "kv_bytes_per_token"]
