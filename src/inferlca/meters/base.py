"""The power-meter protocol shared by every power source.

A meter is a thin object over one vendor interface (NVML, tegrastats, powercap, /proc/stat...). It
knows its channel names, reads one sample on demand and says whether it is a real sensor or a
model. Everything time-related (periods, marks, gaps, integration) lives in the sampler and in
:mod:`inferlca.traces`, so a meter stays small and easy to fake at the vendor boundary.

A read never returns a made-up number: a channel that could not be read is ``NaN`` in
:attr:`Reading.power_w` and its reason is in :attr:`Reading.errors`; the sampler turns that into a
gap of the trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import Self


@dataclass
class Reading:
    """One sample of a meter.

    Attributes:
        power_w: watts per channel; ``NaN`` where that channel's read failed.
        energy_j: cumulative energy in joules per counter channel (already unwrapped), where the
            hardware has an energy counter; ``NaN`` where unread.
        errors: reason per channel that failed (``None`` key: the whole read failed).

    The sampler timestamps each reading itself (monotonic clock, middle of the read).
    """

    power_w: dict[str, float]
    energy_j: dict[str, float] = field(default_factory=dict)
    errors: dict[str | None, str] = field(default_factory=dict)

    @classmethod
    def failed(cls, channels: Sequence[str], reason: str, counters: Sequence[str] = ()) -> Reading:
        """A reading where every channel failed for ``reason`` (never zeros)."""
        nan = math.nan
        return cls({c: nan for c in channels}, {c: nan for c in counters}, {None: reason})


@dataclass(frozen=True)
class MeterInfo:
    """What ``inferlca meters`` lists: a meter, whether it runs here, and why not."""

    name: str
    available: bool
    reason: str
    estimated: bool
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "available": self.available,
            "reason": self.reason,
            "estimated": self.estimated,
            "description": self.description,
        }


class PowerMeter:
    """Base class of the power sources.

    Subclasses set :attr:`name`, :attr:`estimated`, :attr:`description`, fill :attr:`channels`
    (watts), :attr:`counter_channels` (channels that also have a cumulative energy counter, in
    joules) and :attr:`primary` (the channel standing for the device), and implement
    :meth:`read`. :meth:`probe` says whether the meter can run on this machine without opening it.
    """

    name: ClassVar[str] = "base"
    estimated: ClassVar[bool] = False
    description: ClassVar[str] = ""
    #: measurement scope of the channels: ``accelerator``, ``host`` or ``node``
    #: (:mod:`inferlca.traces.scope`)
    scope: ClassVar[str] = "accelerator"
    #: the physical sensor family this meter reads; two meters with the same family in one
    #: composite would count a rail twice (e.g. tegrastats and ina3221 read the same INA3221)
    rail_family: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every subclass's :meth:`meta` also carries the scope facts (whoever calls it: the
        in-process or the out-of-process sampler), without each meter repeating them."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("meta")
        if own is not None and not getattr(own, "_with_scope", False):

            def meta(self: PowerMeter, _own: Any = own) -> dict[str, Any]:
                out = dict(_own(self))
                for k, v in self.scope_meta().items():
                    out.setdefault(k, v)
                return out

            meta._with_scope = True  # type: ignore[attr-defined]
            meta.__doc__ = own.__doc__
            cls.meta = meta  # type: ignore[method-assign]
    #: Power readings of this meter are averages over about this many seconds (None: instant).
    averaging_s: float | None = None
    #: ``(registry name, options)`` that open the same meter again (set by ``open_meter``); the
    #: process sampler opens its own copy in the sampler process with it. None: not reopenable.
    open_spec: tuple[str, dict[str, Any]] | None = None

    def __init__(self) -> None:
        self.channels: list[str] = []
        self.counter_channels: list[str] = []
        self.primary: str = ""

    @classmethod
    def probe(cls, **options: Any) -> tuple[bool, str]:
        """Return ``(available, reason)`` without side effects; reason says how to fix."""
        raise NotImplementedError

    def read(self) -> Reading:
        """Read every channel once. Must not raise for a failed read: return NaN and a reason."""
        raise NotImplementedError

    def meta(self) -> dict[str, Any]:
        """Facts stored with the trace (device name, driver, rails chosen, model used...)."""
        return self.scope_meta()

    def channel_scopes(self) -> dict[str, str]:
        """Channel -> measurement scope (every channel of a single meter has its scope)."""
        return {c: self.scope for c in dict.fromkeys([*self.channels, *self.counter_channels])}

    def scope_totals(self) -> dict[str, str]:
        """Scope -> the channel that is that scope's total (a single meter: its primary)."""
        return {self.scope: self.primary} if self.primary else {}

    def devices(self) -> list[dict[str, Any]]:
        """The devices this meter measures (index, name, uuid...), recorded with the run."""
        return []

    def scope_meta(self) -> dict[str, Any]:
        from inferlca.traces.scope import scope_meta

        out = scope_meta(self.channel_scopes(), self.scope_totals())
        devs = self.devices()
        if devs:
            out["devices_measured"] = devs
        return out

    def reopen_options(self) -> dict[str, Any]:
        """Options added to :attr:`open_spec` so that a copy opened in another process measures
        what this one does (the modelled meter's measured process is this process, not the
        sampler process that reopens it)."""
        return {}

    def close(self) -> None:
        """Release the vendor handle or subprocess."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_process(proc: Any, timeout_s: float = 2.0) -> None:
    """Stop a child process (a sensor tool or a measured command): SIGTERM, then SIGKILL when it
    has not exited within ``timeout_s``; always reaped. Nothing happens when it already ended."""
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
