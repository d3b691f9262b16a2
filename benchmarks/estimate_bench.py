"""Estimator speed: the closed-form decode count against summing every decode step.

The faithful count of a decoder query uses one decode step at the mean context instead of
``tokens_out - 1`` steps (the counts are linear in the context, so both totals are equal). This
script measures both side by side in one run and prints their ratio, then the time to estimate a
model on every catalog device that has a roof. Run on demand::

    python benchmarks/estimate_bench.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from inferlca.errors import InferlcaError
from inferlca.estimate.api import estimate
from inferlca.estimate.flops import faithful_pass, query_cost
from inferlca.estimate.models import PRESETS
from inferlca.hardware.catalog import get_catalog


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    model = PRESETS["llama-3-8b"]
    t_in, t_out = 1024, 2048

    def closed() -> float:
        c = query_cost(model, "faithful", "fp16", tokens_in=t_in, tokens_out=t_out)
        return c.flops

    def explicit() -> float:
        pre = faithful_pass(model, t_in, t_in, "fp16", logits_tokens=1)
        return pre.flops + sum(faithful_pass(model, 1, t_in + j, "fp16", logits_tokens=1).flops
                               for j in range(1, t_out))

    a, b = closed(), explicit()
    assert abs(a - b) <= 1e-9 * b, (a, b)
    t_closed, t_explicit = _best(closed), _best(explicit)
    print(f"llama-3-8b, {t_in} in / {t_out} out: {a:.4e} FLOP by both ways")
    print(f"  closed form   {t_closed * 1e6:9.1f} us")
    print(f"  per-step sum  {t_explicit * 1e6:9.1f} us   ratio {t_explicit / t_closed:.0f}x")

    cat = get_catalog()
    devices = []
    for d in cat.devices():
        if (d.peak_flops or {}).get("fp32") and d.bandwidth_gbs and d.tdp_w:
            devices.append(d)
    try:
        t_all = _best(lambda: estimate("bert-large", devices, with_impact=True), repeat=3)
        t_one = _best(lambda: estimate("bert-large", devices[:1], with_impact=True), repeat=3)
    except InferlcaError as exc:  # pragma: no cover - catalog problems are reported, not hidden
        print(f"estimate failed: {exc}")
        return
    print(f"bert-large with GWP on {len(devices)} catalog devices: {t_all * 1e3:.1f} ms "
          f"({t_all / t_one:.1f}x one device, {t_one * 1e3:.1f} ms)")

    # issue 13: a concurrency sweep against one point, and the published-results validation
    from inferlca.estimate.published import load_published, validate
    from inferlca.estimate.serving import serving_curve, serving_point
    from inferlca.uncertainty import UValue

    h100 = cat.get("h100-sxm5-80gb")
    kw = {"tokens_in": 512, "tokens_out": 717, "efficiency": UValue.exact(1.0)}
    t_pt = _best(lambda: serving_point(model, h100, "fp16", 64, **kw))
    sweep = [1, 2, 4, 8, 16, 32, 64, 128]
    t_sw = _best(lambda: serving_curve(model, h100, "fp16", sweep, **kw))
    print(f"serving steady state: one point {t_pt * 1e6:.1f} us, {len(sweep)}-point sweep "
          f"{t_sw * 1e6:.1f} us (ratio {t_sw / t_pt:.1f}x)")
    points = load_published()
    t_val = _best(lambda: validate(points, cat), repeat=3)
    print(f"validate {len(points)} published results (leave-one-out): {t_val * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
