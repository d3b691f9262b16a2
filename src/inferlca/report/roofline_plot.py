"""The roofline figure: each device's roof and where the workload's passes sit under it.

Log-log axes: operational intensity (FLOP/B) against attainable performance (FLOP/s). A device's
roof is ``min(peak, intensity x bandwidth)``; its ridge point is marked. Each pass of the
workload (an encoder sequence; a decoder's prefill and mean decode step) is drawn at its
intensity on every device's roof, with the same colour as the roof; measured runs (from
calibration) appear as crosses at the FLOP/s they achieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_MARKERS = {"sequence": "o", "query": "s", "prefill": "^", "decode_step": "v"}


def plot_roofline(estimates: Sequence[Any], out_dir: str | Path, stem: str = "roofline",
                  title: str | None = None, measured: Sequence[Any] = ()) -> list[Path]:
    """Draw the roofline of ``estimates`` and write ``<stem>.png`` and ``<stem>.svg``.

    Args:
        estimates: :class:`inferlca.estimate.estimator.DeviceEstimate` objects (their ``roof``
            and ``points`` are read).
        out_dir: folder to write into (created if needed).
        stem: file name without extension.
        title: figure title; default names the model, method and precision.
        measured: calibration pairs (:class:`inferlca.estimate.calibration.Pair`) of the
            plotted devices; each is drawn as a cross at its intensity and achieved FLOP/s
            (FLOPs / measured time), below its device's roof.

    Returns:
        The paths written (PNG first, then SVG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not estimates:
        raise ValueError("plot_roofline needs at least one estimate")
    intensities = [p.intensity for e in estimates for p in e.points.values()]
    intensities += [m.intensity for m in measured if m.intensity > 0]
    ridges = [e.roof.ridge_intensity for e in estimates]
    lo = min(intensities + ridges) / 10
    hi = max(intensities + ridges) * 10
    x = np.logspace(np.log10(lo), np.log10(hi), 400)

    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, est in enumerate(estimates):
        roof = est.roof
        colour = colours[i % len(colours)]
        ax.loglog(x, np.minimum(roof.peak_flops, x * roof.bandwidth_bps), color=colour, lw=2,
                  label=f"{roof.device_name} ({roof.peak_flops / 1e12:.3g} TFLOP/s "
                        f"{roof.precision}, {roof.bandwidth_bps / 1e9:.4g} GB/s)")
        ax.plot([roof.ridge_intensity], [roof.peak_flops], marker="|", ms=14, color=colour)
        for name, pt in est.points.items():
            ax.plot([pt.intensity], [pt.attainable_flops], marker=_MARKERS.get(name, "o"),
                    ms=9, color=colour, markeredgecolor="black", linestyle="none")
            ax.annotate(f"{name.replace('_step', '')} ({pt.bound})",
                        (pt.intensity, pt.attainable_flops), textcoords="offset points",
                        xytext=(6, -12), fontsize=8, color=colour)
        for m in measured:
            if m.device_id == roof.device_id and m.intensity > 0:
                ax.plot([m.intensity], [m.achieved_flops], marker="x", ms=10, mew=2,
                        color=colour, linestyle="none")
                ax.annotate(f"measured {m.run_id[:8]} ({m.efficiency:.0%} of roof)",
                            (m.intensity, m.achieved_flops), textcoords="offset points",
                            xytext=(6, 4), fontsize=8, color=colour)
    first = estimates[0]
    ax.set_xlabel("operational intensity (FLOP/byte)")
    ax.set_ylabel("attainable performance (FLOP/s)")
    ax.set_title(title or f"Roofline: {first.cost.model.name}, {first.cost.method} count, "
                          f"{first.cost.precision}")
    ax.grid(True, which="both", alpha=0.3)
    # below the axes: inside, it hid the measured crosses that sit low on the right
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1,
              frameon=False)
    fig.tight_layout()
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    for p in paths:
        fig.savefig(p, dpi=120 if p.suffix == ".png" else None, bbox_inches="tight")
    plt.close(fig)
    return paths
