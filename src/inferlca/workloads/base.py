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

**What a workload declares, and the hooks the runner calls.** Every hook is declared on
:class:`BaseWorkload` with a default that adds nothing, so the runner calls them directly:

* ``streaming`` (False): ``run_streaming`` reports a first token before the whole output;
* ``streams_tokens`` (False): the workload runs its own batching engine and takes requests one
  at a time (``request``, ``submit``, ``skip_waiting``, ``take_results``, ``clock``: see
  :class:`TokenEngine`); LoadGen's layer then builds its token SUT around it (first token and
  token count of every request). A workload never builds a LoadGen SUT itself;
* ``performance_sample_count`` (None = every sample): the samples a LoadGen query set holds;
* ``prepare_s`` ({}): named durations of the one-off preparation, for the run's notes;
* ``loadgen_settings(scenario)`` ({}): extra LoadGen test settings;
* ``run_arrived(indices, arrival_s)`` (= ``run``): the interactive scheduler's call, for a
  workload whose latency counts the wait since ``arrival_s``;
* ``repetition_metrics(trace, metrics)`` ({}): metric keys of the repetition just run, from the
  power trace and the runner's metrics (energy per token, TTFT...);
* ``repetition_impact(impact, metrics)`` ({}): entries added to the repetition's impact dict
  (GWP per 1,000 tokens...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from inferlca.traces.trace import PowerTrace

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
        streams_tokens: True for a workload with its own batching engine (:class:`TokenEngine`).
        performance_sample_count: samples a LoadGen query set holds (None = all).
        notes: plain sentences for the results (backend chosen and why, synthetic weights...).
        series: per-sample numbers to store with the repetition (cleared by ``load``).
        prepare_s: named durations (s) of the one-off preparation.
    """

    name: str
    synthetic_weights: bool
    streaming: bool
    streams_tokens: bool
    performance_sample_count: int | None
    notes: list[str]
    series: dict[str, list[float]]
    prepare_s: dict[str, float]

    @property
    def sample_count(self) -> int: ...

    def prepare(self) -> None: ...

    def load(self) -> None: ...

    def run(self, indices: Sequence[int]) -> list[Any]: ...

    def unload(self) -> None: ...

    def check(self, outputs: dict[int, Any]) -> dict[str, float] | None: ...

    def facts(self) -> WorkloadFacts: ...

    def run_streaming(self, index: int, first_token: Callable[[Any], None]) -> StreamResult: ...

    def run_arrived(self, indices: Sequence[int], arrival_s: float) -> list[Any]: ...

    def loadgen_settings(self, scenario: str) -> dict[str, Any]: ...

    def repetition_metrics(self, trace: PowerTrace | None,
                           metrics: dict[str, float]) -> dict[str, float]: ...

    def repetition_impact(self, impact: dict[str, Any],
                          metrics: dict[str, float]) -> dict[str, Any]: ...


@dataclass
class TrafficPrompt:
    """A prompt of a traffic class: the workload's own prompt (text or token ids), the tokens
    to generate, and its prompt tokens (``tokens_in_source``: ``exact``, or ``words`` when only
    a word count is known before the server answers)."""

    prompt: Any
    max_new_tokens: int
    tokens_in: int
    tokens_in_source: str = "exact"


@runtime_checkable
class TokenEngine(Workload, Protocol):
    """What a workload that declares ``streams_tokens`` offers LoadGen's token SUT.

    Requests and results are the workload's own types (for ``llm-generate``,
    :class:`~inferlca.workloads.llm.request.GenRequest` and ``GenResult``): a request carries
    ``tag`` (the LoadGen sample id) and ``on_first_token(request, token_id, t_s)``,
    ``on_done(result)``, ``on_error(request, exc)`` callbacks; a result carries ``tag``,
    ``index``, ``output_ids`` and ``tokens_out``.
    """

    #: seconds on the clock of the request timestamps
    clock: Callable[[], float]

    def request(self, sample_index: int, arrival_s: float | None = None, tag: Any = None,
                **callbacks: Any) -> Any:
        """The engine request for a sample (arriving now unless given)."""
        ...

    def submit(self, requests: Sequence[Any]) -> None:
        """Queue requests for the engine; returns at once."""
        ...

    def skip_waiting(self) -> list[Any]:
        """Remove and return the requests not yet started."""
        ...

    def take_results(self) -> tuple[list[Any], list[Any]]:
        """The requests finished and the engine steps run since the last call (then cleared)."""
        ...


class BaseWorkload:
    """Defaults shared by our workloads; subclasses override what they need."""

    name = "base"
    #: ``run_streaming`` reports the first token before the whole output
    streaming = False
    #: the workload runs its own batching engine (:class:`TokenEngine`); LoadGen's layer then
    #: drives it with its token SUT
    streams_tokens = False
    #: the number of samples a LoadGen query set holds in memory (performance sample count)
    performance_sample_count: int | None = None

    def __init__(self) -> None:
        self.synthetic_weights = False
        self.notes: list[str] = []
        self.series: dict[str, list[float]] = {}
        #: named durations (s) of the one-off preparation (shown in the run's notes)
        self.prepare_s: dict[str, float] = {}

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

    def run_arrived(self, indices: Sequence[int], arrival_s: float) -> list[Any]:
        """:meth:`run` for samples that arrived at ``arrival_s`` and waited (the interactive
        scheduler). A workload with its own queue counts the wait in its latencies; by default
        the samples simply run now."""
        return self.run(indices)

    def check(self, outputs: dict[int, Any]) -> dict[str, float] | None:
        """Accuracy from outputs by sample index; None when not available."""
        return None

    def loadgen_settings(self, scenario: str) -> dict[str, Any]:
        """Extra LoadGen ``TestSettings`` attributes for a test in ``scenario``; none by default."""
        return {}

    def repetition_metrics(self, trace: PowerTrace | None,
                           metrics: dict[str, float]) -> dict[str, float]:
        """Metric keys the workload adds to a repetition, from its power trace and the runner's
        metrics (energies, durations, counts); none by default."""
        return {}

    def repetition_impact(self, impact: dict[str, Any],
                          metrics: dict[str, float]) -> dict[str, Any]:
        """Entries the workload adds to a repetition's impact dict (``Impact.to_dict()`` plus
        ``impact_compute``); none by default."""
        return {}

    def traffic_prompts(self, n: int, prompt_len: str | None, prompts: str | None,
                        seed: int, max_new_tokens: int) -> list[TrafficPrompt]:
        """Prompts of one request class of a traffic file (``inferlca run --traffic``): from
        ``prompts`` (a file) or ``n`` seeded synthetic ones of ``prompt_len``. Only workloads
        that run their own token engine take a traffic file."""
        from inferlca.errors import UsageError

        raise UsageError(f"the {self.name} workload does not take a traffic file (mixed traffic "
                         "runs on token-streaming workloads: llm-generate, openai-endpoint)")

    def traffic_request(self, prompt: TrafficPrompt, index: int, arrival_s: float, tag: Any = None,
                        **callbacks: Any) -> Any:
        """The engine request of one traffic-class prompt, the run's ``index``-th request
        (callbacks as for ``request``)."""
        raise NotImplementedError

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
