"""FLOPs and bytes moved by one query of a transformer, by two methods shown side by side.

``thesis`` (the study's lower bound; docs/method.md, "Estimating without the device")::

    FLOPs = layers * (l^2 * d + 2 * f * d)          heads in parallel, one pass over l tokens
    bytes = parameters * bytes_per_value            the weights read once

It leaves out the projections and counts the FFN once rather than per token, so it is a floor,
not a count; it exists to reproduce the study and to show how far a full count lands from it.

``faithful`` counts every matrix product (2 FLOPs per multiply-add) of a pass that handles ``q``
new tokens against a context of ``c`` tokens, per layer::

    QKV projections   2 q d (q_dim + 2 kv_dim)
    scores  Q K^T     2 q c q_dim
    mix     P V       2 q c q_dim
    output  proj.     2 q q_dim d
    FFN               2 q d f * 2  (plain MLP)   or  * 3  (gated SwiGLU)

and the LM head ``2 d vocab`` per token whose logits are needed (decoders). Element-wise work
(softmax, norms, activations, bias adds) is left out: it is well under 1 % of the FLOPs.

Bytes of a pass, at ``bytes_per_value`` of the precision (fp32/tf32 4, fp16/bf16 2, fp8/int8 1,
int4 0.5) for weights, activations and the KV cache alike, under one of two traffic models:

* weights (both): every layer parameter read once per pass, the embedding rows looked up (token,
  learned position and token type rows of the new tokens), and for decoders the final norm and
  the whole LM head matrix;
* activations, ``fused`` (the default, what TensorRT, FlashAttention and vLLM kernels do): each
  layer reads its input and writes its output (``2 q d`` values per sequence); the attention
  scores stay in on-chip memory (tiled attention keeps one tile of ``q x c`` there, so they never
  reach DRAM whatever the length) and element-wise work is fused into the matrix products;
* activations, ``unfused`` (every kernel on its own, the count before issue 13): each matrix
  product reads its input and writes its output (``q (4 d + 4 q_dim + 2 f) + 2 heads q c``
  values, the attention probabilities included);
* keys and values (both), per layer: the pass reads ``2 c kv_dim`` values and writes
  ``2 q kv_dim`` (the KV cache of a decoder; multi-query and grouped-query attention shrink
  ``kv_dim``).

A pass over a **batch** of ``B`` sequences (encoders: ``--batch``; a decode step of ``B``
concurrent sequences) reads the weights once and multiplies FLOPs, activations and keys/values by
``B``: that is where batching gains.

An encoder query is one pass with ``q = c = seq_len``. A decoder query is a **prefill** pass
(``q = c = tokens_in``, logits of the last token only, which yields the first output token) and
``tokens_out - 1`` **decode** steps; step ``j`` has ``q = 1`` and ``c = tokens_in + j``. Every
count is linear in ``c``, so the decode total equals ``(tokens_out - 1)`` times one step at the
mean context ``tokens_in + tokens_out / 2``; that mean step is the per-output-token figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from inferlca.errors import InvalidValueError, UnknownNameError, named
from inferlca.estimate.models import ModelFacts
from inferlca.estimate.rates import BYTES_PER_VALUE, check_precision

Method = Literal["thesis", "faithful"]
METHODS: tuple[str, ...] = ("thesis", "faithful")
TRAFFIC_MODELS: tuple[str, ...] = ("fused", "unfused")

#: Defaults when the user gives no lengths: MLPerf's BERT SQuAD sequence length, and a short chat
#: turn for decoders.
DEFAULT_SEQ_LEN = 384
DEFAULT_TOKENS_IN = 128
DEFAULT_TOKENS_OUT = 128


@dataclass(frozen=True)
class PassCost:
    """FLOPs and bytes of one pass: an encoder sequence, a prefill, or one decode step.

    Attributes:
        name: ``sequence``, ``prefill``, ``decode_step`` (mean step) or ``query`` (thesis).
        flops: floating-point operations (FLOP).
        weight_bytes / activation_bytes / kv_read_bytes / kv_write_bytes: bytes moved (B).
        new_tokens: tokens this pass processes (q).
        context_tokens: tokens attended to (c).
    """

    name: str
    flops: float
    weight_bytes: float
    activation_bytes: float = 0.0
    kv_read_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    new_tokens: float = 0.0
    context_tokens: float = 0.0

    @property
    def bytes(self) -> float:
        """All bytes moved to and from memory (B)."""
        return self.weight_bytes + self.activation_bytes + self.kv_read_bytes + self.kv_write_bytes

    @property
    def intensity(self) -> float:
        """Operational intensity (FLOP/B)."""
        return self.flops / self.bytes

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "flops": self.flops, "bytes": self.bytes,
                "weight_bytes": self.weight_bytes, "activation_bytes": self.activation_bytes,
                "kv_read_bytes": self.kv_read_bytes, "kv_write_bytes": self.kv_write_bytes,
                "intensity_flop_per_byte": self.intensity, "new_tokens": self.new_tokens,
                "context_tokens": self.context_tokens}


@dataclass(frozen=True)
class QueryCost:
    """The cost of one query of a model by one method.

    Attributes:
        passes: the distinct passes (``sequence``; or ``prefill`` + ``decode_step``; or ``query``).
        decode_steps: how many times ``decode_step`` runs per query (0 for encoders and thesis).
    """

    model: ModelFacts
    method: str
    precision: str
    seq_len: int | None
    tokens_in: int | None
    tokens_out: int | None
    passes: dict[str, PassCost]
    decode_steps: int = 0
    notes: tuple[str, ...] = field(default=())
    traffic: str = "fused"
    batch: int = 1

    @property
    def flops(self) -> float:
        """FLOPs of one query (a batched pass's FLOPs shared over its ``batch`` queries)."""
        return sum(p.flops * self._repeat(n) for n, p in self.passes.items()) / self.batch

    @property
    def bytes(self) -> float:
        """Bytes moved per query (the weights read once per batch are shared)."""
        return sum(p.bytes * self._repeat(n) for n, p in self.passes.items()) / self.batch

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes

    def _repeat(self, name: str) -> int:
        return self.decode_steps if name == "decode_step" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.name, "method": self.method, "precision": self.precision,
                "traffic": self.traffic, "batch": self.batch, "seq_len": self.seq_len, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out, "flops": self.flops, "bytes": self.bytes,
                "intensity_flop_per_byte": self.intensity, "decode_steps": self.decode_steps,
                "passes": {k: p.to_dict() for k, p in self.passes.items()},
                "notes": list(self.notes)}


def _positive_int(name: str, v: int | None) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InvalidValueError(f"{named(name)} must be an integer >= 1, got {v!r}")
    return v


def bytes_per_value(precision: str) -> float:
    return BYTES_PER_VALUE[check_precision(precision)]


def thesis_cost(model: ModelFacts, l_tokens: int, precision: str = "fp32") -> PassCost:
    """The study's lower bound for one pass over ``l_tokens`` (see the module docstring)."""
    b = bytes_per_value(precision)
    d, f = model.hidden, model.ffn
    flops = model.layers * (l_tokens ** 2 * d + 2 * f * d)
    return PassCost("query", float(flops), float(model.parameter_count() * b),
                    new_tokens=l_tokens, context_tokens=l_tokens)


def faithful_pass(model: ModelFacts, new_tokens: float, context_tokens: float,
                  precision: str = "fp32", logits_tokens: float = 0.0, name: str = "pass",
                  traffic: str = "fused", batch: int = 1) -> PassCost:
    """Every matrix product of a pass over ``new_tokens`` against ``context_tokens``.

    Args:
        new_tokens: q, tokens processed by this pass (per sequence).
        context_tokens: c, tokens attended to (the new ones included).
        logits_tokens: tokens whose LM-head logits are computed (decoders; 0 for encoders).
        traffic: ``fused`` or ``unfused`` activation traffic (see the module docstring).
        batch: sequences in the pass; the weights are read once for all of them.
    """
    check_traffic(traffic)
    b = bytes_per_value(precision)
    q, c = float(new_tokens), float(context_tokens)
    d, f, h = model.hidden, model.ffn, model.heads
    qd, kvd = model.q_dim, model.kv_dim
    ffn_mats = 3 if model.gated_ffn else 2

    layer_flops = (2 * q * d * (qd + 2 * kvd) + 2 * q * c * qd + 2 * q * c * qd
                   + 2 * q * qd * d + 2 * q * d * f * ffn_mats)
    if traffic == "unfused":
        layer_act = q * (4 * d + 4 * qd + 2 * f) + 2 * h * q * c
    else:
        layer_act = 2 * q * d
    layer_kv_read = 2 * c * kvd
    layer_kv_write = 2 * q * kvd

    tables = 1 + (1 if model.learned_positions else 0) + (1 if model.token_types else 0)
    weight_values = model.layers * model.layer_params() + batch * q * d * tables
    flops = model.layers * layer_flops
    act = model.layers * layer_act
    if model.arch == "decoder":
        final_norm = 2 * d if model.norm == "layernorm" else d
        weight_values += final_norm + model.vocab * d
        flops += 2 * d * model.vocab * logits_tokens
        act += (d + model.vocab) * logits_tokens
    return PassCost(name, flops * batch, weight_values * b, act * b * batch,
                    model.layers * layer_kv_read * b * batch,
                    model.layers * layer_kv_write * b * batch, q, c)


def check_traffic(traffic: str) -> str:
    if traffic not in TRAFFIC_MODELS:
        raise UnknownNameError("traffic model", traffic, TRAFFIC_MODELS,
                               f"(accepted: {', '.join(TRAFFIC_MODELS)})")
    return traffic


def query_cost(model: ModelFacts, method: str = "faithful", precision: str = "fp32", *,
               seq_len: int | None = None, tokens_in: int | None = None,
               tokens_out: int | None = None, traffic: str = "fused",
               batch: int = 1) -> QueryCost:
    """FLOPs and bytes of one query; for encoders optionally a pass over ``batch`` queries.

    Decoders are costed one request at a time here (their concurrency is the serving model's,
    :mod:`inferlca.estimate.serving`).

    Encoders use ``seq_len`` (default 384, MLPerf's BERT setting, clipped to the model's
    positions). Decoders use ``tokens_in`` (prompt) and ``tokens_out`` (generated), default 128
    each; for them ``seq_len`` is the context reached, ``tokens_in + tokens_out`` (with only
    ``seq_len`` given, ``tokens_out = min(128, seq_len // 2)`` and the prompt is the rest). The
    thesis method makes one pass over ``l = seq_len`` tokens (``tokens_in + tokens_out``).

    Raises:
        InvalidValueError: a length below 1 or beyond the model's positions.
        UnknownNameError: an unknown method or precision.
    """
    if method not in METHODS:
        raise UnknownNameError("estimate method", method, METHODS,
                               f"(accepted: {', '.join(METHODS)})")
    bytes_per_value(precision)
    check_traffic(traffic)
    batch = _positive_int("batch", batch) or 1
    seq_len = _positive_int("seq_len", seq_len)
    tokens_in = _positive_int("tokens_in", tokens_in)
    tokens_out = _positive_int("tokens_out", tokens_out)
    notes: list[str] = []

    if model.arch == "encoder":
        if tokens_out is not None:
            raise InvalidValueError(
                f"{model.name} is an encoder: it generates no tokens; drop {named('tokens_out')} "
                f"and give {named('seq_len')}")
        s = seq_len or tokens_in or min(DEFAULT_SEQ_LEN, model.max_positions)
        _check_positions(model, s, named("seq_len"))
        if method == "thesis":
            return QueryCost(model, method, precision, s, None, None,
                             {"query": thesis_cost(model, s, precision)}, notes=tuple(notes),
                             traffic=traffic)
        p = faithful_pass(model, s, s, precision, name="sequence", traffic=traffic, batch=batch)
        return QueryCost(model, method, precision, s, None, None, {"sequence": p},
                         traffic=traffic, batch=batch)

    if seq_len is not None:
        # for a decoder, --seq-len is the context the query reaches: prompt + generated tokens
        if tokens_in is not None:
            t_in = tokens_in
            t_out = tokens_out or seq_len - tokens_in
        else:
            t_out = tokens_out or max(1, min(DEFAULT_TOKENS_OUT, seq_len // 2))
            t_in = seq_len - t_out
        if t_in < 1 or t_out < 1 or t_in + t_out != seq_len:
            raise InvalidValueError(
                f"for the decoder {model.name}, {named('seq_len')} ({seq_len}) is prompt + "
                f"generated tokens; it disagrees with {named('tokens_in')}/{named('tokens_out')} "
                f"({tokens_in}/{tokens_out})")
    else:
        t_in = tokens_in or DEFAULT_TOKENS_IN
        t_out = tokens_out or DEFAULT_TOKENS_OUT
    _check_positions(model, t_in + t_out, f"{named('tokens_in')} + {named('tokens_out')}")
    if method == "thesis":
        l_tokens = t_in + t_out
        notes.append(f"thesis: one pass over l = {l_tokens} tokens; no prefill/decode split")
        return QueryCost(model, method, precision, l_tokens, t_in, t_out,
                         {"query": thesis_cost(model, l_tokens, precision)}, notes=tuple(notes),
                         traffic=traffic)
    prefill = faithful_pass(model, t_in, t_in, precision, logits_tokens=1, name="prefill",
                            traffic=traffic)
    steps = t_out - 1
    mean_context = t_in + t_out / 2  # mean of t_in + j for j = 1 .. t_out - 1
    if steps == 0:
        notes.append("tokens-out 1: the prefill yields the only token; the decode step shown is "
                     "the next one, not counted in the query")
        mean_context = t_in + 1
    step = faithful_pass(model, 1, mean_context, precision, logits_tokens=1, name="decode_step",
                         traffic=traffic)
    return QueryCost(model, method, precision, None, t_in, t_out,
                     {"prefill": prefill, "decode_step": step}, decode_steps=steps,
                     notes=tuple(notes), traffic=traffic)


def _check_positions(model: ModelFacts, n: int, what: str) -> None:
    if n > model.max_positions:
        raise InvalidValueError(
            f"{what} = {n} exceeds the {model.max_positions} positions of {model.name}")
