"""What each phase of a whole run (load, compute, idle) contributes to the ratio of two runs.

Two runs A and B with per-phase energies ``E_A,p`` and ``E_B,p`` (``energy_load_j``,
``energy_compute_j``, ``energy_idle_j``: an estimate with ``--whole-run`` or a measured run) have
the whole-run ratio ``R = sum_p E_A,p / sum_p E_B,p``. Starting from the compute-only ratio
``R_c = E_A,compute / E_B,compute``, adding the load and idle phases moves it to ``R``. How much
each of the two adds is split exactly with the Shapley rule on ``ln R`` (the average of its
effect added first and added second)::

    v(S)   = ln( sum over {compute} + S of E_A / the same sum of E_B ),  S within {load, idle}
    phi_L  = ((v({L}) - v({})) + (v({L, I}) - v({I}))) / 2
    phi_I  = ((v({I}) - v({})) + (v({L, I}) - v({L}))) / 2
    R      = R_c x exp(phi_L) x exp(phi_I)

so ``exp(phi)`` is the factor by which a phase multiplies the ratio (1: no effect; > 1: it
widens A's lead). The tornado also shows, per phase, the ratio with that phase left out of both
runs. The ratio is of energy; at one grid intensity and PUE the use-phase GWP ratio is the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.errors import InvalidValueError
from inferlca.report.data import RunView

PHASES = ("load", "compute", "idle")
#: the phases whose contribution is split (compute is the base)
ADDED = ("load", "idle")


def phase_energies(run: RunView) -> dict[str, float] | None:
    """The run's energy per phase in J (mean over repetitions); ``None`` without a load phase
    metric or a compute energy (a run that was not estimated or measured as a whole run)."""
    out: dict[str, float] = {}
    for p in PHASES:
        m = run.metric(f"energy_{p}_j", "J")
        if m is None:
            if p == "idle":
                out[p] = 0.0
                continue
            return None
        out[p] = max(0.0, float(m.value))
    if out["compute"] <= 0.0:
        return None
    return out


@dataclass(frozen=True)
class PhaseContribution:
    """The ratio of run ``a`` to run ``b`` and what each phase contributes to it.

    Attributes:
        energy_a, energy_b: energy per phase (J) of each run.
        ratio: whole-run energy ratio ``a / b``.
        compute_ratio: the ratio of the compute phases alone.
        factors: per added phase (load, idle), the Shapley factor on the ratio;
            ``compute_ratio x factors['load'] x factors['idle'] == ratio``.
        without: per phase, the ratio with that phase left out of both runs (``None`` when
            nothing is left in ``b``).
    """

    a: RunView
    b: RunView
    energy_a: dict[str, float]
    energy_b: dict[str, float]
    ratio: float
    compute_ratio: float
    factors: dict[str, float]
    without: dict[str, float | None]

    def share(self, run: str, phase: str) -> float:
        """The share of ``phase`` in run ``'a'`` or ``'b'``'s whole-run energy."""
        e = self.energy_a if run == "a" else self.energy_b
        return e[phase] / sum(e.values())

    def to_dict(self) -> dict[str, Any]:
        return {"a": {"run_id": self.a.run_id, "device": self.a.device_name,
                      "energy_j": dict(self.energy_a)},
                "b": {"run_id": self.b.run_id, "device": self.b.device_name,
                      "energy_j": dict(self.energy_b)},
                "ratio": self.ratio, "compute_ratio": self.compute_ratio,
                "factors": dict(self.factors), "ratio_without": dict(self.without)}


def _ratio(ea: dict[str, float], eb: dict[str, float], phases: Sequence[str]) -> float | None:
    num = sum(ea[p] for p in phases)
    den = sum(eb[p] for p in phases)
    if den <= 0.0 or num <= 0.0:
        return None
    return num / den


def phase_contribution(a: RunView, b: RunView) -> PhaseContribution:
    """Split the energy ratio of ``a`` to ``b`` into the compute ratio and the factors of the
    load and idle phases (module docstring).

    Raises:
        InvalidValueError: a run without per-phase energies (not a whole run).
    """
    ea, eb = phase_energies(a), phase_energies(b)
    for run, e in ((a, ea), (b, eb)):
        if e is None:
            raise InvalidValueError(
                f"run {run.short_id} ({run.device_name}) has no per-phase energy (load and "
                "compute): estimate it with --whole-run, or measure it with inferlca run")
    assert ea is not None and eb is not None

    def v(extra: tuple[str, ...]) -> float:
        r = _ratio(ea, eb, ("compute", *extra))
        assert r is not None  # compute > 0 in both runs
        return math.log(r)

    base = v(())
    phi_l = 0.5 * ((v(("load",)) - base) + (v(("load", "idle")) - v(("idle",))))
    phi_i = 0.5 * ((v(("idle",)) - base) + (v(("load", "idle")) - v(("load",))))
    without = {p: _ratio(ea, eb, [q for q in PHASES if q != p]) for p in PHASES}
    return PhaseContribution(a, b, ea, eb, ratio=math.exp(v(("load", "idle"))),
                             compute_ratio=math.exp(base),
                             factors={"load": math.exp(phi_l), "idle": math.exp(phi_i)},
                             without=without)


def whole_run_pairs(runs: Sequence[RunView], limit: int = 4) -> list[PhaseContribution]:
    """The pairs the report shows: among the estimated runs with a load phase, per (workload,
    scenario, query count), the latest run of the device with the most energy against the one
    with the least. At most ``limit`` pairs."""
    groups: dict[tuple[str, str, int], dict[str, RunView]] = {}
    for v in runs:
        if v.kind != "estimated" or not v.queries:
            continue
        e = phase_energies(v)
        if e is None or e["load"] <= 0.0:
            continue
        g = groups.setdefault((v.workload, v.scenario, v.queries), {})
        if v.device_name not in g or v.created > g[v.device_name].created:
            g[v.device_name] = v
    out: list[PhaseContribution] = []
    for key in sorted(groups):
        latest = list(groups[key].values())
        if len(latest) < 2:
            continue
        total = {v.run_id: sum((phase_energies(v) or {}).values()) for v in latest}
        latest.sort(key=lambda v: (-total[v.run_id], v.device_name))
        out.append(phase_contribution(latest[0], latest[-1]))
        if len(out) >= limit:
            break
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def phase_figure(pairs: Sequence[PhaseContribution]):  # type: ignore[no-untyped-def]
    """One tornado panel per pair on a log axis of the ratio A / B: the black line is the
    whole-run ratio, the dashed line the compute-only ratio; each row is a phase, its bar from
    the ratio without that phase to the whole-run ratio, labelled with its Shapley factor."""
    from inferlca.report import style

    pairs = list(pairs)
    if not pairs:
        return None
    fig = style.figure(2.2 * len(pairs) + 0.8)
    axes = fig.subplots(len(pairs), 1, squeeze=False)
    for ax, c in zip(axes.flat, pairs):
        rows = [p for p in ("idle", "load", "compute")]
        xs = [c.ratio, c.compute_ratio]
        labels = []
        for i, p in enumerate(rows):
            w = c.without[p]
            share = (f"{100 * c.share('a', p):.0f}% / {100 * c.share('b', p):.0f}% of energy")
            factor = (f"x{c.factors[p]:.3g} on the ratio" if p in c.factors
                      else f"ratio alone {c.compute_ratio:.3g}")
            labels.append(f"{p} ({share})\n{factor}")
            if w is None:
                continue
            xs.append(w)
            color = style.FIRST_END if w < c.ratio else style.SECOND_END
            ax.barh(i, c.ratio - w, left=w, color=color, height=0.55, alpha=0.85)
            ax.plot([w], [i], "o", color=color, ms=5, mec="black", mew=0.5, zorder=3)
        ax.axvline(c.ratio, color="black", lw=1.0, zorder=4)
        ax.axvline(c.compute_ratio, color="#555555", lw=1.0, ls="--", zorder=4)
        lo, hi = min(xs), max(xs)
        ax.set_xscale("log")
        ax.set_xlim(lo / 1.25, hi * 1.25)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(f"energy ratio {c.a.device_name[:40]} / {c.b.device_name[:40]}"
                      .replace("$", r"\$"))
        ax.set_title(f"{c.a.workload}, {c.a.queries} queries (estimated): ratio {c.ratio:.3g}, "
                     f"compute only {c.compute_ratio:.3g}".replace("$", r"\$"))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="black", lw=1.0, label="whole-run ratio"),
               Line2D([], [], color="#555555", lw=1.0, ls="--", label="compute-only ratio"),
               Line2D([], [], marker="o", color=style.FIRST_END, lw=6,
                      label="ratio without the phase (phase widens the ratio)"),
               Line2D([], [], marker="o", color=style.SECOND_END, lw=6,
                      label="ratio without the phase (phase narrows it)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=style.LEGEND_PT,
               frameon=False)
    return style.finish(fig)


def phase_table(c: PhaseContribution) -> list[list[str]]:
    """Rows ``phase, energy A (J), energy B (J), ratio without it, factor`` for text output."""
    rows = [[p, _fmt(c.energy_a[p]), _fmt(c.energy_b[p]), _fmt(c.without[p]),
             _fmt(c.factors.get(p))] for p in PHASES]
    rows.append(["whole run", _fmt(sum(c.energy_a.values())), _fmt(sum(c.energy_b.values())),
                 _fmt(c.ratio), _fmt(c.compute_ratio) + " (compute only)"])
    return rows


__all__ = ["ADDED", "PHASES", "PhaseContribution", "phase_contribution", "phase_energies",
           "phase_figure", "phase_table", "whole_run_pairs"]
