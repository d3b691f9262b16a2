"""The report's figure style, written once: size, fonts, colours per device, display units, and
titles that fit.

Every figure of :mod:`inferlca.report.plots` is made by :func:`figure` (one width for all, the
height from the content) and passed through :func:`finish` before it is saved, which sets the
font sizes of every text and wraps any title wider than the space it has, so that no title is
cut. :func:`overflowing_texts` lists the texts that still lie outside the figure (tests assert it
is empty).

One display unit per quantity: :func:`gwp_unit` picks the unit (kg, g, mg or µg CO2e) from the
median magnitude of all values of that quantity in the report or table, and every view of the
quantity uses it.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH_IN = 10.0          # every figure is this wide (the page shows them at one scale)
DPI = 100
TITLE_PT = 10.0          # figure title (suptitle)
AX_TITLE_PT = 9.0        # panel titles
LABEL_PT = 8.0           # axis labels
TICK_PT = 7.0            # tick labels
LEGEND_PT = 7.0
MAX_DEVICES_PER_FIGURE = 8  # more devices: the view is split into pages of this many

COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
          "#666666", "#1f78b4", "#b2df8a")
FIRST_END = "#2a9d8f"     # tornado: the parameter's first end
SECOND_END = "#e76f51"    # tornado: its second end


def figure(height_in: float, width_in: float = WIDTH_IN):  # type: ignore[no-untyped-def]
    """A new Agg figure of the report's width (no pyplot state), constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, max(2.0, height_in)), dpi=DPI, layout="constrained")


_REPORT_ORDER: list[str] = []


@contextlib.contextmanager
def report_devices(order: Sequence[str]) -> Iterator[None]:
    """Within this block every figure gives a device the colour of its place in ``order`` (the
    whole report's device order), so a device has one colour in every figure of a report."""
    saved = list(_REPORT_ORDER)
    _REPORT_ORDER[:] = list(order)
    try:
        yield
    finally:
        _REPORT_ORDER[:] = saved


def device_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per device: its place in the report's device order (:func:`report_devices`)
    when it has one, else its place in ``names``."""
    if _REPORT_ORDER and all(n in _REPORT_ORDER for n in names):
        return {n: COLORS[_REPORT_ORDER.index(n) % len(COLORS)] for n in names}
    return {n: COLORS[i % len(COLORS)] for i, n in enumerate(names)}


@dataclass(frozen=True)
class Unit:
    """A display unit: ``display value = value in the base unit * scale``."""

    name: str
    scale: float

    def __call__(self, x: float) -> float:
        return x * self.scale


_GWP_UNITS = (Unit("kgCO2e", 1e-3), Unit("gCO2e", 1.0), Unit("mgCO2e", 1e3), Unit("µgCO2e", 1e6))


def gwp_unit(values_g: Iterable[float | None]) -> Unit:
    """The display unit for GWP values given in gCO2e: the largest unit in which the median of
    the positive values is at least 1 (µgCO2e below 1 mg); gCO2e when there are none."""
    xs = [abs(float(v)) for v in values_g
          if v is not None and math.isfinite(float(v)) and v != 0]
    if not xs:
        return _GWP_UNITS[1]
    med = statistics.median(xs)
    for u in _GWP_UNITS:
        if med * u.scale >= 1.0:
            return u
    return _GWP_UNITS[-1]


def num(x: float) -> str:
    """A number for a label: 3 significant digits, thousands separated, no exponent between
    1e-4 and 1e7 (``2,450``, ``0.0638``)."""
    ax = abs(x)
    if 1000 <= ax < 1e7:
        return f"{x:,.0f}"
    if ax == 0 or 1e-4 <= ax < 1000:
        return f"{x:.3g}"
    return f"{x:.2e}"


def pages(items: Sequence[Any], size: int = MAX_DEVICES_PER_FIGURE) -> list[list[Any]]:
    """``items`` cut into consecutive pages of at most ``size``."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)] or [[]]


def _titles(fig: Any) -> list[tuple[Any, float]]:
    """(title text, width in pixels it may take) for the figure's title and every panel title."""
    out = []
    fig_w = fig.bbox.width
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        out.append((sup, fig_w * 0.98))
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        w = ax.get_position().width * fig_w
        for t in (ax.title, ax._left_title, ax._right_title):
            if t.get_text():
                out.append((t, max(w * 1.1, 60.0)))
    return out


def _fit(fig: Any, rounds: int = 3) -> None:
    """Wrap every title wider than its space (measured by the renderer) onto more lines."""
    original: dict[int, str] = {}
    for _ in range(rounds):
        renderer = fig.canvas.get_renderer()
        changed = False
        for t, allowed in _titles(fig):
            w = t.get_window_extent(renderer).width
            if w <= allowed:
                continue
            text = t.get_text()
            longest = max(len(line) for line in text.split("\n"))
            n = max(8, int(longest * allowed / w * 0.92))
            src = original.setdefault(id(t), " ".join(text.split("\n")))
            t.set_text("\n".join(textwrap.wrap(src, n, break_long_words=True)))
            changed = True
        if not changed:
            return
        fig.draw_without_rendering()


def finish(fig: Any) -> Any:
    """Apply the report's font sizes to every text of ``fig`` and make every title fit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    sup = getattr(fig, "_suptitle", None)
    if sup is not None:
        sup.set_fontsize(TITLE_PT)
    for ax in fig.axes:
        ax.title.set_fontsize(AX_TITLE_PT)
        ax.xaxis.label.set_fontsize(LABEL_PT)
        ax.yaxis.label.set_fontsize(LABEL_PT)
        ax.tick_params(labelsize=TICK_PT)
        leg = ax.get_legend()
        if leg is not None:
            for t in leg.get_texts():
                t.set_fontsize(LEGEND_PT)
    for leg in fig.legends:
        for t in leg.get_texts():
            t.set_fontsize(LEGEND_PT)
    fig.draw_without_rendering()  # layout and text sizes, no rasterising
    _fit(fig)
    return fig


def overflowing_texts(fig: Any, tolerance_px: float = 1.0) -> list[str]:
    """The visible texts of ``fig`` whose drawn box lies partly outside the figure (after a
    draw with the figure's own layout); ``[]`` when every text is inside."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    bad = []
    texts: list[Text] = list(fig.texts) + [leg_t for leg in fig.legends
                                           for leg_t in leg.get_texts()]
    sup = getattr(fig, "_suptitle", None)
    if sup is not None:
        texts.append(sup)
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        texts += list(ax.texts)
        leg = ax.get_legend()
        if leg is not None:
            texts += list(leg.get_texts())
    for t in texts:
        if not t.get_visible() or not t.get_text().strip():
            continue
        bb = t.get_window_extent(renderer)
        if bb.width == 0 and bb.height == 0:
            continue
        if bb.x0 < -tolerance_px or bb.y0 < -tolerance_px or bb.x1 > W + tolerance_px \
                or bb.y1 > H + tolerance_px:
            bad.append(t.get_text())
    return bad
