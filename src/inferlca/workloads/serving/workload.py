"""``openai-endpoint``: any OpenAI-compatible model server (vLLM, llama.cpp, TGI, SGLang, Ollama...)
measured under LoadGen or with interactive users.

Every LoadGen sample is one streamed request (:mod:`.client`). The workload declares
``streams_tokens``: LoadGen's token SUT hands it requests one at a time, it reports the first text
chunk as LoadGen's ``FirstTokenComplete`` and completes the request with its output token count
(as MLPerf's ``language/llama2-70b/SUT_API.py`` does against a vLLM server), so LoadGen's logs hold
TTFT and TPOT too. The workload's own figures come from chunk arrival times on this machine's
monotonic clock (:meth:`OpenAIEndpoint.repetition_metrics`).

Output token counts, per request, from the first source that has them (the result counts how many
requests used each: ``tokens_from_usage``, ``tokens_from_tokenizer``, ``tokens_from_chunks``):

1. the stream's ``usage.completion_tokens`` (asked with ``stream_options.include_usage``);
2. the tokenizer the user names (``endpoint.tokenizer``: a Hugging Face name or folder) applied
   to the text received;
3. the number of chunks that carried text (servers stream about one token per chunk; a server
   that groups tokens makes this a lower bound).

Failures are counted per request and kind (``requests_failed``, ``errors_timeout``,
``errors_http``, ``errors_refused``, ``errors_closed``, ``errors_protocol``) and never silently
dropped; LoadGen gets an answer for each so the test ends. When the server itself goes away (a
launched server exited, or connections are refused after it answered), the remaining requests
are failed at once with :class:`EndpointGoneError`: the repetition ends with what was measured
stored.

Options (``RunSpec.extra["endpoint"]``, the CLI's ``--url``, ``--model``...): see
:class:`EndpointOptions`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import (
    InferlcaError,
    InputFileError,
    InvalidValueError,
    UnknownNameError,
    named,
)
from inferlca.workloads.base import BaseWorkload, StreamResult, TrafficPrompt, WorkloadFacts
from inferlca.workloads.serving.client import Reply, StreamClient, request_body
from inferlca.workloads.serving.endpoint import (
    EndpointError,
    LaunchedServer,
    auth_headers,
    health_url,
    probe,
)

APIS = ("chat", "completions")

NO_LOAD_NOTE = ("load phase absent: the endpoint was already running (no launch command), so its "
                "model loading is not in the energy; pass --launch \"CMD\" to measure start-up")


class EndpointGoneError(InferlcaError):
    """The server stopped answering during the test (it exited or refuses connections): the
    repetition and the run end ``incomplete``, what was measured is stored (exit code 2)."""

    exit_code = 2
    ends_incomplete = True


@dataclass
class EndpointOptions:
    """The ``openai-endpoint`` settings (``RunSpec.extra["endpoint"]``).

    Attributes:
        url: the API base, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server serves (``GET /models``).
        api: ``chat`` (``/chat/completions``) or ``completions``.
        api_key_env: name of the environment variable holding the API key (sent as a bearer
            token; the key itself is never stored).
        max_concurrency: requests in flight at most.
        launch: command line that starts the server (split like a shell, run without one).
        health_path: readiness path on the URL's host (default: ``{url}/models``).
        launch_timeout_s: how long the launched server may take to answer.
        read_timeout_s: longest silence inside a stream before the request counts as a timeout.
        request_timeout_s: longest whole request (None: no limit).
        tokenizer: Hugging Face tokenizer (name or folder) to count tokens when the stream has no
            ``usage``.
    """

    url: str = ""
    model: str = ""
    api: str = "chat"
    api_key_env: str | None = None
    max_concurrency: int = 64
    launch: str | None = None
    health_path: str | None = None
    launch_timeout_s: float = 120.0
    read_timeout_s: float = 60.0
    request_timeout_s: float | None = None
    tokenizer: str | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> EndpointOptions:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidValueError(f"{named('endpoint')} must be a mapping, got {raw!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidValueError(f"{named('endpoint')}: unknown option(s) {', '.join(unknown)} "
                                    f"(accepted: {', '.join(sorted(known))})")
        opts = cls(**raw)
        opts.check()
        return opts

    def check(self) -> None:
        if not self.url or "://" not in self.url:
            raise InvalidValueError(f"{named('url')} must be the API base with its scheme, e.g. "
                                    f"http://127.0.0.1:8000/v1 (got {self.url!r})", param="url")
        if not self.model:
            raise InvalidValueError(f"{named('model')} is required: the model name the server "
                                    "serves (its GET /models lists them)", param="model")
        if self.api not in APIS:
            raise UnknownNameError("api", str(self.api), APIS,
                                   hint=f"(accepted: {', '.join(APIS)})", param="api")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise InvalidValueError(f"{named('max_concurrency')} must be an integer >= 1, got "
                                    f"{self.max_concurrency!r}", param="max_concurrency")
        for name in ("launch_timeout_s", "read_timeout_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise InvalidValueError(f"{named(name)} must be > 0 s, got {v!r}", param=name)
        if self.request_timeout_s is not None and not self.request_timeout_s > 0:
            raise InvalidValueError(f"{named('request_timeout_s')} must be > 0 s",
                                    param="request_timeout_s")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- prompts -----------------------------------------------------------------------------------
_WORDS = ["the", "energy", "of", "a", "model", "server", "depends", "on", "how", "many", "users", "share", "each", "decode", "step", "and", "on", "how", "long", "every", "answer", "runs", "so", "measure", "it", "with", "real", "traffic", "under", "a", "known", "load"]


def synthetic_prompts(n: int, seed: int, lengths: tuple[int, int]) -> list[str]:
    """``n`` seeded prompts of words; word counts uniform in ``lengths`` (a word is roughly one
    token for most tokenizers; the stream's ``usage`` gives the real prompt tokens)."""
    rng = np.random.default_rng(seed)
    lo, hi = lengths
    out = []
    for _ in range(n):
        k = int(rng.integers(lo, hi + 1))
        out.append(" ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), k)))
    return out


def read_prompts(path: str) -> list[str]:
    """Prompts from a file: JSON Lines with a ``prompt`` (or ``text``) field per line, or plain
    text with one prompt per non-empty line."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(path, "the prompts file does not exist")
    out: list[str] = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("{"):
            try:
                doc = json.loads(s)
                text = doc.get("prompt", doc.get("text"))
            except (ValueError, AttributeError):
                raise InputFileError(path, "not a JSON object", lineno) from None
            if not isinstance(text, str) or not text:
                raise InputFileError(path, "the object needs a text \"prompt\" field", lineno)
            out.append(text)
        else:
            out.append(s)
    if not out:
        raise InputFileError(path, "the prompts file holds no prompt")
    return out


def _parse_lengths(text: Any) -> tuple[int, int]:
    if text is None:
        return (32, 32)
    s = str(text)
    lo_s, _, hi_s = s.partition("..")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if hi_s else lo
    except ValueError:
        raise InvalidValueError(f"{named('prompt_len')} must be N or LOW..HIGH words, got {s!r}",
                                param="prompt_len") from None
    if lo < 1 or hi < lo:
        raise InvalidValueError(f"{named('prompt_len')} must be >= 1 with LOW <= HIGH, got {s!r}",
                                param="prompt_len")
    return lo, hi


# ---- requests and results (the TokenEngine types) ----------------------------------------------
@dataclass
class EndpointRequest:
    """One request handed over by LoadGen's token SUT (or the interactive scheduler)."""

    index: int
    arrival_s: float
    tag: Any = None
    on_first_token: Callable[[EndpointRequest, int, float], None] | None = None
    on_done: Callable[[EndpointResult], None] | None = None
    on_error: Callable[[EndpointRequest, BaseException], None] | None = None
    skipped: bool = False
    #: a traffic class's own prompt and output length (None: the run's prompt and max tokens)
    prompt: str | None = None
    max_tokens: int | None = None


@dataclass
class EndpointResult:
    """A finished request: its reply and output token count (``tokens_out``, its source)."""

    index: int
    tag: Any
    reply: Reply
    tokens_out: int
    tokens_in: int | None
    token_source: str

    # the common view of a finished request (mixed traffic: ``inferlca.loadgen.traffic``)
    @property
    def arrival_s(self) -> float:
        return self.reply.arrival_s

    @property
    def start_s(self) -> float:
        return self.reply.sent_s or self.reply.arrival_s

    @property
    def token_times_s(self) -> list[float]:
        return self.reply.token_times_s

    @property
    def end_s(self) -> float:
        return self.reply.end_s

    @property
    def error_kind(self) -> str | None:
        return self.reply.error_kind

    @property
    def finish_reason(self) -> str | None:
        return self.reply.finish_reason

    @property
    def truncated(self) -> bool:
        return self.reply.truncated

    @property
    def output_ids(self) -> list[int]:
        """The text's UTF-8 bytes (what LoadGen keeps as the response data)."""
        return list(self.reply.text.encode("utf-8")[:4096]) or [0]


def finish_counts(replies: Sequence[Any]) -> dict[str, float]:
    """How the answered requests ended: ``finish_stop``, ``finish_length`` (the server's
    ``finish_reason``) and ``requests_truncated`` (the stream ended without one: cut short)."""
    reasons = Counter(getattr(r, "finish_reason", None) for r in replies)
    return {"finish_stop": float(reasons.get("stop", 0)),
            "finish_length": float(reasons.get("length", 0)),
            "requests_truncated": float(sum(bool(getattr(r, "truncated", False))
                                            for r in replies))}


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


class OpenAIEndpoint(BaseWorkload):
    """Streamed requests to an OpenAI-compatible server (see the module docstring)."""

    name = "openai-endpoint"
    streaming = True
    streams_tokens = True

    def __init__(self, spec: Any) -> None:
        super().__init__()
        self.spec = spec
        extra = spec.extra or {}
        self.options = EndpointOptions.from_dict(extra.get("endpoint"))
        self.headers = auth_headers(self.options.api_key_env)
        self.max_new_tokens = int(spec.max_new_tokens)
        llm = getattr(spec, "llm", None)  # the typed LLM options, where the spec has them
        self._lengths = _parse_lengths(getattr(llm, "prompt_len", None)
                                       if llm is not None else extra.get("prompt_len"))
        if spec.prompts is not None and not Path(spec.prompts).is_file():
            raise InputFileError(spec.prompts, "the prompts file does not exist")
        self.prompts: list[str] = []
        self.client: StreamClient | None = None
        self.server: LaunchedServer | None = None
        self.clock: Callable[[], float] = time.monotonic
        self.served_models: list[str] = []
        self._tokenizer: Any = None
        self._results: list[EndpointResult] = []
        self._failed: list[Reply] = []
        self._queued: dict[int, EndpointRequest] = {}
        self._lock = threading.Lock()
        self._answered = False
        self.gone: str | None = None
        self.load_s: float | None = None

    # ---- protocol -----------------------------------------------------------------------------
    @property
    def sample_count(self) -> int:
        return len(self.prompts)

    def prepare(self) -> None:
        o = self.options
        # a mixed run's classes make their own prompts (the run's notes say which): these are
        # not sent, so not described
        mixed = self.spec.scenario == "mixed"
        if self.spec.prompts is not None:
            self.prompts = read_prompts(self.spec.prompts)
            if not mixed:
                self.add_note(f"{len(self.prompts)} prompts from {self.spec.prompts}")
        else:
            n = max(self.spec.queries * max(1, self.spec.samples_per_query),
                    self.spec.offline_samples or 0, 64)
            self.prompts = synthetic_prompts(min(n, 4096), self.spec.seed, self._lengths)
            lo, hi = self._lengths
            if not mixed:
                self.add_note(f"synthetic prompts of {lo if lo == hi else f'{lo} to {hi}'} "
                              f"words (seed {self.spec.seed})")
        if o.tokenizer:
            from inferlca.errors import require

            transformers = require("transformers", "torch", "counting tokens with a tokenizer")
            try:
                self._tokenizer = transformers.AutoTokenizer.from_pretrained(o.tokenizer)
            except Exception as exc:  # noqa: BLE001 - any loading failure is the user's input
                raise InvalidValueError(f"{named('tokenizer')} {o.tokenizer!r} cannot be loaded: "
                                        f"{type(exc).__name__}", param="tokenizer") from None
        if o.launch is None:
            self.served_models = probe(o.url, o.model, headers=self.headers,
                                       key_env=o.api_key_env).models
            self.add_note(NO_LOAD_NOTE)
        else:
            self.add_note("load phase: start-up of the launched server until it answered "
                          f"{health_url(o.url, o.health_path)}")
        self.add_note(f"endpoint {o.url} ({o.api} API), model {o.model!r}, at most "
                      f"{o.max_concurrency} requests in flight; output tokens counted from the "
                      "stream's usage, else "
                      + ("the tokenizer " + repr(o.tokenizer) if o.tokenizer else "")
                      + (", else " if o.tokenizer else "") + "text chunks (see tokens_from_*)")
        meter = str(getattr(self.spec, "meter", "") or "")
        if meter.startswith("remote:"):  # --meter-url: the agent's machine was measured
            self.add_note(f"energy is that of the machine of the meter agent at "
                          f"{meter.removeprefix('remote:')}: the server's power when the agent "
                          "runs on the server's host (this client's own work is not included)")
        else:
            self.add_note("energy is that of the meters on this machine: the server's power "
                          "only when it runs here (the client's own work is included)")

    def load(self) -> None:
        """Start the launched server and wait until it answers (the measured load phase);
        open the client."""
        super().load()
        o = self.options
        with self._lock:
            self._results, self._failed, self._queued = [], [], {}
            self.gone, self._answered = None, False
        if o.launch is not None:
            self.server = LaunchedServer(o.launch)
            self.server.start()
            try:
                self.load_s = self.server.wait_ready(health_url(o.url, o.health_path),
                                                     o.launch_timeout_s, self.headers)
                self.served_models = probe(o.url, o.model, headers=self.headers,
                                           key_env=o.api_key_env).models
            except BaseException:
                self.server.stop()
                self.server = None
                raise
        self.client = StreamClient(o.url, o.api, headers=self.headers,
                                   max_concurrency=o.max_concurrency,
                                   read_timeout_s=o.read_timeout_s,
                                   request_timeout_s=o.request_timeout_s)
        self.client.start()

    def unload(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    # ---- TokenEngine (LoadGen's token SUT) ---------------------------------------------------
    def request(self, sample_index: int, arrival_s: float | None = None, tag: Any = None,
                **callbacks: Any) -> EndpointRequest:
        return EndpointRequest(sample_index, self.clock() if arrival_s is None else arrival_s,
                               tag, **callbacks)

    def submit(self, requests: Sequence[EndpointRequest]) -> None:
        if self.client is None:
            raise RuntimeError("openai-endpoint: call load() before sending requests")
        for req in requests:
            if self.gone is not None:
                self._gone_error(req)
                continue
            prompt = req.prompt if req.prompt is not None else \
                self.prompts[req.index % len(self.prompts)]
            body = request_body(self.options.api, self.options.model, prompt,
                                req.max_tokens or self.max_new_tokens)
            with self._lock:
                self._queued[id(req)] = req
            self._send(body, req)

    def _send(self, body: dict[str, Any], req: EndpointRequest) -> None:
        assert self.client is not None

        def on_start() -> bool:
            return self._start(req)

        def on_first(reply: Reply) -> None:
            self._first(req, reply)

        def on_done(reply: Reply) -> None:
            self._done(req, reply)

        self.client.submit(body, req.arrival_s, on_start=on_start, on_first_token=on_first,
                           on_done=on_done)

    def skip_waiting(self) -> list[EndpointRequest]:
        """Remove and return the requests not yet sent (the SUT answers them as skipped)."""
        with self._lock:
            out = list(self._queued.values())
            self._queued.clear()
            for req in out:
                req.skipped = True
        return out

    def take_results(self) -> tuple[list[EndpointResult], list[Any]]:
        with self._lock:
            res, self._results = self._results, []
        return res, []

    def traffic_prompts(self, n: int, prompt_len: str | None, prompts: str | None,
                        seed: int, max_new_tokens: int) -> list[TrafficPrompt]:
        """A traffic class's prompts: its file, or ``n`` seeded synthetic prompts of
        ``prompt_len`` words. Prompt tokens: the tokenizer's count when one is named, else the
        word count (``tokens_in_source`` ``words``; a server's ``usage`` replaces it)."""
        texts = read_prompts(prompts) if prompts is not None else synthetic_prompts(
            max(1, n), seed, _parse_lengths(prompt_len) if prompt_len else self._lengths)
        out = []
        for text in texts:
            if self._tokenizer is not None:
                k, src = len(self._tokenizer.encode(text, add_special_tokens=False)), "tokenizer"
            else:
                k, src = len(text.split()), "words"
            out.append(TrafficPrompt(text, max_new_tokens, k, src))
        return out

    def traffic_request(self, prompt: TrafficPrompt, index: int, arrival_s: float,
                        tag: Any = None, **callbacks: Any) -> EndpointRequest:
        """The request of a traffic-class prompt (its own text and ``max_tokens``)."""
        return EndpointRequest(index, arrival_s, tag, prompt=str(prompt.prompt),
                               max_tokens=prompt.max_new_tokens, **callbacks)

    # ---- client callbacks --------------------------------------------------------------------
    def _start(self, req: EndpointRequest) -> bool:
        """Called by the client when a slot frees up: send the request, or not (skipped, or the
        server is gone)."""
        with self._lock:
            self._queued.pop(id(req), None)
            if req.skipped:
                return False
            gone = self.gone is not None
        if gone:
            self._gone_error(req)
        return not gone

    def _first(self, req: EndpointRequest, reply: Reply) -> None:
        if req.on_first_token is not None:
            first = reply.text.encode("utf-8")[:1]
            req.on_first_token(req, first[0] if first else 0, reply.token_times_s[0])

    def _count(self, reply: Reply) -> tuple[int, str]:
        usage = reply.usage or {}
        n = usage.get("completion_tokens")
        if isinstance(n, int) and n >= 0:
            return n, "usage"
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(reply.text, add_special_tokens=False)), "tokenizer"
        return len(reply.token_times_s), "chunks"

    def _done(self, req: EndpointRequest, reply: Reply) -> None:
        if not reply.ok:
            with self._lock:
                self._failed.append(reply)
            if self._server_gone(reply):
                self._gone_error(req)
                return
            # answer LoadGen so the test goes on; the failure is counted, not timed
            if req.on_first_token is not None and not reply.token_times_s:
                req.on_first_token(req, 0, reply.end_s)
            if req.on_done is not None:
                req.on_done(EndpointResult(req.index, req.tag, reply, 1, None, "failed"))
            return
        n, source = self._count(reply)
        tin = (reply.usage or {}).get("prompt_tokens")
        if not reply.token_times_s and req.on_first_token is not None:
            req.on_first_token(req, 0, reply.end_s)  # an empty answer: first token = its end
        result = EndpointResult(req.index, req.tag, reply, max(n, 1), tin if isinstance(tin, int)
                                else None, source)
        with self._lock:
            self._answered = True
            self._results.append(result)
        if req.on_done is not None:
            req.on_done(result)

    def _server_gone(self, reply: Reply) -> bool:
        if self.gone is not None:
            return True
        down = False
        if self.server is not None and not self.server.alive():
            down = True
            why = (f"the launched server exited (code {self.server.proc.returncode if self.server.proc else '?'}) "
                   f"during the test; its last output: {self.server.tail()}")
        elif reply.error_kind == "refused" and self._answered:
            down = True
            why = f"the server at {self.options.url} stopped accepting connections during the test"
        if down:
            with self._lock:
                self.gone = why
        return down

    def _gone_error(self, req: EndpointRequest) -> None:
        if req.on_error is not None:
            req.on_error(req, EndpointGoneError(
                f"{self.gone}; the repetition ends here, the requests answered before are kept"))

    # ---- direct use (interactive users, single calls) ----------------------------------------
    def run_arrived(self, indices: Sequence[int], arrival_s: float) -> list[Any]:
        done = threading.Semaphore(0)
        out: dict[int, Any] = {}
        errors: list[BaseException] = []

        def finished(res: EndpointResult) -> None:
            out[res.tag] = res.reply.text
            done.release()

        def failed(_req: EndpointRequest, exc: BaseException) -> None:
            errors.append(exc)
            done.release()

        self.submit([self.request(i, arrival_s, tag=k, on_done=finished, on_error=failed)
                     for k, i in enumerate(indices)])
        for _ in indices:
            done.acquire()
        if errors:
            raise errors[0]
        return [out[k] for k in range(len(indices))]

    def run(self, indices: Sequence[int]) -> list[Any]:
        return self.run_arrived(indices, self.clock())

    def run_streaming(self, index: int, first_token: Callable[[Any], None]) -> StreamResult:
        box: list[EndpointResult] = []
        errors: list[BaseException] = []
        ev = threading.Event()

        def finished(res: EndpointResult) -> None:
            box.append(res)
            ev.set()

        def failed(_req: EndpointRequest, exc: BaseException) -> None:
            errors.append(exc)
            ev.set()

        self.submit([self.request(index, on_first_token=lambda _r, tok, _t: first_token(
            np.array([tok], np.int64)), on_done=finished, on_error=failed)])
        ev.wait()
        if errors:
            raise errors[0]
        res = box[0]
        return StreamResult(res.reply.text, res.tokens_out, res.tokens_in)

    # ---- runner hooks ------------------------------------------------------------------------
    def loadgen_settings(self, plan_or_scenario: Any) -> dict[str, Any]:
        """Token latencies on: LoadGen logs TTFT and TPOT from our first-token reports.

        The runner asks just before the LoadGen test: requests answered before it (the latency
        probe of ``--mlperf-compliant``) are dropped here, so the repetition counts the test's.
        """
        with self._lock:
            self._results, self._failed = [], []
        return {"use_token_latencies": True}

    def repetition_metrics(self, trace: Any, metrics: dict[str, float]) -> dict[str, float]:
        """Token and latency figures of the repetition, from the chunk arrival times.

        ``ttft``: arrival (LoadGen's issue, or the interactive user's request) to the first text
        chunk; ``tpot``: ``(last - first chunk) / (tokens_out - 1)``; ``itl``: gaps between text
        chunks, over all requests; ``e2e``: arrival to the end of the stream. Percentiles are
        numpy's linear ones over answered requests. Failed requests are counted, not timed.
        """
        with self._lock:
            results, self._results = self._results, []
            failed, self._failed = self._failed, []
        m: dict[str, float] = {}
        kinds = Counter(r.error_kind for r in failed)
        m["requests_ok"] = float(len(results))
        m["requests_failed"] = float(len(failed))
        for kind in ("timeout", "http", "refused", "closed", "protocol"):
            m[f"errors_{kind}"] = float(kinds.get(kind, 0))
        sources = Counter(r.token_source for r in results)
        for src in ("usage", "tokenizer", "chunks"):
            m[f"tokens_from_{src}"] = float(sources.get(src, 0))
        m["server_gone"] = 1.0 if self.gone else 0.0
        m.update(finish_counts([r.reply for r in results]))
        if not results:
            return m
        tokens = np.array([r.tokens_out for r in results], float)
        ttft = [r.reply.ttft_s for r in results if r.reply.ttft_s is not None]
        e2e = [r.reply.e2e_s for r in results]
        tpot = [(r.reply.token_times_s[-1] - r.reply.token_times_s[0]) / (r.tokens_out - 1)
                for r in results if r.tokens_out > 1 and len(r.reply.token_times_s) > 1]
        itl = [float(g) for r in results for g in np.diff(r.reply.token_times_s)]
        tin = [r.tokens_in for r in results if r.tokens_in is not None]
        m["tokens_out"] = float(tokens.mean())
        if tin:
            m["tokens_in"] = float(np.mean(tin))
        for name, vals in (("ttft", ttft), ("tpot", tpot), ("itl", itl), ("e2e", e2e)):
            if vals:
                m[f"{name}_p50_s"] = _percentile(vals, 50)
                m[f"{name}_p90_s"] = _percentile(vals, 90)
                m[f"{name}_p99_s"] = _percentile(vals, 99)
                m[f"{name}_mean_s"] = float(np.mean(vals))
        m["tokens_per_s"] = float(np.mean([t / e for t, e in zip(tokens, e2e) if e > 0]))
        first = min(r.reply.arrival_s for r in results)
        last = max(r.reply.end_s for r in results)
        if last > first:
            m["output_tokens_per_s"] = float(tokens.sum() / (last - first))
        e_c = metrics.get("energy_compute_j")
        if e_c is not None and math.isfinite(e_c) and tokens.sum() > 0:
            m["energy_per_token_j"] = e_c / float(tokens.sum())
        total_j = metrics.get("energy_total_j")
        if total_j is not None and math.isfinite(total_j):
            m["energy_per_request_j"] = total_j / len(results)
        self.series = {"tokens_out": [float(t) for t in tokens],
                       "ttft_s": [float(v) for v in ttft], "e2e_s": [float(v) for v in e2e]}
        return m

    def repetition_impact(self, impact: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
        """GWP per request and per 1,000 output tokens (whole run and compute phase alone)."""
        from inferlca.lca.tokens import token_impacts

        requests = float(metrics.get("requests_ok", 0.0))
        tokens = float(metrics.get("tokens_out", 0.0)) * requests
        out: dict[str, Any] = {"tokens": token_impacts(impact, tokens, requests)}
        if isinstance(impact.get("impact_compute"), dict):
            out["tokens_compute"] = token_impacts(impact["impact_compute"], tokens, requests)
        return out

    def facts(self) -> WorkloadFacts:
        o = self.options
        return WorkloadFacts(name=self.name, extra={
            "url": o.url, "model": o.model, "api": o.api, "max_concurrency": o.max_concurrency,
            "launched": o.launch is not None, "served_models": self.served_models,
            "load_s": self.load_s, "max_new_tokens": self.max_new_tokens})


__all__ = ["EndpointError", "EndpointGoneError", "EndpointOptions", "OpenAIEndpoint"]
