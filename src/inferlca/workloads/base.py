"""The workload protocol: a model plus its samples, driven by the LoadGen SUT or our own scheduler.

A workload is created from a :class:`~inferlca.spec.RunSpec` (``Workload(spec)``), then used in
this order by :func:`inferlca.loadgen.runner.run_benchmark`::

    w = make_workload(spec)          # cheap: parses options, checks paths (bad input -> UsageError)
    w.prepare()                      # once per process: samples, synthetic weights cache, ...
    for each repetition:
        w.load()                     # inside the measured ``load`` phase: weights -> backend, warm-up
        w.run([i, j, ...])           # one output per sample index, in order
        w.unload()                   # frees the model (the next repetition loads it again)
    w.check({index: output})         # accuracy, where real weights and labels exist, else None

Streaming workloads (decoder LLMs) set ``streaming = True`` and implement
``run_streaming(index, first_token)``: it calls ``first_token(partial_output)`` once, as soon as the
first token exists (the SUT then reports LoadGen's ``FirstTokenComplete``), and returns a
:class:`StreamResult` with the final output and its token count (LoadGen's ``n_tokens``).

Per-query token counts or other per-sample numbers a workload wants stored go in
``w.series`` (``dict[str, list[float]]``), which the runner saves with the repetition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

SYNTHETIC_WEIGHTS_NOTE = (
    "synthetic weights: latency and energy are representative, accuracy is not available"
)


def warm_imports(backend: str, model_class: str | None = None, config: Any = None) -> None:
    """Import, once and outside every measured window, what the first ``load()`` of a process
    would otherwise import lazily (transformers' model modules, safetensors, onnxruntime).

    Without it the first repetition's load phase carried seconds of one-off Python imports that
    later repetitions do not (measured: bert-base tiny 2.4 s first load then 0.2 s, minilm-embed
    5.5 s then 1.4 s). With ``config``, the model is built once on the ``meta`` device (no memory,
    no weights read), which imports everything ``from_pretrained`` needs. Best effort: the real
    ``load()`` reports real problems.
    """
    import contextlib
    import importlib

    with contextlib.suppress(Exception):
        if backend == "onnxruntime":
            importlib.import_module("onnxruntime")
            return
        torch = importlib.import_module("torch")
        importlib.import_module("safetensors.torch")
        if model_class:
            transformers = importlib.import_module("transformers")
            cls = getattr(transformers, model_class)
            if config is not None:
                with torch.device("meta"):
                    cls(config)


@dataclass
class StreamResult:
    """What a streaming workload returns for one sample.

    Attributes:
        output: the final output (e.g. generated token ids).
        n_tokens: number of output tokens (LoadGen's ``n_tokens``, used for TPOT).
        tokens_in: prompt tokens, when known.
    """

    output: Any
    n_tokens: int
    tokens_in: int | None = None


@dataclass
class WorkloadFacts:
    """Facts about the model for the estimator and the report (None = not applicable).

    Attributes:
        parameters: number of weights.
        layers, hidden_size, heads, ffn_size, vocab_size: architecture.
        seq_len: tokens per sample the model runs on.
        flops_per_sample: forward FLOPs for one sample (2 x multiply-accumulates), when computable.
        precision: ``fp32``, ``fp16``, ``bf16``.
    """

    name: str
    parameters: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    heads: int | None = None
    ffn_size: int | None = None
    vocab_size: int | None = None
    seq_len: int | None = None
    flops_per_sample: float | None = None
    precision: str = "fp32"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@runtime_checkable
class Workload(Protocol):
    """What the SUT and the runner need from a workload (see the module docstring for the order).

    Attributes:
        name: registry name (``bert-large-squad``...).
        synthetic_weights: True when the weights are seeded random ones (accuracy unavailable).
        streaming: True for token-streaming workloads (``run_streaming``).
        notes: plain sentences for the results (backend chosen and why, synthetic weights...).
        series: per-sample numbers to store with the repetition (cleared by ``load``).
    """

    name: str
    synthetic_weights: bool
    streaming: bool
    notes: list[str]
    series: dict[str, list[float]]

    @property
    def sample_count(self) -> int: ...

    def prepare(self) -> None: ...

    def load(self) -> None: ...

    def run(self, indices: Sequence[int]) -> list[Any]: ...

    def unload(self) -> None: ...

    def check(self, outputs: dict[int, Any]) -> dict[str, float] | None: ...

    def facts(self) -> WorkloadFacts: ...


class BaseWorkload:
    """Defaults shared by our workloads; subclasses override what they need."""

    name = "base"
    streaming = False
    #: the number of samples a LoadGen query set holds in memory (performance sample count)
    performance_sample_count: int | None = None

    def __init__(self) -> None:
        self.synthetic_weights = False
        self.notes: list[str] = []
        self.series: dict[str, list[float]] = {}

    @property
    def sample_count(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def prepare(self) -> None:
        """Once per process, before the first repetition (outside the measured window)."""

    def load(self) -> None:
        """Inside the measured ``load`` phase: build the model on its backend and warm it up."""
        self.series = {}

    def unload(self) -> None:
        """Free the model; the next repetition's ``load`` starts again."""

    def run(self, indices: Sequence[int]) -> list[Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def run_streaming(self, index: int, first_token: Callable[[Any], None]) -> StreamResult:
        """Streaming workloads only; others run the sample whole and report one token."""
        out = self.run([index])[0]
        first_token(out)
        return StreamResult(out, 1)

    def check(self, outputs: dict[int, Any]) -> dict[str, float] | None:
        """Accuracy from outputs by sample index; None when not available."""
        return None

    def facts(self) -> WorkloadFacts:
        return WorkloadFacts(name=self.name)

    def add_note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def select_backend(self, source: Any, spec: Any) -> tuple[str, float | None]:
        """The backend to run: ``spec.backend``, or for ``auto`` the faster on this machine by a
        short calibration (cached; ``spec.extra["recalibrate"]`` times both again), its note
        added. Returns the backend name and the calibration's seconds (None without ``auto``)."""
        if spec.backend != "auto":
            return spec.backend, None
        import time

        from inferlca.workloads.backends.auto import choose_backend

        t0 = time.perf_counter()
        choice = choose_backend(source, spec.precision, spec.threads,
                                use_cache=not (spec.extra or {}).get("recalibrate"))
        self.add_note(choice.note)
        return choice.backend, time.perf_counter() - t0
