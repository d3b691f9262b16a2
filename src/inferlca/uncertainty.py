"""An uncertain value: a nominal figure inside an interval, with where it came from.

The quantities of life-cycle assessment (energy, intensities, footprints, lifetimes) are positive,
so interval arithmetic on them is monotonic and each operation is written once here:

* ``a + b``  -> [a.low + b.low, a.high + b.high]
* ``a * b``  -> [a.low * b.low, a.high * b.high]        (both non-negative)
* ``a / b``  -> [a.low / b.high, a.high / b.low]        (the bounds of the divisor swap)
* ``k / a``  -> [k / a.high, k / a.low]                  (k >= 0)
* ``a * k``  -> [a.low * k, a.high * k]                  (k >= 0; a negative k swaps the bounds)

So an allocation ``t / lifetime`` takes its *low* end from the *longest* lifetime.

``a - b`` -> [a.low - b.high, a.high - b.low] (no sign rule: a difference may reach below zero).

Units are checked (:mod:`inferlca.units` holds the algebra of unit labels):

* ``a + b`` and ``a - b`` need the same unit (``"W*s"`` and ``"s*W"`` are the same; ``"gCO2e"`` and
  ``"kgCO2e"`` are not, nor ``"J"`` and ``"W*s"``): otherwise :class:`~inferlca.errors.UnitError`.
  A dimensionless value (unit ``""``) adds only to a dimensionless value. A plain number is
  dimensionless, except ``0``, which adds to any unit (so ``sum()`` of values works).
* ``a * b`` and ``a / b`` of two values give the product / quotient unit, common factors cancelled
  (``gCO2e/kWh * kWh -> gCO2e``, ``W * s -> W*s``, ``s / s -> ""``); a plain number is
  dimensionless (``a * 2`` keeps ``a``'s unit, ``1 / a`` has unit ``1/unit``).
* a conversion between named units is explicit: ``a.scaled(1e-3, "kgCO2e")``.

Provenance travels with the value: ``sources`` (the union of the operands' sources) and ``kind``
(``input`` given by the user, ``default`` chosen by inferlca, ``derived`` computed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from inferlca.errors import InvalidValueError, UnitError, named
from inferlca.units import divide_units, multiply_units, same_unit

Kind = Literal["input", "default", "derived"]
Number = int | float


def _merge_sources(*groups: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for s in group:
            if s:
                seen.setdefault(s, None)
    return tuple(seen)


@dataclass(frozen=True)
class UValue:
    """A value with an interval ``[low, high]`` around its nominal ``value``, and its provenance.

    Args:
        value: the nominal value.
        low: the lower end of the interval (``low <= value``).
        high: the upper end of the interval (``value <= high``).
        unit: the unit label, e.g. ``"gCO2e"``, ``"gCO2e/kWh"``; ``""`` is dimensionless. Sums
            check it and products derive it (see the module docstring).
        sources: where the number comes from (citations, or ``"user input"``).
        kind: ``input``, ``default`` or ``derived``.
    """

    value: float
    low: float
    high: float
    unit: str = ""
    sources: tuple[str, ...] = field(default=(), compare=False)
    kind: Kind = field(default="derived", compare=False)

    def __post_init__(self) -> None:
        for name in ("value", "low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise InvalidValueError(f"uncertain value: {name} must be a number, got {v!r}")
        # tolerate rounding noise from arithmetic, reject real inversions
        tol = 1e-9 * max(1.0, abs(self.value))
        if self.low > self.value + tol or self.value > self.high + tol:
            raise InvalidValueError(
                f"uncertain value: expected low <= value <= high, got "
                f"{self.low!r} <= {self.value!r} <= {self.high!r}"
            )
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "low", float(min(self.low, self.value)))
        object.__setattr__(self, "high", float(max(self.high, self.value)))
        if isinstance(self.sources, str):
            object.__setattr__(self, "sources", (self.sources,))
        else:
            object.__setattr__(self, "sources", tuple(self.sources))

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def exact(cls, value: Number, unit: str = "", sources: Iterable[str] | str = (),
              kind: Kind = "input") -> UValue:
        """A value without uncertainty."""
        srcs = (sources,) if isinstance(sources, str) else tuple(sources)
        return cls(float(value), float(value), float(value), unit, srcs, kind)

    @classmethod
    def interval(cls, low: Number, high: Number, value: Number | None = None, unit: str = "",
                 sources: Iterable[str] | str = (), kind: Kind = "input") -> UValue:
        """An interval; the nominal value defaults to the midpoint."""
        if low > high:
            raise InvalidValueError(f"inverted interval {low}..{high}: write the low end first")
        nominal = (low + high) / 2 if value is None else value
        srcs = (sources,) if isinstance(sources, str) else tuple(sources)
        return cls(float(nominal), float(low), float(high), unit, srcs, kind)

    @classmethod
    def from_samples(cls, samples: Iterable[Number], nominal: Number | None = None,
                     unit: str = "", sources: Iterable[str] | str = (),
                     kind: Kind = "derived") -> UValue:
        """The spread (min..max) of several estimates; nominal is their mean unless given."""
        xs = [float(x) for x in samples]
        if not xs:
            raise InvalidValueError("uncertain value: no samples to take the spread of")
        value = sum(xs) / len(xs) if nominal is None else float(nominal)
        return cls(value, min(min(xs), value), max(max(xs), value), unit,
                   (sources,) if isinstance(sources, str) else tuple(sources), kind)

    @classmethod
    def parse(cls, text: str, unit: str = "", sources: Iterable[str] | str = ("user input",),
              kind: Kind = "input") -> UValue:
        """Parse ``"1.5"`` or an interval ``"1.1..1.6"`` (nominal: midpoint) or ``"1.1..1.6@1.3"``."""
        raw = text.strip()
        nominal: float | None = None
        if "@" in raw:
            raw, _, nom = raw.partition("@")
            nominal = _parse_number(nom, text)
        if ".." in raw:
            lo_s, _, hi_s = raw.partition("..")
            lo, hi = _parse_number(lo_s, text), _parse_number(hi_s, text)
            if lo > hi:
                raise InvalidValueError(
                    f"inverted interval {text!r}: write it low..high, e.g. {hi_s.strip()}..{lo_s.strip()}")
            if nominal is not None and not lo <= nominal <= hi:
                raise InvalidValueError(f"nominal value in {text!r} lies outside its interval")
            return cls.interval(lo, hi, nominal, unit, sources, kind)
        v = _parse_number(raw, text)
        return cls.exact(v, unit, sources, kind)

    # --- arithmetic ---------------------------------------------------------------------------

    def _derive(self, value: float, low: float, high: float, other: UValue | None = None,
                unit: str | None = None) -> UValue:
        sources = _merge_sources(self.sources, other.sources if other is not None else ())
        lo, hi = (low, high) if low <= high else (high, low)
        return UValue(value, min(lo, value), max(hi, value),
                      self.unit if unit is None else unit, sources, "derived")

    def __add__(self, other: UValue | Number) -> UValue:
        o = self._addend(other, "+")
        return self._derive(self.value + o.value, self.low + o.low, self.high + o.high, o)

    __radd__ = __add__

    def __sub__(self, other: UValue | Number) -> UValue:
        o = self._addend(other, "-")
        return self._derive(self.value - o.value, self.low - o.high, self.high - o.low, o)

    def __rsub__(self, other: Number) -> UValue:
        return self._addend(other, "-") - self

    def _addend(self, other: UValue | Number, op: str) -> UValue:
        """``other`` as a value of this one's unit, or UnitError (see the module docstring)."""
        if isinstance(other, UValue):
            if not same_unit(self.unit, other.unit):
                raise UnitError(
                    f"cannot {'add' if op == '+' else 'subtract'} values of different units: "
                    f"{self.format()} {op} {other.format()}"
                    + ("" if self.unit and other.unit else
                       " (a dimensionless value adds only to a dimensionless one)"))
            return other
        o = _coerce(other)
        if o.value != 0 and self.unit:
            raise UnitError(f"cannot {'add' if op == '+' else 'subtract'} the plain number "
                            f"{o.value:g} {'to' if op == '+' else 'from'} {self.format()}: give it "
                            f"a unit (UValue.exact({o.value:g}, {self.unit!r}))")
        return replace(o, unit=self.unit)

    def __mul__(self, other: UValue | Number) -> UValue:
        if isinstance(other, UValue):
            _require_non_negative(self, other)
            return self._derive(self.value * other.value, self.low * other.low,
                                self.high * other.high, other,
                                unit=multiply_units(self.unit, other.unit))
        k = float(other)
        return self._derive(self.value * k, self.low * k, self.high * k)

    __rmul__ = __mul__

    def __truediv__(self, other: UValue | Number) -> UValue:
        if isinstance(other, UValue):
            _require_non_negative(self, other)
            if other.low <= 0:
                raise InvalidValueError("division by an uncertain value whose interval reaches 0")
            return self._derive(self.value / other.value, self.low / other.high,
                                self.high / other.low, other,
                                unit=divide_units(self.unit, other.unit))
        k = float(other)
        if k == 0:
            raise InvalidValueError("division by zero")
        return self._derive(self.value / k, self.low / k, self.high / k)

    def __rtruediv__(self, other: Number) -> UValue:
        return _coerce(other) / self

    # --- helpers ------------------------------------------------------------------------------

    @property
    def is_exact(self) -> bool:
        return self.low == self.value == self.high

    @property
    def relative_spread(self) -> tuple[float, float]:
        """(low / value, high / value), or (1, 1) for a zero value."""
        if self.value == 0:
            return (1.0, 1.0)
        return (self.low / self.value, self.high / self.value)

    def with_unit(self, unit: str) -> UValue:
        return replace(self, unit=unit)

    def with_sources(self, *sources: str, kind: Kind | None = None) -> UValue:
        return replace(self, sources=_merge_sources(self.sources, sources),
                       kind=self.kind if kind is None else kind)

    def widen(self, factor_low: float, factor_high: float) -> UValue:
        """Widen the interval: low * factor_low, high * factor_high (factors around 1)."""
        return replace(self, low=min(self.low * factor_low, self.value),
                       high=max(self.high * factor_high, self.value))

    def scaled(self, k: float, unit: str) -> UValue:
        """A unit conversion: multiply by ``k`` and relabel."""
        return replace(self * k, unit=unit, kind=self.kind, sources=self.sources)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def to_dict(self, digits: int | None = None) -> dict[str, float]:
        """``{"value", "low", "high"}``, the shape of every uncertain number in JSON output."""
        if digits is None:
            return {"value": self.value, "low": self.low, "high": self.high}
        return {k: _round_sig(v, digits) for k, v in
                (("value", self.value), ("low", self.low), ("high", self.high))}

    def to_full_dict(self) -> dict[str, Any]:
        return {**self.to_dict(), "unit": self.unit, "sources": list(self.sources), "kind": self.kind}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], unit: str = "") -> UValue:
        return cls(float(d["value"]), float(d["low"]), float(d["high"]), d.get("unit", unit),
                   tuple(d.get("sources", ())), d.get("kind", "derived"))

    def format(self, unit: str | None = None, digits: int = 3) -> str:
        """``12.3 [9.8 - 15.1] mgCO2e``; an exact value prints alone."""
        u = self.unit if unit is None else unit
        tail = f" {u}" if u else ""
        if self.is_exact:
            return f"{_fmt(self.value, digits)}{tail}"
        return f"{_fmt(self.value, digits)} [{_fmt(self.low, digits)} - {_fmt(self.high, digits)}]{tail}"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class Bounds:
    """The accepted range of a user-given number or interval, for :func:`parse_bounded`.

    Args:
        minimum: the lowest accepted value (``None``: no lower bound).
        maximum: the highest accepted value (``None``: no upper bound).
        min_inclusive: whether ``minimum`` itself is accepted (``>=``) or not (``>``).
        max_inclusive: whether ``maximum`` itself is accepted (``<=``) or not (``<``).
        unit: the unit of the values, e.g. ``"years"``.
        example: an interval to show in messages, e.g. ``"4..7"``.
    """

    minimum: float | None = None
    maximum: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    unit: str = ""
    example: str = ""

    def contains(self, x: float) -> bool:
        if self.minimum is not None and (x < self.minimum or
                                         (x == self.minimum and not self.min_inclusive)):
            return False
        if self.maximum is not None and (x > self.maximum or
                                         (x == self.maximum and not self.max_inclusive)):
            return False
        return math.isfinite(x)

    def describe(self) -> str:
        """``>= 1 (a number, or an interval such as 1.1..1.6)``, with the unit if there is one."""
        unit = f" {self.unit}" if self.unit else ""
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>=' if self.min_inclusive else '>'} {self.minimum:g}{unit}")
        if self.maximum is not None:
            parts.append(f"{'<=' if self.max_inclusive else '<'} {self.maximum:g}{unit}")
        example = self.example or "low..high"
        if not parts:
            return f"a finite number{unit}, or an interval such as {example}"
        return f"{' and '.join(parts)} (a number, or an interval such as {example})"


def parse_bounded(param: str, value: str | Number | UValue, bounds: Bounds, unit: str = "",
                  sources: Iterable[str] | str = ("user input",),
                  kind: Kind = "input") -> UValue:
    """The one reading of a user-given "number or interval ``a..b``, within bounds".

    ``value`` is a number, text (``"1.5"``, ``"1.1..1.6"``, ``"1.1..1.6@1.3"``) or a UValue;
    both ends of an interval must lie within ``bounds``. Errors are :class:`InvalidValueError`
    with ``param=param``: the message names the parameter (``param``) and the accepted range.
    """
    accepted = bounds.describe()
    unit = unit or bounds.unit
    if isinstance(value, UValue):
        v = value
    elif isinstance(value, str):
        try:
            v = UValue.parse(value, unit, sources, kind)
        except InvalidValueError as exc:
            raise InvalidValueError(f"{named(param)}: {exc}; accepted: {accepted}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValueError(f"{named(param)} must be {accepted}, got {value!r}")
    else:
        v = UValue.exact(float(value), unit, sources, kind)
    if not (bounds.contains(v.low) and bounds.contains(v.high)):
        raise InvalidValueError(f"{named(param)} must be {accepted}, got {value!r}")
    return v.with_unit(unit) if unit else v


def _coerce(x: UValue | Number) -> UValue:
    if isinstance(x, UValue):
        return x
    return UValue.exact(float(x), kind="derived")


def _require_non_negative(*vals: UValue) -> None:
    for v in vals:
        if v.low < 0:
            raise InvalidValueError(
                "interval multiplication and division are defined here for non-negative "
                f"quantities; got an interval reaching {v.low}")


def _parse_number(s: str, whole: str) -> float:
    try:
        v = float(s.strip())
    except ValueError:
        raise InvalidValueError(
            f"cannot read {whole!r} as a number or an interval LOW..HIGH") from None
    if math.isnan(v) or math.isinf(v):
        raise InvalidValueError(f"{whole!r} is not a finite number")
    return v


def _round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _fmt(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e6 or ax < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{_round_sig(x, digits):,.{max(0, digits - 1 - math.floor(math.log10(ax)))}f}"
