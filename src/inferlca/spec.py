"""The one run specification shared by `inferlca run`, campaigns and the store.

A :class:`RunSpec` says *what* to run; it holds no results. Defaults are the main job's
(`inferlca run` with no arguments). Every field is a plain JSON-friendly value so a spec can be
stored, compared and read back from a campaign file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError

SCENARIOS = ("single-stream", "multi-stream", "server", "offline", "interactive")
BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def _known(names: tuple[str, ...]) -> str:
    """The accepted names, for an error message."""
    return f"(known: {', '.join(names)})"


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
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        unknown = [k for k in d if k not in known]
        if unknown:
            raise UnknownNameError("run setting", unknown[0], sorted(known))
        return cls(**d)
