"""Units in inferlca. Variables carry their unit as a suffix (``energy_j``, ``power_w``,
``duration_s``); the constants below convert between them. Uncertain values
(:class:`~inferlca.uncertainty.UValue`) carry a unit label whose algebra (products, quotients,
whether two labels agree) is at the end of this module."""

from __future__ import annotations

from functools import lru_cache

from inferlca.errors import InvalidValueError

J_PER_WH = 3600.0
J_PER_KWH = 3.6e6
S_PER_HOUR = 3600.0
S_PER_DAY = 86400.0
S_PER_YEAR = 365.25 * S_PER_DAY
G_PER_KG = 1000.0
MM2_PER_CM2 = 100.0


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def j_to_wh(energy_j: float) -> float:
    return energy_j / J_PER_WH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def years_to_s(years: float) -> float:
    return years * S_PER_YEAR


# --- unit labels of uncertain values (UValue) --------------------------------------------------
#
# A unit label is a product of named units with integer powers, written with ``*``, ``/`` and
# ``^``: ``"gCO2e"``, ``"gCO2e/kWh"``, ``"W*s"``, ``"m^2"``, ``"1/s"``. ``""`` (or ``"1"``) is
# dimensionless. Named units are compared as written: ``"kgCO2e"`` is not ``"gCO2e"`` and ``"W*s"``
# is not ``"J"`` (convert with ``UValue.scaled(k, unit)``); only the algebra is done here: a
# product multiplies the factors and a quotient divides them, factors that meet cancel
# (``gCO2e/kWh * kWh -> gCO2e``) and the result is written in the order the factors first
# appeared, numerator then denominator (``W * s -> "W*s"``, ``J / s / s -> "J/s^2"``). A factor
# that is not a plain name (``"per query"``, ``"(a+b)"``) is kept whole as one opaque name.

UnitPowers = tuple[tuple[str, int], ...]


@lru_cache(maxsize=1024)  # pure function of a few distinct labels
def parse_unit(unit: str) -> UnitPowers:
    """``"gCO2e/kWh"`` -> ``(("gCO2e", 1), ("kWh", -1))``; ``""`` and ``"1"`` -> ``()``.

    Every ``/`` divides by the next factor only (``a/b*c`` is ``a*c/b``; ``a/b/c`` is
    ``a/(b*c)``); the result lists each name once, in the order of first appearance, without
    zero powers.
    """
    powers: dict[str, int] = {}
    text = unit.strip()
    if not text or text == "1":
        return ()
    sign = 1
    token = ""
    for ch in text + "*":
        if ch in "*/":
            _add_factor(powers, token.strip(), sign, unit)
            sign = -1 if ch == "/" else 1
            token = ""
        else:
            token += ch
    return tuple((name, p) for name, p in powers.items() if p != 0)


def _add_factor(powers: dict[str, int], factor: str, sign: int, whole: str) -> None:
    if not factor:
        raise InvalidValueError(f"unit {whole!r}: an empty factor around '*' or '/'")
    if factor == "1":
        return
    name, hat, exp = factor.partition("^")
    power = 1
    if hat:
        try:
            power = int(exp)
        except ValueError:
            raise InvalidValueError(
                f"unit {whole!r}: the power in {factor!r} must be a whole number") from None
        name = name.strip()
    powers[name] = powers.get(name, 0) + sign * power


def format_unit(powers: UnitPowers) -> str:
    """The label of :func:`parse_unit`'s form: ``(("W", 1), ("s", 1))`` -> ``"W*s"``."""
    def term(name: str, p: int) -> str:
        return name if p == 1 else f"{name}^{p}"

    num = [term(n, p) for n, p in powers if p > 0]
    den = [term(n, -p) for n, p in powers if p < 0]
    if not den:
        return "*".join(num)
    return ("*".join(num) or "1") + "/" + "/".join(den)


@lru_cache(maxsize=1024)  # pure function of a few distinct labels
def same_unit(a: str, b: str) -> bool:
    """Whether two labels name the same unit (``"W*s"`` and ``"s*W"`` do; ``"J"`` and ``"W*s"``
    do not: names are not converted)."""
    return a == b or dict(parse_unit(a)) == dict(parse_unit(b))


@lru_cache(maxsize=1024)  # pure function of a few distinct labels
def multiply_units(a: str, b: str) -> str:
    """The unit of a product: ``"gCO2e/kWh" * "kWh"`` -> ``"gCO2e"``."""
    return _combine(a, b, 1)


@lru_cache(maxsize=1024)  # pure function of a few distinct labels
def divide_units(a: str, b: str) -> str:
    """The unit of a quotient: ``"gCO2e" / "kWh"`` -> ``"gCO2e/kWh"``; ``"s" / "s"`` -> ``""``."""
    return _combine(a, b, -1)


def _combine(a: str, b: str, sign: int) -> str:
    powers = dict(parse_unit(a))
    for name, p in parse_unit(b):
        powers[name] = powers.get(name, 0) + sign * p
    return format_unit(tuple((n, p) for n, p in powers.items() if p != 0))
