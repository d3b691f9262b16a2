"""The one run specification shared by `inferlca run`, campaigns and the store.

A :class:`RunSpec` says *what* to run; it holds no results. Defaults are the main job's
(`inferlca run` with no arguments). Every field is a plain JSON-friendly value so a spec can be
stored, compared and read back from a campaign file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError, named
from inferlca.uncertainty import parse_bounded

#: ``mixed``: several request classes at once from a traffic file (``extra["traffic"]``, checked
#: by ``inferlca.loadgen.traffic_file``), on our own scheduler like ``interactive``
SCENARIOS = ("single-stream", "multi-stream", "server", "offline", "interactive", "mixed")
BACKENDS = ("auto", "torch", "onnxruntime")
#: the precisions a measured run can take (what the backends can run; a backend may still refuse
#: one it lacks, e.g. int8 on torch)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
#: an estimated run (``inferlca estimate --save``) can also be at the precisions the estimator
#: has rates for and no backend runs here
ESTIMATE_ONLY_PRECISIONS = ("tf32", "fp8", "int4")
ESTIMATE_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4")
#: where the power sampler runs (inferlca.meters.sampler_process.SAMPLER_KINDS)
SAMPLERS = ("process", "process:idle", "process:normal", "process:fifo", "thread")


#: ``llm-generate``: how tokens are chosen, how concurrent requests are batched, what a prompt
#: longer than the model's context does.
SAMPLING_MODES = ("greedy", "sample")
BATCHING_MODES = ("static", "continuous")
OVERFLOW_POLICIES = ("refuse", "truncate")


def _known(names: tuple[str, ...]) -> str:
    """The accepted names, for an error message."""
    return f"(accepted: {', '.join(names)})"


MEMORY_METHODS = ("per-gb", "area")
#: The rules of the plain fields, by kind (the names, uncertain values and the rest are in
#: :meth:`RunSpec.validate`). Each error names the field (``errors.named``) and what is accepted.
_INT_AT_LEAST_1 = ("queries", "repetitions", "samples_per_query", "users", "max_new_tokens")
_OPTIONAL_INT_AT_LEAST_1 = ("threads", "offline_samples", "grid_year")
_POSITIVE = ("period_ms", "target_qps", "duration_s")
_NON_NEGATIVE = ("idle_baseline_s", "cooldown_s", "think_time_s")
_TEXT = ("workload", "backend", "scenario", "meter", "region", "memory_method", "precision",
         "grid_signal")
_OPTIONAL_TEXT = ("device", "weights", "dataset", "prompts", "preset", "label", "grid_file",
                  "grid_unit", "grid_tz")
_BOOL = ("accuracy", "mlperf_compliant")
#: Upper bounds, so that a typo (``-n 99999999999999999999``, ``--period-ms 1e300``) is refused
#: at once instead of running for ever, exhausting memory or overflowing the store's integers.
MAXIMA: dict[str, float] = {
    "queries": 10_000_000, "repetitions": 1_000, "samples_per_query": 100_000,
    "users": 10_000, "max_new_tokens": 1_000_000, "threads": 4_096,
    "offline_samples": 100_000_000, "seed": 2**63 - 1,
    "period_ms": 60_000.0,            # one sample a minute
    "target_qps": 1e7, "duration_s": 7 * 86_400.0,
    "idle_baseline_s": 86_400.0, "cooldown_s": 86_400.0, "think_time_s": 86_400.0,
}
#: Sane ranges of the LCA parameters of a run, beyond their bounds (``lca.defaults``): no grid
#: emits more than a few times a coal plant's ~1,000 gCO2e/kWh, no data centre has a PUE of 10,
#: and no device is written off in under two weeks or after two centuries.
#: Options that only a workload with a model uses: refused (not silently ignored) with ``null``.
_MODEL_ONLY = ("preset", "weights", "dataset", "prompts")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_plain_fields(spec: Any) -> None:
    """Types and ranges of the plain fields of a :class:`RunSpec` (those it has)."""
    have = {f.name for f in fields(spec)}

    def present(names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n in have]

    for name in present(_TEXT):
        v = getattr(spec, name)
        if not isinstance(v, str) or not v.strip():
            raise InvalidValueError(f"{named(name)} must be non-empty text, got {v!r}")
    for name in present(_OPTIONAL_TEXT):
        v = getattr(spec, name)
        if v is not None and not isinstance(v, str):
            raise InvalidValueError(f"{named(name)} must be text, got {v!r}")
        if isinstance(v, str) and not v.strip() and name != "label":
            raise InvalidValueError(f"{named(name)} is empty: give a value or leave the option out")
    for name in present(_INT_AT_LEAST_1):
        v = getattr(spec, name)
        if not _is_int(v) or v < 1:
            raise InvalidValueError(f"{named(name)} must be an integer >= 1, got {v!r}")
    for name in present(_OPTIONAL_INT_AT_LEAST_1):
        v = getattr(spec, name)
        if v is not None and (not _is_int(v) or v < 1):
            raise InvalidValueError(f"{named(name)} must be an integer >= 1 (or unset), got {v!r}")
    if not _is_int(spec.seed) or spec.seed < 0:
        raise InvalidValueError(f"{named('seed')} must be an integer >= 0, got {spec.seed!r}")
    for name in present(_POSITIVE):
        v = getattr(spec, name)
        if not _is_number(v) or v <= 0:
            raise InvalidValueError(f"{named(name)} must be a finite number > 0, got {v!r}")
    for name in present(_NON_NEGATIVE):
        v = getattr(spec, name)
        if not _is_number(v) or v < 0:
            raise InvalidValueError(f"{named(name)} must be a finite number >= 0, got {v!r}")
    for name in present(_BOOL):
        v = getattr(spec, name)
        if not isinstance(v, bool):
            raise InvalidValueError(f"{named(name)} must be true or false, got {v!r}")
    for name, top in MAXIMA.items():
        v = getattr(spec, name, None)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > top:
            raise InvalidValueError(f"{named(name)} must be at most {top:,g}, got {v!r}")
    if not isinstance(spec.extra, dict):
        raise InvalidValueError(f"{named('extra')} must be a mapping, got {spec.extra!r}")


def parse_prompt_len(text: str | int | None, default: tuple[int, int] = (32, 32)) -> tuple[int, int]:
    """Parse a synthetic prompt length: ``"32"`` or ``"16..64"`` (tokens, inclusive)."""
    if text is None:
        return default
    s = str(text).strip()
    try:
        if ".." in s:
            lo_s, hi_s = s.split("..", 1)
            lo, hi = int(lo_s), int(hi_s)
        else:
            lo = hi = int(s)
    except ValueError:
        raise InvalidValueError(f"{named('prompt_len')} must be N or LOW..HIGH tokens (integers), "
                                f"got {text!r}") from None
    if lo < 1 or hi < lo:
        raise InvalidValueError(f"{named('prompt_len')} must satisfy 1 <= LOW <= HIGH, got {text!r}")
    return lo, hi


@dataclass(frozen=True)
class LLMOptions:
    """Settings of the decoder-LLM workload (``llm-generate``) beyond the RunSpec's
    ``max_new_tokens``, ``prompts`` and ``preset``.

    Attributes:
        sampling: ``greedy`` or ``sample`` (temperature and top-k, seeded per request).
        temperature: softmax temperature for ``sample`` (finite, > 0).
        top_k: sample from the k likeliest tokens (0 = all).
        prompt_len: synthetic prompt length in tokens, ``"N"`` or ``"LOW..HIGH"``.
        prompt_overflow: a prompt longer than the context: ``refuse`` or ``truncate``.
        max_batch: most requests in one batch (>= 1).
        batching: ``static`` or ``continuous``.
        force_length: mask end-of-sequence so every request yields exactly ``max_new_tokens``;
            None = forced with synthetic weights, end-of-sequence allowed with real ones.
    """

    sampling: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    prompt_len: str = "32"
    prompt_overflow: str = "refuse"
    max_batch: int = 8
    batching: str = "static"
    force_length: bool | None = None

    def validate(self) -> LLMOptions:
        """Check every option; raises :class:`~inferlca.errors.UsageError` naming the first bad one."""
        if self.sampling not in SAMPLING_MODES:
            raise UnknownNameError("sampling mode", str(self.sampling), SAMPLING_MODES)
        t = self.temperature
        if (isinstance(t, bool) or not isinstance(t, (int, float))
                or not (t > 0 and math.isfinite(t))):
            raise InvalidValueError(f"{named('temperature')} must be a finite number > 0, got {t!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise InvalidValueError(f"{named('top_k')} must be an integer >= 0, got {self.top_k!r}")
        parse_prompt_len(self.prompt_len)
        if self.prompt_overflow not in OVERFLOW_POLICIES:
            raise UnknownNameError("prompt overflow policy", str(self.prompt_overflow), OVERFLOW_POLICIES)
        if (not isinstance(self.max_batch, int) or isinstance(self.max_batch, bool)
                or self.max_batch < 1):
            raise InvalidValueError(f"{named('max_batch')} must be an integer >= 1, got {self.max_batch!r}")
        if self.batching not in BATCHING_MODES:
            raise UnknownNameError("batching mode", str(self.batching), BATCHING_MODES)
        if self.force_length is not None and not isinstance(self.force_length, bool):
            raise InvalidValueError(f"{named('force_length')} must be true, false or unset, "
                                    f"got {self.force_length!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The options that differ from the defaults (a default run stores ``{}``)."""
        default = LLMOptions()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LLMOptions:
        """Options from :meth:`to_dict` (missing keys take their defaults; unknown keys are refused)."""
        d = dict(d or {})
        unknown = [k for k in d if k not in LLM_OPTION_NAMES]
        if unknown:
            raise UnknownNameError("LLM option", str(unknown[0]), LLM_OPTION_NAMES,
                                   hint=_known(LLM_OPTION_NAMES))
        return cls(**d)


#: The names of :class:`LLMOptions` (also the ``RunSpec.extra`` keys that held them before).
LLM_OPTION_NAMES = tuple(f.name for f in fields(LLMOptions))


@dataclass
class RunSpec:
    """What a benchmark run does. Units are in the names."""

    workload: str = "bert-large-squad"
    backend: str = "auto"
    scenario: str = "single-stream"
    queries: int = 16
    repetitions: int = 3
    device: str | None = None          # catalog id/name; None = auto-detect
    meter: str = "auto"                # a meter name, "auto", or several joined by "+"
    gpus: str | None = None            # NVML GPU indices ("0,2"); None = CUDA_VISIBLE_DEVICES/all
    period_ms: float = 10.0
    sampler: str = "process"              # process (own low-priority process) or thread
    idle_baseline_s: float = 0.0
    cooldown_s: float = 0.0
    region: str = "FR"
    grid_gco2e_per_kwh: str | None = None   # number or interval text ("50..80"); overrides region
    grid_file: str | None = None            # time-varying intensity CSV (lca/grid_time.py)
    grid_unit: str | None = None            # its unit when the file does not say it
    grid_tz: str | None = None              # its naive timestamps' time zone
    grid_signal: str = "average"            # average or marginal column of the file
    grid_year: int | None = None            # the region's intensity of that year; None = default
    pue: str | None = None                  # number or interval text; None = default by category
    lifetime_years: str | None = None       # number or interval text; None = default (7)
    memory_method: str = "per-gb"
    scope: str = "chip"                     # manufacturing scope: chip, card or server-share
    weights: str | None = None              # local Hugging Face folder; None = seeded random
    dataset: str | None = None              # SQuAD v1.1 JSON; None = synthetic samples
    accuracy: bool = False
    precision: str = "fp32"
    threads: int | None = None
    seed: int = 0
    # scenario settings
    samples_per_query: int = 8              # multi-stream
    target_qps: float = 10.0                # server
    offline_samples: int | None = None      # offline; None = queries
    mlperf_compliant: bool = False
    # interactive users (our own scheduler, not LoadGen)
    users: int = 4
    think_time_s: float = 5.0
    duration_s: float = 60.0
    # decoder LLMs
    max_new_tokens: int = 32
    prompts: str | None = None
    # model size preset for workloads that have several (e.g. "tiny" for tests)
    preset: str | None = None
    label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # decoder LLM options (sampling, batching, synthetic prompt length...)
    llm: LLMOptions = field(default_factory=LLMOptions)

    def __post_init__(self) -> None:
        """Accept ``llm`` as a mapping (a spec read from JSON or a campaign file), and LLM
        options found in ``extra`` (where specs stored them before ``llm`` existed)."""
        llm = self.llm
        if isinstance(llm, dict):
            llm = LLMOptions.from_dict(llm)
        extra = self.extra if isinstance(self.extra, dict) else {}
        legacy = {k: v for k, v in extra.items() if k in LLM_OPTION_NAMES}
        if legacy:
            llm = LLMOptions.from_dict({**legacy, **llm.to_dict()})
            self.extra = {k: v for k, v in extra.items() if k not in LLM_OPTION_NAMES}
        self.llm = llm

    def validate(self) -> RunSpec:
        """Check every field; return ``self``. The one place a run's settings are checked
        (``inferlca run``, campaign files and the Python API all come here).

        Raises:
            InvalidValueError: a wrong type or a value out of range; ``param`` is the field and
                the message gives the accepted range.
            UnknownNameError: an unknown scenario, backend, precision, memory method, meter or
                region (region only when no ``grid_gco2e_per_kwh`` overrides it).
        """
        from inferlca.lca.defaults import GRID_BOUNDS, LIFETIME_BOUNDS, PUE_BOUNDS, check_plausible

        _check_plain_fields(self)
        if self.scenario not in SCENARIOS:
            raise UnknownNameError("scenario", self.scenario, SCENARIOS, hint=_known(SCENARIOS))
        if self.backend not in BACKENDS:
            raise UnknownNameError("backend", self.backend, BACKENDS, hint=_known(BACKENDS))
        if self.sampler not in SAMPLERS:
            raise UnknownNameError("sampler", str(self.sampler), SAMPLERS, hint=_known(SAMPLERS))
        self._check_precision()
        if self.memory_method not in MEMORY_METHODS:
            raise UnknownNameError("memory method", self.memory_method, MEMORY_METHODS,
                                   hint=_known(MEMORY_METHODS))
        for name, bounds in (("grid_gco2e_per_kwh", GRID_BOUNDS), ("pue", PUE_BOUNDS),
                             ("lifetime_years", LIFETIME_BOUNDS)):
            v = getattr(self, name)
            if v is not None:
                check_plausible(name, parse_bounded(name, v, bounds), v)  # within bounds
        self._check_grid_file()
        self._check_traffic()
        self._check_names()
        self.llm.validate()
        from inferlca.lca.embodied import check_scope

        check_scope(self.scope)
        return self

    @property
    def is_estimate(self) -> bool:
        """A spec stored by ``inferlca estimate --save`` (its facts in ``extra['estimate']``)."""
        return isinstance(self.extra, dict) and isinstance(self.extra.get("estimate"), dict)

    def _check_precision(self) -> None:
        """A known precision; tf32, fp8 and int4 only for an estimated run (no backend here runs
        them)."""
        if self.precision in PRECISIONS:
            return
        if self.precision in ESTIMATE_ONLY_PRECISIONS:
            if self.is_estimate:
                return
            raise UnknownNameError(
                "precision", str(self.precision), PRECISIONS, param="precision",
                hint=f"{_known(PRECISIONS)}: {self.precision} can only be estimated (no backend "
                     f"here runs it): `inferlca estimate --precision {self.precision}`")
        known = ESTIMATE_PRECISIONS if self.is_estimate else PRECISIONS
        raise UnknownNameError("precision", str(self.precision), known, hint=_known(known))

    def _check_grid_file(self) -> None:
        """A grid file is readable, complete and in a known unit and time zone (read once here,
        so a bad file fails before anything runs); not together with a custom intensity."""
        from inferlca.lca.grid_time import SIGNALS, read_grid_file

        if self.grid_signal not in SIGNALS:
            raise UnknownNameError("grid signal", str(self.grid_signal), SIGNALS,
                                   hint=_known(SIGNALS), param="grid_signal")
        if self.grid_file is not None and self.grid_year is not None:  # before reading it
            raise InvalidValueError(f"{named('grid_year')} picks a year of the region's "
                                    f"intensity; not with {named('grid_file')}",
                                    param="grid_year")
        if self.grid_file is None:
            for name in ("grid_unit", "grid_tz"):
                if getattr(self, name) is not None:
                    raise InvalidValueError(f"{name} describes a grid file; give grid_file too",
                                            param=name)
            return
        if self.grid_gco2e_per_kwh is not None:
            raise InvalidValueError("give either grid_gco2e_per_kwh or grid_file, not both",
                                    param="grid_file")
        read_grid_file(self.grid_file, unit=self.grid_unit, tz=self.grid_tz,
                       signal=self.grid_signal)

    def _check_traffic(self) -> None:
        """Scenario ``mixed`` goes with a traffic mapping in ``extra["traffic"]`` and the reverse
        (its keys are checked by ``inferlca.loadgen.traffic_file.traffic_plan`` when the run
        starts, a layer above)."""
        traffic = self.extra.get("traffic")
        if self.scenario == "mixed" and not isinstance(traffic, dict):
            raise InvalidValueError("scenario mixed runs a traffic file: give one (inferlca run "
                                    "--traffic FILE; extra['traffic'] in Python)",
                                    param="scenario")
        if traffic is not None and self.scenario != "mixed":
            raise InvalidValueError(f"a traffic file sets the scenario to mixed, not "
                                    f"{self.scenario!r}", param="scenario")

    def _check_names(self) -> None:
        """The meter and the region (without a custom grid) are known names; an estimate's meter
        is the ``roofline`` model."""
        from inferlca.meters.registry import ALIASES, METERS

        if not (self.is_estimate and self.meter == "roofline"):
            for part in self.meter.split("+") if "+" in self.meter else [self.meter]:  # nvml+rapl
                part = part.strip()
                if part.startswith("remote:"):  # remote:http://HOST:PORT (--meter-url)
                    part = "remote"
                if part != "auto" and part not in METERS and part not in ALIASES:
                    known = ("auto", *METERS)
                    raise UnknownNameError("meter", part, known,
                                           hint=f"(accepted: {', '.join(known)})")
        if self.grid_gco2e_per_kwh is None:
            from inferlca.lca.grid import get_region

            region = get_region(self.region)
            if self.grid_year is not None:
                region.for_year(self.grid_year)  # says which years the region has
        elif self.grid_year is not None:
            raise InvalidValueError(f"{named('grid_year')} picks a year of the region's "
                                    f"intensity; not with {named('grid_gco2e_per_kwh')}",
                                    param="grid_year")

    def check_applicable(self) -> RunSpec:
        """Options of a model refused with the ``null`` workload (it has none), rather than
        silently ignored (``inferlca run``; a campaign grid may cross them on purpose)."""
        if self.workload != "null":
            return self
        given = [n for n in _MODEL_ONLY if getattr(self, n) is not None]
        if self.precision != RunSpec.precision:
            given.append("precision")
        if self.accuracy:
            given.append("accuracy")
        if given:
            raise InvalidValueError(
                f"{', '.join(named(n) for n in given)}: not used by the null workload (it runs no "
                f"model); leave it out or choose a workload with a model", param=given)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values; ``llm`` holds only the options that differ from the
        defaults (:meth:`LLMOptions.to_dict`)."""
        d = asdict(self)
        d["llm"] = self.llm.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """The spec :meth:`to_dict` wrote; a spec stored before ``llm`` existed (its LLM options
        in ``extra``) reads the same."""
        known = {f.name for f in fields(cls)}
        unknown = [k for k in d if k not in known]
        if unknown:
            raise UnknownNameError("run setting", unknown[0], sorted(known))
        return cls(**d)
