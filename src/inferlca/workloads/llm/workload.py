"""The ``llm-generate`` workload class: prompts, model, decode engine and batching worker behind
the run protocol of :mod:`inferlca.workloads.base` (see :mod:`inferlca.workloads.llm`)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, UsageError, named, require
from inferlca.lca.tokens import token_impacts
from inferlca.spec import LLMOptions, RunSpec, parse_prompt_len
from inferlca.traces.trace import PowerTrace
from inferlca.workloads.base import BaseWorkload, StreamResult, TrafficPrompt, WorkloadFacts
from inferlca.workloads.llm.engine import DecodeEngine, DecodeSettings
from inferlca.workloads.llm.metrics import generation_metrics
from inferlca.workloads.llm.models import (
    SYNTHETIC_NOTE,
    TORCH_DTYPES,
    _transformers,
    check_causal_lm_folder,
    context_length,
    eos_ids,
    get_preset,
    load_model,
    load_tokenizer,
    synthetic_weights_dir,
)
from inferlca.workloads.llm.prompts import (
    Prompt,
    encode_prompts,
    fit_to_context,
    read_prompt_file,
    synthetic_prompts,
)
from inferlca.workloads.llm.request import GenRequest, GenResult, Step
from inferlca.workloads.llm.scheduler import BatchScheduler

log = logging.getLogger(__name__)


class _Waiter:
    """Counts a group of requests down to zero; keeps their results and the first error."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.results: list[GenResult] = []
        self.error: BaseException | None = None
        self.cond = threading.Condition()

    def done(self, result: GenResult) -> None:
        with self.cond:
            self.results.append(result)
            self.left -= 1
            self.cond.notify_all()

    def failed(self, _request: GenRequest, exc: BaseException) -> None:
        with self.cond:
            self.error = self.error or exc
            self.left -= 1
            self.cond.notify_all()

    def wait(self) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.left <= 0)


class LLMGenerate(BaseWorkload):
    """The ``llm-generate`` workload (see :mod:`inferlca.workloads.llm`).

    Created from a :class:`~inferlca.spec.RunSpec` (``max_new_tokens``, ``prompts``, ``preset``,
    ``weights``, ``seed``, ``threads``, ``queries``; :class:`~inferlca.spec.LLMOptions` in ``llm``) or
    from keyword arguments. Life cycle (the run protocol of :mod:`inferlca.workloads.base`):
    ``prepare()`` reads and encodes the prompts; ``load()`` builds the model, warms it up and
    starts the batching worker; ``run``/``run_streaming``/``submit`` generate (thread-safe: calls
    from several threads are batched together); ``take_results()`` hands over the finished
    requests and engine steps of the repetition; ``unload()`` stops the worker and frees the model.

    It declares ``streams_tokens``: LoadGen's layer drives it through :meth:`request`,
    :meth:`submit`, :meth:`skip_waiting`, :meth:`take_results` and :attr:`clock` (its token SUT
    reports every first token and token count to LoadGen).

    Args:
        spec: a RunSpec; when given, the keyword arguments below are ignored.
        max_new_tokens: tokens to generate per request (>= 1).
        prompts: a prompt file (text lines or JSONL); ``None`` = seeded synthetic prompts.
        preset: architecture preset for seeded random weights (``gpt2``, ``tiny``).
        weights: a Hugging Face causal-LM folder; overrides ``preset``.
        n_samples: how many synthetic prompts to make (a prompt file gives its own count).
        seed: seeds weights, synthetic prompts and sampling.
        threads: torch intra-op threads (None = torch's default).
        options: :class:`~inferlca.spec.LLMOptions`.
        clock: the clock of the token timestamps (s); ``time.monotonic`` like the power sampler.
    """

    name = "llm-generate"
    streaming = True
    streams_tokens = True

    def __init__(self, spec: RunSpec | None = None, *, max_new_tokens: int = 32,
                 prompts: str | None = None, preset: str | None = None, weights: str | None = None,
                 n_samples: int = 64, seed: int = 0, threads: int | None = None,
                 options: LLMOptions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if spec is not None:
            max_new_tokens, prompts, preset = spec.max_new_tokens, spec.prompts, spec.preset
            weights, seed, threads = spec.weights, spec.seed, spec.threads
            n_samples = max(int(spec.queries or 1), int(spec.offline_samples or 0),
                            int(spec.queries or 1) * int(spec.samples_per_query or 1)
                            if spec.scenario == "multi-stream" else 1)
            options = spec.llm.validate()
        if (not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool)
                or max_new_tokens < 1):
            raise InvalidValueError(f"max-new-tokens must be an integer >= 1, got {max_new_tokens!r}")
        self.max_new_tokens = max_new_tokens
        self.prompts = prompts
        self.weights = weights
        self.preset = preset
        self.n_samples = max(1, int(n_samples))
        self.seed = seed
        self.threads = threads
        self.options = (options or LLMOptions()).validate()
        self.clock = clock
        self.synthetic_weights = weights is None
        self._preset = None if weights else get_preset(preset)
        self._prompt_len = parse_prompt_len(self.options.prompt_len)
        self._records: list[dict[str, Any]] | None = None
        if weights is not None:  # checked early: bad weights fail before anything is measured
            self._config = check_causal_lm_folder(weights)
        if prompts is not None:  # read early: a bad file fails before any model is built
            self._records = read_prompt_file(prompts)
        self.model: Any = None
        self.tokenizer: Any = None
        self.engine: DecodeEngine | None = None
        self.scheduler: BatchScheduler | None = None
        self.samples: list[Prompt] = []
        self.warnings: list[str] = []
        self._results: list[GenResult] = []
        self._steps: list[Step] = []
        self._results_lock = threading.Lock()
        self._prepared = False
        self.precision = spec.precision if spec is not None else "fp32"
        backend = spec.backend if spec is not None else "auto"
        if self.precision not in TORCH_DTYPES:
            raise InvalidValueError(f"llm-generate runs in {', '.join(TORCH_DTYPES)}, not "
                                    f"{self.precision!r}")
        if backend == "onnxruntime":
            raise InvalidValueError("llm-generate runs on the torch backend only (its decode loop "
                                    f"drives the KV cache); use {named('backend')} torch or auto")
        self.model_dir: Path | None = Path(weights) if weights is not None else None
        self.prepare_s: dict[str, float] = {}
        self._parameters: int | None = None  # counted when the model is loaded
        if self.synthetic_weights:
            self.add_note(SYNTHETIC_NOTE)

    # ---- protocol ----------------------------------------------------------------------------
    @property
    def sample_count(self) -> int:
        return len(self.samples)

    def _model_shape(self) -> tuple[int, int, list[int]]:
        """``(vocab_size, n_positions, eos_ids)`` without building the model."""
        if self._preset is not None:
            return self._preset.vocab_size, self._preset.n_positions, [self._preset.vocab_size - 1]
        cfg = _transformers().AutoConfig.from_pretrained(str(self.weights))

        class _Shim:
            config = cfg
            generation_config = None

        return int(cfg.vocab_size), context_length(_Shim), eos_ids(_Shim)

    def prepare(self) -> None:
        """Encode the prompts (synthetic or from the file) and apply the context policy."""
        if self._prepared:
            return
        if self._preset is not None:
            t0 = time.perf_counter()
            self.model_dir = synthetic_weights_dir(self._preset, self.seed)
            self.prepare_s["synthetic_weights_s"] = time.perf_counter() - t0
        vocab, n_pos, eos = self._model_shape()
        if self.weights is not None:
            self.tokenizer = load_tokenizer(self.weights)
            if self.tokenizer is None and self._records and any("prompt" in r for r in self._records):
                raise UsageError(f"{named('weights')} {self.weights} has no tokenizer files; give prompts as "
                                 'JSONL with "input_ids" (token ids) instead of text')
        if self._records is not None:
            prompts = encode_prompts(self._records, self.prompts or "", self.tokenizer, vocab)
        else:
            hi = min(self._prompt_len[1], n_pos - self.max_new_tokens)
            if hi < self._prompt_len[0]:
                raise InvalidValueError(
                    f"synthetic prompts of {self._prompt_len[0]}+ tokens plus max-new-tokens "
                    f"{self.max_new_tokens} exceed the model's context of {n_pos} tokens")
            prompts = synthetic_prompts(self.n_samples, self.seed, vocab, (self._prompt_len[0], hi), eos)
        self.samples, self.warnings = fit_to_context(prompts, self.max_new_tokens, n_pos,
                                                     self.options.prompt_overflow)
        for w in self.warnings:
            self.add_note(w)
        t0 = time.perf_counter()
        self._warm_imports()
        self.prepare_s["library_imports_s"] = time.perf_counter() - t0
        self._prepared = True

    def _warm_imports(self) -> None:
        """Import the model's transformers classes once, outside every measured window.

        transformers imports its model modules lazily: without this, the first repetition's load
        phase carried about 3 s (and its energy) of one-off Python imports that later repetitions
        do not (measured on the tiny preset: 3.5 s first load, 0.02 s after). The model is built
        on the ``meta`` device (no memory, no weights read), which imports everything
        ``from_pretrained`` needs.
        """
        if self.model_dir is None:
            return
        torch = require("torch", "torch", "the llm-generate workload")
        transformers = _transformers()
        try:
            cfg = transformers.AutoConfig.from_pretrained(str(self.model_dir))
            with torch.device("meta"):
                transformers.AutoModelForCausalLM.from_config(cfg)
            import safetensors.torch  # noqa: F401  (read by from_pretrained)
        except Exception:  # only a warm-up; load() reports real problems
            log.debug("llm-generate: import warm-up skipped", exc_info=True)

    def load(self) -> None:
        """Build the model, warm it up and start the batching worker (the load phase)."""
        self.prepare()
        self.series = {}
        assert self.model_dir is not None
        self.model = load_model(self.model_dir, self.precision, self.threads)
        self._parameters = int(sum(t.numel() for t in self.model.parameters()))
        eos = eos_ids(self.model)
        force = self.options.force_length
        if force is None:
            force = self.synthetic_weights
        self.engine = DecodeEngine(
            self.model,
            DecodeSettings(self.options.sampling, float(self.options.temperature),
                           int(self.options.top_k), self.seed, bool(force)),
            pad_token_id=eos[0] if eos else 0, clock=self.clock)
        self.warmup()
        self._results, self._steps = [], []
        self.scheduler = BatchScheduler(self.engine, self.options.max_batch, on_done=self._record,
                                        mode=self.options.batching)
        self.scheduler.start()

    def unload(self) -> None:
        """Stop the worker and free the model; finished requests and steps stay for
        :meth:`take_results`."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.engine is not None:
            self._steps.extend(self.engine.reset_steps())
        self.engine = None
        self.model = None

    def warmup(self) -> None:
        """One short generation so first-call costs stay out of the measured phase."""
        if self.engine is None:
            raise RuntimeError("llm-generate: call load() first")
        req = GenRequest(0, self.samples[0].input_ids[:8], min(2, self.max_new_tokens), self.clock())
        self.engine.generate([req])
        self.engine.reset_steps()

    # ---- generation --------------------------------------------------------------------------
    def _record(self, result: GenResult) -> None:
        with self._results_lock:
            self._results.append(result)

    def request(self, sample_index: int, arrival_s: float | None = None, tag: Any = None,
                **callbacks: Any) -> GenRequest:
        """The engine request for sample ``sample_index`` (arriving now unless given)."""
        pr = self.samples[sample_index]
        return GenRequest(sample_index, pr.input_ids, pr.max_new_tokens or self.max_new_tokens,
                          self.clock() if arrival_s is None else arrival_s, tag, **callbacks)

    def traffic_prompts(self, n: int, prompt_len: str | None, prompts: str | None,
                        seed: int, max_new_tokens: int) -> list[TrafficPrompt]:
        """A traffic class's prompts: from its file (text lines or JSONL, encoded as the run's
        prompts are) or ``n`` seeded synthetic token-id prompts of ``prompt_len`` tokens
        (default: the run's ``prompt_len``); the context policy applies with the class's
        ``max_new_tokens``."""
        self.prepare()
        vocab, n_pos, eos = self._model_shape()
        if prompts is not None:
            found = encode_prompts(read_prompt_file(prompts), prompts, self.tokenizer, vocab)
        else:
            lo, hi = parse_prompt_len(prompt_len) if prompt_len else self._prompt_len
            hi = min(hi, n_pos - max_new_tokens)
            if hi < lo:
                raise InvalidValueError(
                    f"traffic: synthetic prompts of {lo}+ tokens plus max_new_tokens "
                    f"{max_new_tokens} exceed the model's context of {n_pos} tokens")
            found = synthetic_prompts(max(1, n), seed, vocab, (lo, hi), eos)
        fitted, warnings = fit_to_context(found, max_new_tokens, n_pos,
                                          self.options.prompt_overflow)
        for w in warnings:
            self.add_note(w)
        return [TrafficPrompt(list(p.input_ids), p.max_new_tokens or max_new_tokens,
                              len(p.input_ids)) for p in fitted]

    def traffic_request(self, prompt: TrafficPrompt, index: int, arrival_s: float, tag: Any = None,
                        **callbacks: Any) -> GenRequest:
        """The engine request of a traffic-class prompt."""
        return GenRequest(index, list(prompt.prompt), prompt.max_new_tokens, arrival_s, tag,
                          **callbacks)

    def submit(self, requests: Sequence[GenRequest]) -> None:
        """Queue requests for the batching worker (returns at once)."""
        if self.scheduler is None:
            raise RuntimeError("llm-generate: call load() before generating")
        self.scheduler.submit(*requests)

    def run(self, indices: Sequence[int]) -> list[list[int]]:
        """Generate for ``indices`` (arriving together, now); returns their token ids, in order."""
        return self.run_arrived(indices, self.clock())

    def run_streaming(self, index: int, first_token: Callable[[Any], None]) -> StreamResult:
        """Generate one request, calling ``first_token(np.array([id]))`` as soon as it exists."""
        waiter = _Waiter(1)
        req = self.request(index, on_first_token=lambda _r, tok, _t: first_token(np.array([tok], np.int64)),
                           on_done=waiter.done, on_error=waiter.failed)
        self.submit([req])
        waiter.wait()
        if waiter.error is not None:
            raise waiter.error
        res = waiter.results[0]
        return StreamResult(np.asarray(res.output_ids, np.int64), res.tokens_out, res.tokens_in)

    def run_arrived(self, indices: Sequence[int], arrival_s: float) -> list[list[int]]:
        """:meth:`run` for requests that arrived at ``arrival_s`` (clock s) and waited in a
        queue; their TTFT and end-to-end latency count the wait (the interactive scheduler)."""
        waiter = _Waiter(len(indices))
        reqs = [self.request(i, arrival_s, tag=k, on_done=waiter.done, on_error=waiter.failed)
                for k, i in enumerate(indices)]
        self.submit(reqs)
        waiter.wait()
        if waiter.error is not None:
            raise waiter.error
        by_tag = {r.tag: r.output_ids for r in waiter.results}
        return [by_tag[k] for k in range(len(indices))]

    # ---- engine-facing calls (LoadGen's token SUT) and runner hooks --------------------------
    def skip_waiting(self) -> list[GenRequest]:
        """Remove and return the requests not yet started (Ctrl-C: the SUT answers them without
        the model); none without a running worker."""
        return self.scheduler.skip_waiting() if self.scheduler is not None else []

    def loadgen_settings(self, scenario: str) -> dict[str, Any]:
        """Extra LoadGen settings: token latencies on (TTFT/TPOT in LoadGen's logs)."""
        return {"use_token_latencies": True}

    def repetition_metrics(self, trace: PowerTrace | None, metrics: dict[str, float]) -> dict[str, float]:
        """Token metrics of the repetition just run (contract keys), from its requests and steps.

        ``metrics`` holds the runner's ``energy_compute_j`` and ``energy_total_j``; engine
        steps are placed on the trace with ``trace.meta["t0_monotonic_s"]`` (the sampler's origin
        on :func:`time.monotonic`, this workload's default clock). Adds ``energy_per_request_j``
        (``energy_total_j`` / requests; it differs from ``energy_per_query_j`` in MultiStream,
        where a LoadGen query holds several requests).
        """
        results, steps = self.take_results()
        offset_s = -float(trace.meta.get("t0_monotonic_s", 0.0)) if trace is not None else 0.0
        m = generation_metrics(results, energy_compute_j=metrics.get("energy_compute_j"),
                               trace=trace, steps=steps, clock_offset_s=offset_s)
        total_j = metrics.get("energy_total_j")
        if results and total_j is not None and math.isfinite(total_j):
            m["energy_per_request_j"] = total_j / len(results)
        return m

    def repetition_impact(self, impact: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
        """GWP per request and per 1,000 output tokens (whole run and compute phase alone)."""
        requests = float(metrics.get("samples", metrics.get("queries", 0.0)))
        tokens = float(metrics.get("tokens_out", 0.0)) * requests  # tokens_out is per request
        out: dict[str, Any] = {"tokens": token_impacts(impact, tokens, requests)}
        if isinstance(impact.get("impact_compute"), dict):
            out["tokens_compute"] = token_impacts(impact["impact_compute"], tokens, requests)
        return out

    def take_results(self) -> tuple[list[GenResult], list[Step]]:
        """The requests finished and the engine steps run since the last call (then cleared).

        Also fills :attr:`series` with per-request ``ttft_s``, ``tpot_s`` (NaN below two tokens),
        ``e2e_s``, ``tokens_in`` and ``tokens_out``, in order of first token.
        """
        with self._results_lock:
            results, self._results = self._results, []
            steps, self._steps = self._steps, []
        if self.engine is not None:
            steps.extend(self.engine.reset_steps())
        results.sort(key=lambda r: r.first_token_s)
        self.series = {
            "ttft_s": [r.ttft_s for r in results],
            "tpot_s": [r.tpot_s if r.tpot_s is not None else math.nan for r in results],
            "e2e_s": [r.e2e_s for r in results],
            "tokens_in": [float(r.tokens_in) for r in results],
            "tokens_out": [float(r.tokens_out) for r in results],
        }
        return results, steps

    def facts(self) -> WorkloadFacts:
        """Model facts for the estimator (architecture sizes, parameter count, tokens)."""
        cfg = self.model.config if self.model is not None else None
        p = self._preset
        if cfg is None and p is None:
            cfg = _transformers().AutoConfig.from_pretrained(str(self.weights))

        def pick(*names: str, preset_value: Any = None) -> Any:
            if cfg is not None:
                for n in names:
                    v = getattr(cfg, n, None)
                    if v is not None:
                        return v
            return preset_value

        hidden = pick("n_embd", "hidden_size", preset_value=p.n_embd if p else None)
        ffn = pick("n_inner", "intermediate_size")
        params = self._parameters
        mean_in = float(np.mean([len(s.input_ids) for s in self.samples])) if self.samples else None
        return WorkloadFacts(
            name=self.name, parameters=params,
            layers=pick("n_layer", "num_hidden_layers", preset_value=p.n_layer if p else None),
            hidden_size=hidden,
            heads=pick("n_head", "num_attention_heads", preset_value=p.n_head if p else None),
            ffn_size=ffn if ffn is not None else (4 * hidden if hidden else None),
            vocab_size=pick("vocab_size", preset_value=p.vocab_size if p else None),
            seq_len=pick("n_positions", "max_position_embeddings", preset_value=p.n_positions if p else None),
            extra={"family": "decoder", "preset": p.name if p else None,
                   "source": p.source if p else str(self.weights),
                   "max_new_tokens": self.max_new_tokens, "mean_tokens_in": mean_in})
