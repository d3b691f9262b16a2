"""Energy of a run attributed to request classes (mixed traffic), by token share per time step.

The rule (docs/method.md, "Energy by request class"):

1. The compute window is cut into the time steps of the power trace: its edges are the window's
   ends and every sample time inside it. Each step's energy is the trace's (a counter where the
   channel has one, else the trapezoid: :func:`inferlca.traces.energy.window_energies_j`). A
   step without a reading (NaN) or with a negative one counts 0 J, and the steps are scaled
   together so that they add up to the measured compute energy exactly.
2. Every request is *work*: its prompt tokens plus its first output token spread evenly over
   ``[sent, first token]`` (the prefill), its other output tokens spread evenly over
   ``[first token, last token]`` (the decode). A span of no length puts its tokens at one
   instant. Work outside the window is moved to the nearest step, so no token is lost.
3. A step's energy goes to the classes in proportion to the tokens each processed in it
   (a prompt token weighs as much as an output token). A step in which no class processed a token
   (the server idle, or only waiting requests) is split by each class's share of all the run's
   tokens; the load phase too. With no token at all in the run, classes share equally.

So each class's energy is >= 0 and the classes' energies add up to the measured energy (to float
rounding): the property ``tests/test_traffic_attribution.py`` checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inferlca.errors import InvalidValueError
from inferlca.traces.trace import PowerTrace


@dataclass(frozen=True)
class Work:
    """Tokens a class processed, spread evenly over ``[start_s, end_s]`` (an instant when equal)."""

    cls: int
    start_s: float
    end_s: float
    tokens: float


def step_edges(trace: PowerTrace, start_s: float, end_s: float) -> np.ndarray:
    """Edges of the trace's time steps inside ``[start_s, end_s]``: the two ends and every sample
    time strictly between them."""
    t = np.asarray(trace.t_s, dtype=float)
    inner = t[(t > start_s) & (t < end_s)]
    return np.concatenate(([start_s], inner, [end_s]))


def step_energies_j(trace: PowerTrace, edges: np.ndarray, total_j: float | None = None,
                    channel: str | None = None) -> np.ndarray:
    """Energy of each step between ``edges`` (rule 1 of the module docstring); scaled to add up to
    ``total_j`` when given (the measured energy of the window)."""
    from inferlca.traces.energy import window_energies_j

    if edges.size < 2:
        return np.zeros(0)
    e = window_energies_j(trace, edges[:-1], edges[1:], channel)
    e = np.where(np.isfinite(e) & (e > 0), e, 0.0)
    if total_j is not None and math.isfinite(total_j):
        s = float(e.sum())
        if s > 0:
            e = e * (total_j / s)
        else:  # no reading inside the window: the whole energy is one idle step
            e = np.zeros_like(e)
            e[0] = total_j
    return e


def tokens_per_step(edges: np.ndarray, work: Sequence[Work], n_classes: int) -> np.ndarray:
    """Tokens of each class in each step: an array ``(n_classes, steps)`` (rule 2)."""
    steps = edges.size - 1
    out = np.zeros((n_classes, max(steps, 0)))
    if steps < 1:
        return out
    lo, hi = float(edges[0]), float(edges[-1])
    for w in work:
        if not (w.tokens > 0) or not 0 <= w.cls < n_classes:
            continue
        a = min(max(float(w.start_s), lo), hi)
        b = min(max(float(w.end_s), lo), hi)
        if b <= a:  # an instant (or work wholly outside the window): the step that holds it
            k = int(np.clip(np.searchsorted(edges, a, side="right") - 1, 0, steps - 1))
            out[w.cls, k] += w.tokens
            continue
        i = int(np.clip(np.searchsorted(edges, a, side="right") - 1, 0, steps - 1))
        j = int(np.clip(np.searchsorted(edges, b, side="left"), i + 1, steps))
        left = np.maximum(edges[i:j], a)
        right = np.minimum(edges[i + 1:j + 1], b)
        frac = np.clip(right - left, 0.0, None) / (b - a)
        out[w.cls, i:j] += w.tokens * frac / frac.sum()
    return out


def whole_run_shares(tokens: np.ndarray) -> np.ndarray:
    """Each class's share of all tokens (equal shares when there is no token)."""
    per_class = tokens.sum(axis=1) if tokens.ndim == 2 else np.asarray(tokens, float)
    total = float(per_class.sum())
    n = per_class.size
    if n == 0:
        return per_class
    return per_class / total if total > 0 else np.full(n, 1.0 / n)


def split_energy(step_j: np.ndarray, tokens: np.ndarray,
                 shares: np.ndarray | None = None) -> np.ndarray:
    """Each class's energy (J): every step's energy split by the classes' tokens in it, a step
    without tokens by ``shares`` (default: the classes' shares of all tokens; rule 3)."""
    step_j = np.asarray(step_j, dtype=float)
    tokens = np.asarray(tokens, dtype=float)
    if tokens.ndim != 2 or tokens.shape[1] != step_j.size:
        raise InvalidValueError(f"tokens per step must be (classes, {step_j.size}), got "
                                f"{tokens.shape}")
    if shares is None:
        shares = whole_run_shares(tokens)
    col = tokens.sum(axis=0)
    busy = col > 0
    frac = np.where(busy, tokens / np.where(busy, col, 1.0), shares[:, None])
    return np.asarray(frac @ step_j, dtype=float)


def class_energies(trace: PowerTrace, start_s: float, end_s: float, work: Sequence[Work],
                   n_classes: int, *, compute_j: float | None = None, load_j: float = 0.0,
                   channel: str | None = None) -> dict[str, np.ndarray]:
    """The energy of each class over the compute window ``[start_s, end_s]`` (trace seconds) and
    of the load phase (by whole-run token share).

    Returns ``{"compute_j", "load_j", "total_j", "tokens", "busy_steps", "steps"}`` (arrays by
    class, except the step counts); ``compute_j.sum() == compute_j`` given (float rounding).
    """
    edges = step_edges(trace, start_s, end_s)
    step_j = step_energies_j(trace, edges, compute_j, channel)
    tok = tokens_per_step(edges, work, n_classes)
    shares = whole_run_shares(tok)
    comp = split_energy(step_j, tok, shares)
    load = shares * (load_j if math.isfinite(load_j) else 0.0)
    return {"compute_j": comp, "load_j": load, "total_j": comp + load,
            "tokens": tok.sum(axis=1), "busy_steps": np.asarray(int((tok.sum(axis=0) > 0).sum())),
            "steps": np.asarray(int(step_j.size))}
