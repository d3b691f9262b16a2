"""The one run specification shared by `inferlca run`, campaigns and the store.

A :class:`RunSpec` says *what* to run; it holds no results. Defaults are the main job's
(`inferlca run` with no arguments). Every field is a plain JSON-friendly value so a spec can be
stored, compared and read back from a campaign file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError

SCENARIOS = ("single-stream", "multi-stream", "server", "offline", "interactive")
BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


#: ``llm-generate``: how tokens are chosen, how concurrent requests are batched, what a prompt
#: longer than the model's context does.
SAMPLING_MODES = ("greedy", "sample")
BATCHING_MODES = ("static", "continuous")
OVERFLOW_POLICIES = ("refuse", "truncate")


def _known(names: tuple[str, ...]) -> str:
    """The accepted names, for an error message."""
    return f"(known: {', '.join(names)})"


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
        raise InvalidValueError(f"prompt-len must be N or LOW..HIGH tokens (integers), got {text!r}") from None
    if lo < 1 or hi < lo:
        raise InvalidValueError(f"prompt-len must satisfy 1 <= LOW <= HIGH, got {text!r}")
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
            raise InvalidValueError(f"temperature must be a finite number > 0, got {t!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise InvalidValueError(f"top-k must be an integer >= 0, got {self.top_k!r}")
        parse_prompt_len(self.prompt_len)
        if self.prompt_overflow not in OVERFLOW_POLICIES:
            raise UnknownNameError("prompt overflow policy", str(self.prompt_overflow), OVERFLOW_POLICIES)
        if (not isinstance(self.max_batch, int) or isinstance(self.max_batch, bool)
                or self.max_batch < 1):
            raise InvalidValueError(f"max-batch must be an integer >= 1, got {self.max_batch!r}")
        if self.batching not in BATCHING_MODES:
            raise UnknownNameError("batching mode", str(self.batching), BATCHING_MODES)
        if self.force_length is not None and not isinstance(self.force_length, bool):
            raise InvalidValueError(f"force-length must be true, false or unset, got {self.force_length!r}")
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
    meter: str = "auto"
    period_ms: float = 10.0
    idle_baseline_s: float = 0.0
    cooldown_s: float = 0.0
    region: str = "FR"
    grid_gco2e_per_kwh: str | None = None   # number or interval text ("50..80"); overrides region
    pue: str | None = None                  # number or interval text; None = default by category
    lifetime_years: str | None = None       # number or interval text; None = default (7)
    memory_method: str = "per-gb"
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

    def validate(self) -> "RunSpec":
        if self.scenario not in SCENARIOS:
            raise UnknownNameError("scenario", self.scenario, SCENARIOS, hint=_known(SCENARIOS))
        if self.backend not in BACKENDS:
            raise UnknownNameError("backend", self.backend, BACKENDS, hint=_known(BACKENDS))
        if self.precision not in PRECISIONS:
            raise UnknownNameError("precision", self.precision, PRECISIONS, hint=_known(PRECISIONS))
        for name in ("queries", "repetitions", "samples_per_query", "users", "max_new_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidValueError(f"{name.replace('_', '-')} must be an integer >= 1, got {v!r}")
        for name in ("period_ms", "target_qps", "duration_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and v == v):
                raise InvalidValueError(f"{name.replace('_', '-')} must be a positive number, got {v!r}")
        for name in ("idle_baseline_s", "cooldown_s", "think_time_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and v == v):
                raise InvalidValueError(f"{name.replace('_', '-')} must be >= 0, got {v!r}")
        if self.memory_method not in ("per-gb", "area"):
            raise UnknownNameError("memory method", self.memory_method, ("per-gb", "area"),
                                   hint=_known(("per-gb", "area")))
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
