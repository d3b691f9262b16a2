"""Decoders served with continuous batching: time and energy per output token at a concurrency.

A server keeps ``C`` sequences in flight. Each engine iteration runs one **decode step** for all of
them (one new token each, at the mean context ``tokens_in + tokens_out / 2``): the weights are
read once for the ``C`` tokens, so the step is memory-bound at small ``C`` and turns compute-bound
once ``C`` passes the ridge. Each request also needs one **prefill** of its prompt
(compute-bound). In the steady state each of the ``C`` slots restarts once per request lifetime,
so over the ``tokens_out - 1`` iterations of one lifetime the engine also runs ``C`` prefills::

    t_step(C)        roofline time of a decode step over C sequences / efficiency
    t_prefill        roofline time of one prompt / efficiency
    TPOT(C)          = t_step(C) + C t_prefill / (tokens_out - 1)        per sequence
    device time / request = t_prefill + (tokens_out - 1) t_step(C) / C
    tokens/s (device)     = tokens_out / (device time per request)
    energy / output token = P x device time per request / tokens_out

with ``P`` the device power of the chosen model (TDP, or idle + dynamic share). The KV cache of
the ``C`` sequences must fit beside the weights (:mod:`inferlca.estimate.memory`): a concurrency
that does not fit is reported with the largest that does, not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferlca.errors import InvalidValueError, named
from inferlca.estimate.flops import faithful_pass
from inferlca.estimate.memory import MemoryCheck, check_memory
from inferlca.estimate.models import ModelFacts
from inferlca.estimate.power import idle_power_w
from inferlca.estimate.roofline import place, roof_for
from inferlca.uncertainty import UValue


@dataclass(frozen=True)
class ServingPoint:
    """The steady state at one concurrency on one device (units in the names)."""

    device_id: str
    device_name: str
    concurrency: int
    precision: str
    tokens_in: int
    tokens_out: int
    memory: MemoryCheck
    prefill_s: UValue | None = None
    step_s: UValue | None = None
    tpot_s: UValue | None = None
    device_s_per_request: UValue | None = None
    tokens_per_s: UValue | None = None
    power_w: UValue | None = None
    energy_per_token_j: UValue | None = None
    step_bound: str = ""

    @property
    def fits(self) -> bool:
        return self.memory.fits is not False

    def to_dict(self) -> dict[str, Any]:
        def d(v: UValue | None) -> dict[str, Any] | None:
            return v.to_dict() if v is not None else None

        return {"device": self.device_id, "device_name": self.device_name,
                "concurrency": self.concurrency, "precision": self.precision,
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "fits": self.fits,
                "memory": self.memory.to_dict(), "prefill_s": d(self.prefill_s),
                "decode_step_s": d(self.step_s), "tpot_s": d(self.tpot_s),
                "device_s_per_request": d(self.device_s_per_request),
                "tokens_per_s": d(self.tokens_per_s), "power_w": d(self.power_w),
                "energy_per_token_j": d(self.energy_per_token_j),
                "decode_step_bound": self.step_bound}


def serving_point(model: ModelFacts, device: Any, precision: str, concurrency: int, *,
                  tokens_in: int, tokens_out: int, efficiency: UValue,
                  power_model: str = "tdp", traffic: str = "fused",
                  idle_fraction: UValue | None = None, **roof_kw: Any) -> ServingPoint:
    """Continuous-batching steady state at ``concurrency`` (see the module docstring)."""
    if model.arch != "decoder":
        raise InvalidValueError(f"{model.name} is an encoder: {named('concurrency')} applies to "
                                f"decoders; give encoders {named('batch')}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidValueError(f"{named('concurrency')} must be integers >= 1, got {concurrency!r}")
    if tokens_out < 2:
        raise InvalidValueError(f"{named('tokens_out')} must be >= 2 for a decode steady state")
    mem = check_memory(model, device, precision, tokens=1, context=tokens_in + tokens_out,
                       batch=concurrency)
    # the prompt's activations are live during its prefill, on top of the in-flight caches
    if mem.fits is False:
        return ServingPoint(device.id, device.name, concurrency, precision, tokens_in,
                            tokens_out, mem)
    roof = roof_for(device, precision, **roof_kw)
    pre = faithful_pass(model, tokens_in, tokens_in, precision, logits_tokens=1,
                        name="prefill", traffic=traffic)
    step = faithful_pass(model, 1, tokens_in + tokens_out / 2, precision, logits_tokens=1,
                         name="decode_step", traffic=traffic, batch=concurrency)
    p_pt = place("prefill", pre.flops, pre.bytes, roof)
    s_pt = place("decode_step", step.flops, step.bytes, roof)
    t_pre = (UValue.exact(p_pt.time_lower_bound_s, "s") / efficiency).with_unit("s")
    t_step = (UValue.exact(s_pt.time_lower_bound_s, "s") / efficiency).with_unit("s")
    n = tokens_out - 1
    tpot = (t_step + t_pre * (concurrency / n)).with_unit("s")
    per_req = (t_pre + t_step * (n / concurrency)).with_unit("s")
    tps = (UValue.exact(float(tokens_out)) / per_req).with_unit("token/s")
    if power_model == "tdp":
        power = UValue.exact(roof.tdp_w, "W", ("device TDP (catalog)",), "derived")
    else:
        idle_w, _ = idle_power_w(roof.device_id, roof.tdp_w, idle_fraction)
        frac = idle_w / roof.tdp_w
        u = min(efficiency.value, 1.0)
        power = UValue(roof.tdp_w * (frac.value + (1 - frac.value) * u),
                       roof.tdp_w * (frac.low + (1 - frac.low) * min(efficiency.low, 1.0)),
                       roof.tdp_w * (frac.high + (1 - frac.high) * min(efficiency.high, 1.0)),
                       "W", (), "derived")
    e_tok = UValue(power.value * per_req.value / tokens_out, power.low * per_req.low / tokens_out,
                   power.high * per_req.high / tokens_out, "J", (), "derived")
    return ServingPoint(device.id, device.name, concurrency, precision, tokens_in, tokens_out,
                        mem, t_pre, t_step, tpot, per_req, tps, power, e_tok, s_pt.bound)


def serving_curve(model: ModelFacts, device: Any, precision: str, concurrencies: list[int],
                  **kw: Any) -> list[ServingPoint]:
    """:func:`serving_point` at each concurrency (a sweep, e.g. 1, 8, 32, 64)."""
    return [serving_point(model, device, precision, c, **kw) for c in concurrencies]


def plot_serving(points: dict[str, list[ServingPoint]], out_dir: Any, stem: str) -> list[Any]:
    """Energy per output token against concurrency, one line per device (PNG and SVG)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, pts in points.items():
        ok = [p for p in pts if p.fits and p.energy_per_token_j is not None]
        if not ok:
            continue
        xs = [p.concurrency for p in ok]
        ys = [p.energy_per_token_j.value for p in ok if p.energy_per_token_j is not None]
        lo = [p.energy_per_token_j.low for p in ok if p.energy_per_token_j is not None]
        hi = [p.energy_per_token_j.high for p in ok if p.energy_per_token_j is not None]
        ax.plot(xs, ys, marker="o", label=name)
        ax.fill_between(xs, lo, hi, alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent sequences (continuous batching)")
    ax.set_ylabel("energy per output token (J, log scale)")
    ax.set_title("Estimated energy per output token (steady state)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    files = [out / f"{stem}.png", out / f"{stem}.svg"]
    for f in files:
        fig.savefig(f, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return files


__all__ = ["ServingPoint", "plot_serving", "serving_curve", "serving_point"]
