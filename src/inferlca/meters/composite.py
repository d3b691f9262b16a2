"""Several meters read as one: ``--meter nvml+rapl`` and ``auto`` on a machine with more than one
kind of sensor.

A :class:`CompositeMeter` is a plain :class:`~inferlca.meters.base.PowerMeter`: the sampler (in or
out of process) reads it on one clock and gets one :class:`Reading` with every member's channels.

* Channel names are the members' own names; a name that two members share (``cpu`` of RAPL and of
  the modelled meter...) is prefixed with the member's meter name (``rapl.cpu``).
* One channel per measured scope, named after the scope (``accelerator``, ``host``, ``node``), is
  the sum of the members' primary channels of that scope (NaN when one of them failed: a gap,
  never a partial sum); energy counters are summed the same way when every part has one.
* The primary channel is ``node`` when a node meter is a member (it already contains the rest),
  else ``total`` = the sum of the scope channels when there are several, else the one scope channel.
* Two members reading the same sensor family (``rail_family``: nvml twice, tegrastats and ina3221,
  rapl and the modelled CPU meter) would count a rail twice: refused before anything opens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from inferlca.errors import InvalidValueError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.traces.scope import SCOPES, label


def check_distinct(classes: Sequence[type[PowerMeter]]) -> None:
    """Refuse a combination that counts a rail twice (same meter twice, or the same sensor family).

    Raises:
        InvalidValueError: with the pair and what to do.
    """
    seen: dict[str, str] = {}
    for cls in classes:
        fam = cls.rail_family or cls.name
        if fam in seen:
            other = seen[fam]
            what = "the same meter twice" if other == cls.name else (
                f"{other!r} and {cls.name!r} read the same sensors ({fam})"
            )
            raise InvalidValueError(
                f"meter combination counts a rail twice: {what}; keep one of them "
                "(combine meters of distinct parts, e.g. nvml+rapl)"
            )
        seen[fam] = cls.name
        if cls.name in ("replay",):
            raise InvalidValueError("the replay meter cannot be combined with other meters")
        if cls.name == "remote":
            raise InvalidValueError(
                "the remote meter cannot be combined with meters of this machine (its readings "
                "are on the agent's clock); combine on the agent: inferlca meters serve --meter "
                "nvml+rapl")


class CompositeMeter(PowerMeter):
    """Several meters of distinct parts, one reading per sample (see the module doc)."""

    name = "composite"
    estimated = False
    description = "several meters of distinct parts (accelerator + host [+ node]) on one clock"
    scope = "accelerator"

    def __init__(self, members: Sequence[PowerMeter]) -> None:
        super().__init__()
        if len(members) < 2:
            raise InvalidValueError("a composite meter needs at least two meters")
        check_distinct([type(m) for m in members])
        self.members = list(members)
        #: the instance is named after its members (``nvml+rapl``): that is what a run records
        self.name = "+".join(m.name for m in self.members)  # type: ignore[misc]
        #: a member that models power (the modelled CPU meter) makes the whole trace ESTIMATED
        self.estimated_any = any(m.estimated for m in self.members)
        self.estimated = self.estimated_any  # type: ignore[misc]
        counts: dict[str, int] = {}
        for m in self.members:
            for c in dict.fromkeys([*m.channels, *m.counter_channels]):
                counts[c] = counts.get(c, 0) + 1
        self._names: list[dict[str, str]] = []
        for m in self.members:
            self._names.append(
                {
                    c: (f"{m.name}.{c}" if counts[c] > 1 or c in (*SCOPES, "total") else c)
                    for c in dict.fromkeys([*m.channels, *m.counter_channels])
                }
            )
        self._scopes: dict[str, str] = {}
        self._scope_parts: dict[str, list[str]] = {}
        for m, names in zip(self.members, self._names):
            for c, s in m.channel_scopes().items():
                self._scopes[names.get(c, c)] = s
            for s, ch in m.scope_totals().items():
                self._scope_parts.setdefault(s, []).append(names[ch])
        for m, names in zip(self.members, self._names):
            self.channels += [names[c] for c in m.channels]
            self.counter_channels += [names[c] for c in m.counter_channels]
        self._scope_counter: dict[str, bool] = {}
        for s in SCOPES:
            parts = self._scope_parts.get(s)
            if not parts:
                continue
            self.channels.append(s)
            self._scopes[s] = s
            if all(p in self.counter_channels for p in parts):
                self.counter_channels.append(s)
                self._scope_counter[s] = True
        measured = [s for s in SCOPES if s in self._scope_parts]
        if "node" in measured:
            self.primary = "node"
        elif len(measured) > 1:
            self.channels.append("total")
            self._scopes["total"] = label(measured)
            if all(self._scope_counter.get(s) for s in measured):
                self.counter_channels.append("total")
            self.primary = "total"
        else:
            self.primary = measured[0]
        averaging = [m.averaging_s for m in self.members if m.averaging_s]
        self.averaging_s = max(averaging) if averaging else None

    @classmethod
    def probe(cls, **_: Any) -> tuple[bool, str]:
        return True, "combines other meters"

    def read(self) -> Reading:
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for m, names in zip(self.members, self._names):
            try:
                r = m.read()
            except Exception as exc:  # noqa: BLE001 - a member must not break the others
                r = Reading.failed(m.channels, f"{type(exc).__name__}: {exc}", m.counter_channels)
            for c, v in r.power_w.items():
                power[names.get(c, c)] = v
            for c, v in r.energy_j.items():
                energy[names.get(c, c)] = v
            for key, why in r.errors.items():
                if key is None:
                    for ch in m.channels:
                        errors[names[ch]] = f"{m.name}: {why}"
                else:
                    errors[names.get(key, key)] = f"{m.name}: {why}"
        for s, parts in self._scope_parts.items():
            power[s] = _sum(power.get(p, math.nan) for p in parts)
            if self._scope_counter.get(s):
                energy[s] = _sum(energy.get(p, math.nan) for p in parts)
            if math.isnan(power[s]):
                errors[s] = f"a {s} meter read failed"
        if self.primary == "total":
            measured = [s for s in SCOPES if s in self._scope_parts]
            power["total"] = _sum(power[s] for s in measured)
            if "total" in self.counter_channels:
                energy["total"] = _sum(energy[s] for s in measured)
            if math.isnan(power["total"]):
                errors["total"] = "a meter read failed"
        return Reading(power, energy, errors)

    def channel_scopes(self) -> dict[str, str]:
        return dict(self._scopes)

    def scope_totals(self) -> dict[str, str]:
        return {s: s for s in SCOPES if s in self._scope_parts}

    def devices(self) -> list[dict[str, Any]]:
        return [d for m in self.members for d in m.devices()]

    def meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"meters": [m.name for m in self.members]}
        names = []
        for m, ch in zip(self.members, self._names):
            mm = m.meta()
            for k in ("channel_scopes", "scope_totals", "measurement_scope", "devices_measured"):
                mm.pop(k, None)
            out[m.name] = mm
            if mm.get("device_name"):
                names.append(str(mm["device_name"]))
            out.setdefault("channel_names", {})[m.name] = ch
        out["device_name"] = " + ".join(names) or None
        out["scope_rule"] = (
            "each scope channel sums its meters' primary channels; "
            + ("node is the total (it contains the rest)" if self.primary == "node"
               else "total = sum of the scope channels" if self.primary == "total"
               else f"{self.primary} is the total")
        )
        sensors = [m.meta().get("sensor_update_s") for m in self.members]
        slow = [s for s in sensors if isinstance(s, (int, float)) and s]
        if slow:
            out["sensor_update_s"] = max(slow)
        if self.estimated_any:
            out["estimated_members"] = [m.name for m in self.members if m.estimated]
        return out

    def close(self) -> None:
        for m in self.members:
            try:
                m.close()
            except Exception:  # noqa: BLE001, S110 - close every member even if one fails
                pass


def _sum(values: Any) -> float:
    vs = list(values)
    return math.fsum(vs) if vs and not any(math.isnan(v) for v in vs) else math.nan
