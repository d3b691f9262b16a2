"""The ``llm-generate`` workload: autoregressive generation with a causal language model.

A request is one prompt; the answer is ``max_new_tokens`` tokens produced one at a time. The model
runs through transformers (torch backend) with a key/value cache, driven by our own decode loop
(:class:`DecodeEngine`) so that every token gets a timestamp:

1. **prefill**: one forward pass over the (left-padded) prompts of a batch fills the KV cache and
   gives the logits of the first new token; the first token's time is its *time to first token*
   (TTFT) counted from the request's arrival;
2. **decode**: one forward pass per further token, feeding only the last token and the cache
   (``past_key_values``); the mean gap between tokens after the first is the *time per output
   token* (TPOT, MLPerf's definition: ``(end - first_token) / (tokens_out - 1)``).

Each engine step is recorded as ``(start_s, end_s, phase)`` with ``phase`` in ``prefill`` /
``decode``; the engine runs one step at a time, so prefill and decode energy can always be
separated on a power trace by integrating over those windows (:func:`phase_energies_from_steps`).

**Weights.** ``--weights PATH`` loads a Hugging Face folder whose ``config.json`` names a causal-LM
architecture (``*ForCausalLM``, ``*LMHeadModel``); anything else (a BERT QA checkpoint, an encoder)
is refused with a :class:`~inferlca.errors.UsageError`. Without weights, a preset architecture is
built with seeded random weights and flagged synthetic: ``gpt2`` (GPT-2 small: 12 layers, hidden
768, 12 heads, vocabulary 50257, 1024 positions; Radford et al. 2019, Hugging Face ``gpt2``
``config.json``), the default, and ``tiny`` (2 layers, hidden 64, 4 heads, vocabulary 512,
256 positions) for tests. With synthetic weights the end-of-sequence token is masked out so every
request produces exactly the requested number of tokens and runs are comparable.

**Decoding.** Greedy (``sampling="greedy"``, the default) or sampled with temperature and top-k
from a per-request ``torch.Generator`` seeded with ``seed + request index``, so a request's tokens
do not depend on which other requests shared its batch.

**Prompts.** A text file with one prompt per line, or JSONL (``.jsonl`` suffix, or a first
non-blank line that starts with ``{``) whose objects carry ``"prompt"`` (text) or ``"input_ids"``
(token ids) and optionally ``"max_new_tokens"``. Without a file, seeded synthetic prompts of token
ids whose lengths are drawn uniformly from ``prompt_len`` (``"32"`` or ``"16..64"``, in tokens).
Synthetic presets have no trained tokenizer: text is encoded as its UTF-8 bytes (ids 0..255).

**Context length.** A prompt whose length plus ``max_new_tokens`` exceeds the model's positions
is refused (exit code 2) by default, naming the prompt; with ``prompt_overflow="truncate"`` the
prompt keeps its *last* tokens (the ones nearest the answer) and a warning says how many were cut.

**Batching** (:class:`BatchScheduler`). Static (default): requests that are waiting together
when the engine becomes free form one batch (at most ``max_batch``); the batch is prefilled
together and decoded step by step until its longest request is done; requests that arrive while a
batch runs wait for the next batch. Continuous (``batching="continuous"``): before every decode
step, the waiting requests are prefilled together and joined to the running batch (caches and
masks left-padded, each row keeping its own positions), and finished rows leave it, so a new
request waits one decode step instead of a whole batch. Either way a request is reported finished
(and its callback runs) at the step where it reaches its length.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, UsageError, require
from inferlca.workloads.base import BaseWorkload, StreamResult, WorkloadFacts

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger(__name__)

SYNTHETIC_NOTE = (
    "synthetic weights: seeded random parameters with the preset's architecture; latency, tokens "
    "and energy are representative of the architecture, the generated text is meaningless"
)


# --------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GenerationPreset:
    """A GPT-2-style decoder architecture built with seeded random weights.

    Attributes:
        name: preset name (``--preset``).
        n_layer: transformer blocks.
        n_embd: hidden size.
        n_head: attention heads.
        vocab_size: vocabulary size (tokens).
        n_positions: maximum context length (tokens).
        source: where the architecture comes from.
    """

    name: str
    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    n_positions: int
    source: str


PRESETS: dict[str, GenerationPreset] = {
    "gpt2": GenerationPreset(
        "gpt2", n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024,
        source="GPT-2 small (124M): Radford et al. 2019; Hugging Face 'gpt2' config.json"),
    "tiny": GenerationPreset(
        "tiny", n_layer=2, n_embd=64, n_head=4, vocab_size=512, n_positions=256,
        source="inferlca test preset (GPT-2 architecture, scaled down)"),
}
PRESET_ALIASES = {"gpt2-small": "gpt2", "default": "gpt2"}
DEFAULT_PRESET = "gpt2"
SAMPLING_MODES = ("greedy", "sample")
OVERFLOW_POLICIES = ("refuse", "truncate")


def get_preset(name: str | None) -> GenerationPreset:
    """Return the preset called ``name`` (``None`` = the GPT-2-small default)."""
    key = DEFAULT_PRESET if name is None else PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        raise UnknownNameError("llm-generate preset", name or "", list(PRESETS) + list(PRESET_ALIASES),
                               hint=f"accepted: {', '.join(PRESETS)}")
    return PRESETS[key]


# --------------------------------------------------------------------------------------------
# model loading
# --------------------------------------------------------------------------------------------

def _causal_lm_names() -> tuple[set[str], set[str]]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as names

    archs: set[str] = set()
    for v in names.values():
        archs.update(v if isinstance(v, (list, tuple)) else [v])
    return set(names), archs


def check_causal_lm_folder(path: str | Path) -> dict[str, Any]:
    """Check that ``path`` is a Hugging Face folder holding a causal language model.

    Returns the parsed ``config.json``. Raises :class:`UsageError` naming what is wrong: a missing
    folder or file, or an architecture that does not generate text (an encoder, a QA head...).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InvalidValueError(f"--weights {folder}: not a folder; give a Hugging Face model folder "
                                "(config.json + model.safetensors or pytorch_model.bin)")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InvalidValueError(f"--weights {folder}: config.json is missing; a Hugging Face causal-LM "
                                "folder is expected")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(cfg_path, f"not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise InputFileError(cfg_path, "expected a JSON object")
    types, archs = _causal_lm_names()
    declared = cfg.get("architectures") or []
    model_type = cfg.get("model_type")
    if declared:
        ok = any(a in archs for a in declared)
    else:
        ok = model_type in types and model_type not in ("bert", "roberta", "xlm-roberta", "electra")
    if not ok:
        what = ", ".join(declared) if declared else f"model_type {model_type!r}"
        raise UsageError(
            f"--weights {folder}: {what} is not a causal language model; llm-generate needs a "
            "decoder that generates text (architectures such as GPT2LMHeadModel, LlamaForCausalLM)")
    weight_files = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")]
    if not weight_files:
        raise InvalidValueError(f"--weights {folder}: no model.safetensors or pytorch_model.bin found")
    return cfg


def _transformers() -> Any:
    transformers = require("transformers", "torch", "the llm-generate workload")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def preset_config(preset: GenerationPreset) -> Any:
    """The transformers ``GPT2Config`` of a preset (EOS = the last vocabulary id)."""
    eos = preset.vocab_size - 1
    return _transformers().GPT2Config(
        n_layer=preset.n_layer, n_embd=preset.n_embd, n_head=preset.n_head,
        vocab_size=preset.vocab_size, n_positions=preset.n_positions, bos_token_id=eos,
        eos_token_id=eos)


def random_model(preset: GenerationPreset, seed: int = 0) -> Any:
    """A preset architecture with seeded random weights (eval mode, fp32)."""
    torch = require("torch", "torch", "the llm-generate workload")
    torch.manual_seed(seed)
    return _transformers().GPT2LMHeadModel(preset_config(preset)).eval()


def synthetic_weights_dir(preset: GenerationPreset, seed: int = 0) -> Path:
    """Seeded random weights of ``preset`` saved once as a Hugging Face folder in the cache.

    The folder name carries a hash of the architecture, seed and transformers version, so a file
    is never reused for another model. Every repetition then loads it from disk like real weights.
    """
    from inferlca.workloads.cache import cache_dir, cache_key

    transformers = _transformers()
    key = cache_key(preset=[preset.n_layer, preset.n_embd, preset.n_head, preset.vocab_size,
                            preset.n_positions], seed=seed, transformers=transformers.__version__)
    folder = cache_dir("weights") / f"llm-{preset.name}-seed{seed}-{key}"
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    tmp = folder.with_name(f"{folder.name}.tmp{threading.get_ident()}")
    random_model(preset, seed).save_pretrained(str(tmp))
    if folder.exists():  # another process won the race
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    return folder


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")


def load_tokenizer(folder: str | Path) -> Any:
    """The tokenizer saved with the weights, or None when the folder has no tokenizer files."""
    if not any((Path(folder) / name).is_file() for name in TOKENIZER_FILES):
        return None
    try:
        return _transformers().AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--weights {folder}: its tokenizer files cannot be loaded ({exc})") from None


TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def load_model(folder: str | Path, precision: str = "fp32", threads: int | None = None) -> Any:
    """Load a causal LM from a Hugging Face folder (checked first), eval mode, in ``precision``."""
    torch = require("torch", "torch", "the llm-generate workload")
    transformers = _transformers()
    if precision not in TORCH_DTYPES:
        raise InvalidValueError(f"llm-generate runs in {', '.join(TORCH_DTYPES)}, not {precision!r}")
    if threads is not None:
        torch.set_num_threads(threads)
    check_causal_lm_folder(folder)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=getattr(torch, TORCH_DTYPES[precision]))
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"--weights {folder}: cannot load a causal LM ({exc})") from None
    return model.eval()


def build_model(preset: GenerationPreset | None = None, weights: str | Path | None = None,
                seed: int = 0, threads: int | None = None) -> tuple[Any, Any]:
    """The causal LM in memory: real weights from ``weights``, else ``preset`` with seeded random
    ones (not cached; benchmarks use this). Returns ``(model, tokenizer_or_None)``."""
    if weights is not None:
        return load_model(weights, threads=threads), load_tokenizer(weights)
    if threads is not None:
        require("torch", "torch", "the llm-generate workload").set_num_threads(threads)
    return random_model(preset or get_preset(None), seed), None


def context_length(model: Any) -> int:
    """The maximum number of positions (prompt + generated tokens) of ``model``."""
    cfg = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return 2048


def eos_ids(model: Any) -> list[int]:
    eos = getattr(model.config, "eos_token_id", None)
    if eos is None:
        gen = getattr(model, "generation_config", None)
        eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    if eos is None:
        return []
    return list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]


# --------------------------------------------------------------------------------------------
# prompts
# --------------------------------------------------------------------------------------------

@dataclass
class Prompt:
    """One request's prompt: token ids, and the text when known."""

    input_ids: list[int]
    text: str | None = None
    max_new_tokens: int | None = None
    source: str = ""


def byte_encode(text: str, vocab_size: int) -> list[int]:
    """Encode text for a synthetic preset (no trained tokenizer): its UTF-8 bytes as ids 0..255."""
    if vocab_size < 256:
        raise InvalidValueError(f"byte encoding needs a vocabulary of at least 256, got {vocab_size}")
    return list(text.encode("utf-8"))


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


def synthetic_prompts(n: int, seed: int, vocab_size: int, prompt_len: tuple[int, int] = (32, 32),
                      avoid: Sequence[int] = ()) -> list[Prompt]:
    """``n`` seeded prompts of random token ids; lengths uniform in ``prompt_len`` (tokens)."""
    rng = np.random.default_rng(seed)
    lo, hi = prompt_len
    lengths = rng.integers(lo, hi + 1, size=n)
    banned = set(avoid)
    out = []
    for i, n_tok in enumerate(lengths):
        ids = rng.integers(0, vocab_size, size=int(n_tok))
        if banned:
            ids = np.array([t if t not in banned else (t + 1) % vocab_size for t in ids])
        out.append(Prompt([int(t) for t in ids], None, None, f"synthetic #{i}"))
    return out


def read_prompt_file(path: str | Path) -> list[dict[str, Any]]:
    """Read prompts from a text file (one per line) or JSONL; returns raw records.

    Each record has ``prompt`` (text) or ``input_ids``, optionally ``max_new_tokens``, and
    ``line`` (1-based). Raises :class:`InputFileError` for an unreadable, empty or malformed file.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(p, "prompt file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read the prompt file ({exc})") from None
    lines = raw.splitlines()
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise InputFileError(p, "the prompt file is empty; give one prompt per line, or JSONL objects "
                                'with "prompt" or "input_ids"')
    is_jsonl = p.suffix.lower() == ".jsonl" or first.lstrip().startswith("{")
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not is_jsonl:
            records.append({"prompt": line, "line": lineno})
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputFileError(p, f"not a JSON object ({exc.args[0]})", line=lineno) from None
        if not isinstance(obj, dict):
            raise InputFileError(p, 'expected a JSON object with "prompt" or "input_ids"', line=lineno)
        if "input_ids" in obj:
            ids = obj["input_ids"]
            if (not isinstance(ids, list) or not ids
                    or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in ids)):
                raise InputFileError(p, '"input_ids" must be a non-empty list of token ids >= 0',
                                     line=lineno)
        elif "prompt" in obj:
            if not isinstance(obj["prompt"], str) or not obj["prompt"]:
                raise InputFileError(p, '"prompt" must be a non-empty string', line=lineno)
        else:
            raise InputFileError(p, 'each object needs "prompt" (text) or "input_ids" (token ids)',
                                 line=lineno)
        mnt = obj.get("max_new_tokens")
        if mnt is not None and (not isinstance(mnt, int) or isinstance(mnt, bool) or mnt < 1):
            raise InputFileError(p, f'"max_new_tokens" must be an integer >= 1, got {mnt!r}', line=lineno)
        records.append({**obj, "line": lineno})
    return records


def encode_prompts(records: Sequence[dict[str, Any]], path: str | Path, tokenizer: Any,
                   vocab_size: int) -> list[Prompt]:
    """Turn prompt records into token ids with ``tokenizer`` (or UTF-8 bytes when it is None)."""
    out = []
    for rec in records:
        line = rec.get("line")
        if "input_ids" in rec:
            ids = [int(t) for t in rec["input_ids"]]
            bad = [t for t in ids if t >= vocab_size]
            if bad:
                raise InputFileError(path, f"token id {bad[0]} is outside the vocabulary (0..{vocab_size - 1})",
                                     line=line)
            text = None
        else:
            text = rec["prompt"]
            ids = list(tokenizer(text)["input_ids"]) if tokenizer is not None else byte_encode(text, vocab_size)
            if not ids:
                raise InputFileError(path, "the prompt encodes to no tokens", line=line)
        out.append(Prompt(ids, text, rec.get("max_new_tokens"), f"{Path(path).name}:{line}"))
    return out


def fit_to_context(prompts: list[Prompt], max_new_tokens: int, n_positions: int,
                   policy: str = "refuse") -> tuple[list[Prompt], list[str]]:
    """Apply the context-length policy; returns the prompts and warnings.

    ``refuse`` raises :class:`InvalidValueError` for the first prompt with
    ``len(prompt) + max_new_tokens > n_positions``; ``truncate`` keeps its last tokens.
    """
    if policy not in OVERFLOW_POLICIES:
        raise UnknownNameError("prompt overflow policy", policy, OVERFLOW_POLICIES)
    warnings: list[str] = []
    fitted = []
    for pr in prompts:
        new = pr.max_new_tokens or max_new_tokens
        if new >= n_positions:
            raise InvalidValueError(
                f"max-new-tokens {new} leaves no room for a prompt in the model's context of "
                f"{n_positions} tokens; use at most {n_positions - 1}")
        room = n_positions - new
        if len(pr.input_ids) <= room:
            fitted.append(pr)
            continue
        if policy == "refuse":
            raise InvalidValueError(
                f"prompt {pr.source} has {len(pr.input_ids)} tokens; with max-new-tokens {new} the "
                f"model's context of {n_positions} tokens allows at most {room}; shorten it, lower "
                "max-new-tokens, or keep its last tokens with --prompt-overflow truncate")
        cut = len(pr.input_ids) - room
        warnings.append(f"prompt {pr.source}: truncated by {cut} tokens (kept the last {room}) to fit "
                        f"the context of {n_positions}")
        fitted.append(Prompt(pr.input_ids[-room:], pr.text, pr.max_new_tokens, pr.source))
    for w in warnings:
        log.warning(w)
    return fitted, warnings


# --------------------------------------------------------------------------------------------
# the decode loop
# --------------------------------------------------------------------------------------------

@dataclass
class GenRequest:
    """A request for the engine: prompt tokens, how many to generate, when it arrived (clock s)."""

    index: int
    input_ids: list[int]
    max_new_tokens: int
    arrival_s: float
    tag: Any = None
    on_first_token: Callable[[GenRequest, int, float], None] | None = None
    on_done: Callable[[GenResult], None] | None = None
    on_error: Callable[[GenRequest, BaseException], None] | None = None


@dataclass
class GenResult:
    """One finished request with every token's timestamp (seconds on the engine's clock)."""

    index: int
    tokens_in: int
    output_ids: list[int]
    arrival_s: float
    start_s: float
    token_times_s: list[float]
    tag: Any = None

    @property
    def tokens_out(self) -> int:
        return len(self.output_ids)

    @property
    def first_token_s(self) -> float:
        return self.token_times_s[0]

    @property
    def end_s(self) -> float:
        return self.token_times_s[-1]

    @property
    def ttft_s(self) -> float:
        """Time to first token: arrival to first token (queueing included)."""
        return self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> float:
        """End-to-end latency: arrival to last token."""
        return self.end_s - self.arrival_s

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first (MLPerf): ``(end - first) / (tokens_out - 1)``."""
        if self.tokens_out < 2:
            return None
        return (self.end_s - self.first_token_s) / (self.tokens_out - 1)

    @property
    def tokens_per_s(self) -> float:
        """Output tokens over the end-to-end latency."""
        return self.tokens_out / self.e2e_s if self.e2e_s > 0 else math.inf


@dataclass
class Step:
    """One engine forward pass: its clock window, phase (``prefill``/``decode``) and batch size."""

    start_s: float
    end_s: float
    phase: str
    batch: int


@dataclass
class DecodeSettings:
    """How tokens are chosen.

    Attributes:
        sampling: ``greedy`` or ``sample``.
        temperature: softmax temperature for ``sample`` (> 0).
        top_k: keep the k most likely tokens for ``sample`` (0 = all).
        seed: base seed; request ``i`` samples from ``torch.Generator`` seeded ``seed + i``.
        force_length: mask end-of-sequence so every request yields exactly ``max_new_tokens``.
    """

    sampling: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0
    force_length: bool = True

    def validate(self) -> DecodeSettings:
        if self.sampling not in SAMPLING_MODES:
            raise UnknownNameError("sampling mode", self.sampling, SAMPLING_MODES)
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InvalidValueError(f"temperature must be a finite number > 0, got {self.temperature}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise InvalidValueError(f"top-k must be an integer >= 0, got {self.top_k!r}")
        return self


class DecodeEngine:
    """Our decode loop: batched prefill, then one cached forward pass per token.

    Args:
        model: a transformers causal LM (eval mode).
        settings: token choice (:class:`DecodeSettings`).
        pad_token_id: id used for left padding (masked out, its value does not matter).
        clock: a monotonic clock in seconds (``time.monotonic`` by default, the clock of
            :class:`~inferlca.meters.sampler.Sampler`, so step windows map onto the trace with
            ``Sampler.to_trace_time``).
    """

    def __init__(self, model: Any, settings: DecodeSettings | None = None, pad_token_id: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.torch = require("torch", "torch", "the llm-generate workload")
        self.model = model
        self.settings = (settings or DecodeSettings()).validate()
        self.pad_token_id = pad_token_id
        self.clock = clock
        self.eos = eos_ids(model)
        self.n_positions = context_length(model)
        self.steps: list[Step] = []
        self._lock = threading.Lock()

    def reset_steps(self) -> list[Step]:
        """Return the recorded steps and start a new list."""
        with self._lock:
            steps, self.steps = self.steps, []
        return steps

    def _choose(self, logits: Any, generators: list[Any]) -> Any:
        torch = self.torch
        if self.settings.force_length and self.eos:
            logits[:, self.eos] = -math.inf
        if self.settings.sampling == "greedy":
            return logits.argmax(dim=-1)
        scaled = logits / self.settings.temperature
        k = self.settings.top_k
        if 0 < k < scaled.shape[-1]:
            kth = torch.topk(scaled, k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, -math.inf)
        probs = torch.softmax(scaled, dim=-1)
        picks = [torch.multinomial(probs[i], 1, generator=generators[i]) for i in range(probs.shape[0])]
        return torch.cat(picks)

    def generate(self, requests: Sequence[GenRequest],
                 on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                 on_done: Callable[[GenResult], None] | None = None) -> list[GenResult]:
        """Generate for one static batch; returns results in the order of ``requests``.

        ``on_first_token(request, token_id, t_s)`` runs as soon as the prefill has produced each
        request's first token; ``on_done(result)`` runs at the step where a request finishes.
        A request's own ``on_first_token``/``on_done`` run after these. Finished requests stay
        in the batch (their rows are computed and ignored) until the longest one is done.
        """
        if not requests:
            return []
        batch = self.prefill(requests, on_first_token, on_done)
        while batch.active:
            self.decode_step(batch, on_done)
        return [r for r in batch.results if r is not None]

    def check(self, requests: Sequence[GenRequest]) -> None:
        """Refuse empty prompts and prompts that do not fit the context with their new tokens."""
        for r in requests:
            if not r.input_ids:
                raise InvalidValueError(f"request {r.index} has an empty prompt")
            if len(r.input_ids) + r.max_new_tokens > self.n_positions:
                raise InvalidValueError(
                    f"request {r.index}: {len(r.input_ids)} prompt tokens + {r.max_new_tokens} new "
                    f"tokens exceed the model's context of {self.n_positions}")

    def prefill(self, requests: Sequence[GenRequest],
                on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                on_done: Callable[[GenResult], None] | None = None) -> RunningBatch:
        """One forward pass over the left-padded prompts: the KV cache and every first token."""
        torch = self.torch
        self.check(requests)
        n = len(requests)
        lengths = [len(r.input_ids) for r in requests]
        width = max(lengths)
        ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(requests):
            ids[i, width - lengths[i]:] = torch.tensor(r.input_ids, dtype=torch.long)
            mask[i, width - lengths[i]:] = 1
        position = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = []
        if self.settings.sampling == "sample":
            for r in requests:
                g = torch.Generator()
                g.manual_seed(self.settings.seed + r.index)
                generators.append(g)
        batch = RunningBatch(list(requests), self.clock(), generators)
        with torch.inference_mode():
            t0 = self.clock()
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=True)
            nxt = self._choose(out.logits[:, -1, :].float(), generators)
            tokens = nxt.tolist()  # synchronises: the tokens exist now
            t1 = self.clock()
        with self._lock:
            self.steps.append(Step(t0, t1, "prefill", n))
        batch.past, batch.mask, batch.pos, batch.nxt = out.past_key_values, mask, position[:, -1:], nxt
        for i, tok in enumerate(tokens):
            if on_first_token is not None:
                on_first_token(requests[i], int(tok), t1)
            own_first = requests[i].on_first_token
            if own_first is not None:
                own_first(requests[i], int(tok), t1)
        self._record(batch, tokens, t1, on_done)
        return batch

    def decode_step(self, batch: RunningBatch, on_done: Callable[[GenResult], None] | None = None) -> None:
        """One cached forward pass: the next token of every row of ``batch``."""
        torch = self.torch
        n = batch.rows
        with torch.inference_mode():
            t0 = self.clock()
            batch.mask = torch.cat([batch.mask, torch.ones((n, 1), dtype=torch.long)], dim=1)
            batch.pos = batch.pos + 1
            out = self.model(input_ids=batch.nxt.view(n, 1), attention_mask=batch.mask,
                             position_ids=batch.pos, past_key_values=batch.past, use_cache=True)
            batch.past = out.past_key_values
            batch.nxt = self._choose(out.logits[:, -1, :].float(), batch.generators)
            tokens = batch.nxt.tolist()
            t1 = self.clock()
        with self._lock:
            self.steps.append(Step(t0, t1, "decode", batch.active))
        self._record(batch, tokens, t1, on_done)

    def _record(self, batch: RunningBatch, tokens: list[int], t_s: float,
                on_done: Callable[[GenResult], None] | None) -> None:
        for i, tok in enumerate(tokens):
            if batch.done[i]:
                continue
            batch.outputs[i].append(int(tok))
            batch.times[i].append(t_s)
            req = batch.requests[i]
            if (len(batch.outputs[i]) >= req.max_new_tokens
                    or (not self.settings.force_length and tok in self.eos)):
                batch.done[i] = True
                res = GenResult(req.index, len(req.input_ids), batch.outputs[i], req.arrival_s,
                                batch.start_s[i], batch.times[i], req.tag)
                batch.results[i] = res
                if on_done is not None:
                    on_done(res)
                own_done = req.on_done
                if own_done is not None:
                    own_done(res)

    def compact(self, batch: RunningBatch) -> None:
        """Drop finished rows from ``batch`` (cache, mask, positions, next tokens), then the
        leading cache columns that are padding for every remaining row, so attention never runs
        over more context than the longest live request holds."""
        keep = [i for i, d in enumerate(batch.done) if not d]
        if len(keep) == batch.rows:
            return
        idx = self.torch.tensor(keep, dtype=self.torch.long)
        if keep:
            batch.past.batch_select_indices(idx)
            batch.mask, batch.pos, batch.nxt = batch.mask[idx], batch.pos[idx], batch.nxt[idx]
            live = batch.mask.any(dim=0).nonzero()
            start = int(live[0]) if live.numel() else 0
            if start > 0:
                batch.mask = batch.mask[:, start:]
                for layer in batch.past.layers:
                    layer.keys = layer.keys[:, :, start:, :]
                    layer.values = layer.values[:, :, start:, :]
        batch.select(keep)

    def merge(self, old: RunningBatch, new: RunningBatch) -> RunningBatch:
        """Join a freshly prefilled batch to a running one (continuous batching).

        The shorter of the two KV caches and masks is padded on the left (masked-out zeros), so
        every row keeps its own positions; rows are then concatenated.
        """
        torch = self.torch
        if old.rows == 0:
            return new
        t_old, t_new = old.mask.shape[1], new.mask.shape[1]
        width = max(t_old, t_new)

        def pad(x: Any, t: int, dim: int) -> Any:
            if t == width:
                return x
            shape = list(x.shape)
            shape[dim] = width - t
            return torch.cat([torch.zeros(shape, dtype=x.dtype), x], dim=dim)

        for lo, ln in zip(old.past.layers, new.past.layers):
            lo.keys = torch.cat([pad(lo.keys, t_old, 2), pad(ln.keys, t_new, 2)], dim=0)
            lo.values = torch.cat([pad(lo.values, t_old, 2), pad(ln.values, t_new, 2)], dim=0)
        old.mask = torch.cat([pad(old.mask, t_old, 1), pad(new.mask, t_new, 1)], dim=0)
        old.pos = torch.cat([old.pos, new.pos], dim=0)
        old.nxt = torch.cat([old.nxt, new.nxt], dim=0)
        old.extend(new)
        return old


class RunningBatch:
    """The state of a batch in the engine: its requests, tokens so far, KV cache and masks."""

    def __init__(self, requests: list[GenRequest], start_s: float, generators: list[Any]) -> None:
        n = len(requests)
        self.requests = requests
        self.start_s = [start_s] * n
        self.generators = generators
        self.outputs: list[list[int]] = [[] for _ in range(n)]
        self.times: list[list[float]] = [[] for _ in range(n)]
        self.done = [False] * n
        self.results: list[GenResult | None] = [None] * n
        self.past: Any = None
        self.mask: Any = None
        self.pos: Any = None
        self.nxt: Any = None

    @property
    def rows(self) -> int:
        return len(self.requests)

    @property
    def active(self) -> int:
        return sum(1 for d in self.done if not d)

    def select(self, keep: list[int]) -> None:
        for name in ("requests", "start_s", "outputs", "times", "done", "results"):
            seq = getattr(self, name)
            setattr(self, name, [seq[i] for i in keep])
        if self.generators:
            self.generators = [self.generators[i] for i in keep]

    def extend(self, other: RunningBatch) -> None:
        for name in ("requests", "start_s", "outputs", "times", "done", "results", "generators"):
            getattr(self, name).extend(getattr(other, name))


# --------------------------------------------------------------------------------------------
# batching for concurrent requests
# --------------------------------------------------------------------------------------------

BATCHING_MODES = ("static", "continuous")



class BatchScheduler:
    """Batching of concurrent requests on one worker thread, static or continuous.

    :meth:`submit` never blocks (LoadGen's issue thread must not wait for the model). Requests
    submitted in one call stay together, oldest first.

    * ``static`` (default): when the engine is free, the waiting requests (at most ``max_batch``;
      a larger group is split) form one :meth:`DecodeEngine.generate` batch; requests that arrive
      while it runs wait for the next batch.
    * ``continuous``: before every decode step, waiting requests (up to ``max_batch`` rows in all)
      are prefilled together and joined to the running batch (:meth:`DecodeEngine.merge`);
      finished rows leave it (:meth:`DecodeEngine.compact`). A new request waits one decode step,
      not a whole batch.

    Args:
        engine: the decode engine.
        max_batch: most requests per batch (>= 1).
        on_first_token: called ``(request, token_id, t_s)`` for every request's first token.
        on_done: called with each :class:`GenResult`.
        on_error: called ``(unfinished requests, exception)`` when a batch fails, so a driver
            can still answer them; the first error is kept in :attr:`error`.
        mode: ``static`` or ``continuous``.
    """

    def __init__(self, engine: DecodeEngine, max_batch: int = 8,
                 on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                 on_done: Callable[[GenResult], None] | None = None,
                 on_error: Callable[[list[GenRequest], BaseException], None] | None = None,
                 mode: str = "static") -> None:
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InvalidValueError(f"max-batch must be an integer >= 1, got {max_batch!r}")
        if mode not in BATCHING_MODES:
            raise UnknownNameError("batching mode", mode, BATCHING_MODES)
        self.engine = engine
        self.max_batch = max_batch
        self.mode = mode
        self.on_first_token = on_first_token
        self.on_done = on_done
        self.on_error = on_error
        self._waiting: list[GenRequest] = []
        self._cond = threading.Condition()
        self._stop = False
        self._running = 0
        self._thread: threading.Thread | None = None
        #: requests admitted together: one entry per static batch or per continuous admission
        self.batch_sizes: list[int] = []
        self.error: BaseException | None = None

    def start(self) -> BatchScheduler:
        self._stop = False
        work = self._work_continuous if self.mode == "continuous" else self._work
        self._thread = threading.Thread(target=work, name="inferlca-llm-batcher", daemon=True)
        self._thread.start()
        return self

    def submit(self, *requests: GenRequest) -> None:
        """Queue requests (one arrival group); returns at once."""
        with self._cond:
            self._waiting.extend(requests)
            self._cond.notify_all()

    def skip_waiting(self) -> list[GenRequest]:
        """Remove and return the requests not yet started (Ctrl-C: answer them without the model)."""
        with self._cond:
            left, self._waiting = self._waiting, []
            self._cond.notify_all()
        return left

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until every submitted request has finished (or ``timeout_s`` passed)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting and self._running == 0, timeout_s)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _done(self, finished: list[GenResult]) -> Callable[[GenResult], None]:
        def done(res: GenResult) -> None:
            finished.append(res)
            if self.on_done is not None:
                self.on_done(res)
        return done

    def _fail(self, requests: Sequence[GenRequest], finished: list[GenResult], exc: BaseException) -> None:
        self.error = self.error or exc
        log.exception("llm-generate batch failed")
        left = [r for r in requests
                if not any(f.index == r.index and f.tag is r.tag for f in finished)]
        if self.on_error is not None:
            self.on_error(left, exc)
        for r in left:
            if r.on_error is not None:
                r.on_error(r, exc)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._stop)
                if not self._waiting:
                    return
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]
                self._running = len(batch)
            self.batch_sizes.append(len(batch))
            finished: list[GenResult] = []
            try:
                self.engine.generate(batch, self.on_first_token, self._done(finished))
            except BaseException as exc:  # noqa: BLE001 - kept for the caller; the worker must not die
                self._fail(batch, finished, exc)
            with self._cond:
                self._running = 0
                self._cond.notify_all()

    def _work_continuous(self) -> None:
        engine = self.engine
        running: RunningBatch | None = None
        while True:
            rows = running.rows if running is not None else 0
            with self._cond:
                if rows == 0:
                    self._cond.wait_for(lambda: self._waiting or self._stop)
                    if not self._waiting:
                        return
                new = self._waiting[:self.max_batch - rows]
                del self._waiting[:len(new)]
                self._running = rows + len(new)
            finished: list[GenResult] = []
            done = self._done(finished)
            admitted: list[GenRequest] = list(running.requests) if running is not None else []
            try:
                if new:
                    self.batch_sizes.append(len(new))
                    admitted += new
                    fresh = engine.prefill(new, self.on_first_token, done)
                    running = engine.merge(running, fresh) if running is not None else fresh
                    engine.compact(running)  # requests that wanted a single token
                if running is not None and running.rows:
                    engine.decode_step(running, done)
                    engine.compact(running)
            except BaseException as exc:  # noqa: BLE001 - kept for the caller; the worker must not die
                self._fail(admitted, finished, exc)
                running = None
            with self._cond:
                self._running = running.rows if running is not None else 0
                self._cond.notify_all()


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------

def _pct(values: Sequence[float], q: float) -> float:
    """LoadGen's percentile rule (as for query latencies), ``q`` in percent."""
    from inferlca.loadgen.logs import loadgen_percentile

    return loadgen_percentile(np.asarray(values, dtype=float), q / 100.0)


def request_metrics(results: Sequence[GenResult]) -> dict[str, float]:
    """Token metrics over finished requests (contract keys; per request; seconds, tokens).

    ``tokens_in``/``tokens_out`` are the mean tokens per request (exact integers when every
    request has the same length; the totals are these times ``samples``), as the estimator gives
    them for one query. ``ttft_*`` and ``tpot_*`` are percentiles over requests (TPOT only over
    requests with at least two tokens), by LoadGen's rule (sorted value at index ``floor(n * p)``)
    so they compare with its summary and with ``latency_p*_s``. ``tokens_per_s`` is the mean over
    requests of output tokens / end-to-end latency (a user's view of speed).
    """
    if not results:
        return {}
    n = len(results)
    ttft = [r.ttft_s for r in results]
    tpot = [t for t in (r.tpot_s for r in results) if t is not None]
    speeds = [r.tokens_per_s for r in results if r.e2e_s > 0]
    m = {
        "tokens_in": math.fsum(r.tokens_in for r in results) / n,
        "tokens_out": math.fsum(r.tokens_out for r in results) / n,
        "ttft_p50_s": _pct(ttft, 50),
        "ttft_p99_s": _pct(ttft, 99),
    }
    if tpot:
        m["tpot_p50_s"] = _pct(tpot, 50)
        m["tpot_p99_s"] = _pct(tpot, 99)
    if speeds:
        m["tokens_per_s"] = math.fsum(speeds) / len(speeds)
    return m


def merge_windows(steps: Sequence[Step], phase: str, tolerance_s: float = 0.0) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` windows of ``phase``, back-to-back steps joined.

    Two steps of the same phase are joined when the second starts at most ``tolerance_s`` after
    the first ends (the bookkeeping between two forward passes belongs to the phase).
    """
    windows: list[list[float]] = []
    for s in sorted((s for s in steps if s.phase == phase), key=lambda s: s.start_s):
        if windows and s.start_s - windows[-1][1] <= tolerance_s:
            windows[-1][1] = max(windows[-1][1], s.end_s)
        else:
            windows.append([s.start_s, s.end_s])
    return [(a, b) for a, b in windows]


def phase_energies_from_steps(trace: Any, steps: Sequence[Step], offset_s: float = 0.0,
                              channel: str | None = None, tolerance_s: float = 1e-3) -> dict[str, float]:
    """Energy (J) of the trace inside the prefill and the decode steps.

    The engine runs one step at a time, so the windows never overlap; each window's energy comes
    from :func:`inferlca.traces.energy.energy_j` (a hardware counter when the trace has one, else
    the trapezoid with edges interpolated). ``offset_s`` converts engine clock to trace time
    (``t_trace = t + offset_s``). Returns ``energy_prefill_j`` and ``energy_decode_j`` (a key is
    absent when no step of that phase exists). Their sum is at most the compute-phase energy: time
    between steps (waiting for requests) belongs to neither.
    """
    from inferlca.traces.energy import energy_j

    t_s = np.asarray(trace.t_s, dtype=float)
    if t_s.size < 2:
        return {}
    lo, hi = float(t_s[0]), float(t_s[-1])
    out: dict[str, float] = {}
    for phase in ("prefill", "decode"):
        windows = merge_windows(steps, phase, tolerance_s)
        if not windows:
            continue
        total_j = 0.0
        for a, b in windows:
            a, b = min(max(a + offset_s, lo), hi), min(max(b + offset_s, lo), hi)
            if b > a:
                total_j += energy_j(trace, a, b, channel)
        out[f"energy_{phase}_j"] = total_j
    return out


def generation_metrics(results: Sequence[GenResult], *, energy_compute_j: float | None = None,
                       trace: Any = None, steps: Sequence[Step] = (),
                       clock_offset_s: float = 0.0) -> dict[str, float]:
    """All decoder-LLM metric keys of a repetition (see docs/CONTRACTS.md).

    Args:
        results: every finished request.
        energy_compute_j: energy of the compute phase (J); gives ``energy_per_token_j`` =
            ``energy_compute_j / total output tokens``, so energy per token x output tokens per
            request x requests = compute energy.
        trace: the power trace, for prefill/decode energies from ``steps``.
        steps: the engine's steps (clock seconds); ``clock_offset_s`` maps them to trace time.
    """
    m = request_metrics(results)
    if not m:
        return m
    total_out = sum(r.tokens_out for r in results)
    if energy_compute_j is not None and math.isfinite(energy_compute_j) and total_out > 0:
        m["energy_per_token_j"] = energy_compute_j / total_out
    if trace is not None and steps:
        m.update(phase_energies_from_steps(trace, steps, clock_offset_s))
    return m


def token_impacts(impact: dict[str, Any], total_tokens_out: float, requests: float) -> dict[str, Any]:
    """GWP per request and per 1,000 output tokens, use and embodied, from an ``Impact.to_dict()``.

    Scales the ``{"value","low","high"}`` dicts of ``use_gco2e``, ``embodied_gco2e`` and
    ``total_gco2e`` (gCO2e for the whole repetition) by ``1/requests`` and ``1000/tokens_out``.
    """
    out: dict[str, Any] = {"per_request": {}, "per_1k_tokens": {}}
    for key in ("use_gco2e", "embodied_gco2e", "total_gco2e"):
        v = impact.get(key)
        if not isinstance(v, dict):
            continue
        if requests > 0:
            out["per_request"][key] = {b: float(v[b]) / requests for b in ("value", "low", "high")}
        if total_tokens_out > 0:
            out["per_1k_tokens"][key] = {b: float(v[b]) * 1000.0 / total_tokens_out
                                         for b in ("value", "low", "high")}
    return out


# --------------------------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------------------------

@dataclass
class GenerationOptions:
    """Settings of ``llm-generate`` beyond the RunSpec's ``max_new_tokens``/``prompts``/``preset``.

    Read from ``RunSpec.extra`` keys of the same names.
    """

    sampling: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    prompt_len: str = "32"
    prompt_overflow: str = "refuse"
    max_batch: int = 8
    batching: str = "static"
    force_length: bool | None = None  # None: forced with synthetic weights, EOS allowed with real ones

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> GenerationOptions:
        extra = dict(extra or {})
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in extra.items() if k in known}
        opts = cls(**kw)
        if not isinstance(opts.max_batch, int) or opts.max_batch < 1:
            raise InvalidValueError(f"max-batch must be an integer >= 1, got {opts.max_batch!r}")
        if opts.batching not in BATCHING_MODES:
            raise UnknownNameError("batching mode", str(opts.batching), BATCHING_MODES)
        if opts.prompt_overflow not in OVERFLOW_POLICIES:
            raise UnknownNameError("prompt overflow policy", str(opts.prompt_overflow), OVERFLOW_POLICIES)
        return opts


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
    """The ``llm-generate`` workload (see the module docstring).

    Created from a :class:`~inferlca.spec.RunSpec` (``max_new_tokens``, ``prompts``, ``preset``,
    ``weights``, ``seed``, ``threads``, ``queries``; :class:`GenerationOptions` in ``extra``) or
    from keyword arguments. Life cycle (the run protocol of :mod:`inferlca.workloads.base`):
    ``prepare()`` reads and encodes the prompts; ``load()`` builds the model, warms it up and
    starts the batching worker; ``run``/``run_streaming``/``submit`` generate (thread-safe: calls
    from several threads are batched together); ``take_results()`` hands over the finished
    requests and engine steps of the repetition; ``unload()`` stops the worker and frees the model.

    Args:
        spec: a RunSpec; when given, the keyword arguments below are ignored.
        max_new_tokens: tokens to generate per request (>= 1).
        prompts: a prompt file (text lines or JSONL); ``None`` = seeded synthetic prompts.
        preset: architecture preset for seeded random weights (``gpt2``, ``tiny``).
        weights: a Hugging Face causal-LM folder; overrides ``preset``.
        n_samples: how many synthetic prompts to make (a prompt file gives its own count).
        seed: seeds weights, synthetic prompts and sampling.
        threads: torch intra-op threads (None = torch's default).
        options: :class:`GenerationOptions`.
        clock: the clock of the token timestamps (s); ``time.monotonic`` like the power sampler.
    """

    name = "llm-generate"
    streaming = True

    def __init__(self, spec: Any = None, *, max_new_tokens: int = 32, prompts: str | None = None,
                 preset: str | None = None, weights: str | None = None, n_samples: int = 64,
                 seed: int = 0, threads: int | None = None, options: GenerationOptions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if spec is not None:
            max_new_tokens, prompts, preset = spec.max_new_tokens, spec.prompts, spec.preset
            weights, seed, threads = spec.weights, spec.seed, spec.threads
            n_samples = max(int(spec.queries or 1), int(spec.offline_samples or 0),
                            int(spec.queries or 1) * int(spec.samples_per_query or 1)
                            if spec.scenario == "multi-stream" else 1)
            options = GenerationOptions.from_extra(spec.extra)
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
        self.options = options or GenerationOptions()
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
        self.precision = getattr(spec, "precision", "fp32") if spec is not None else "fp32"
        backend = getattr(spec, "backend", "auto") if spec is not None else "auto"
        if self.precision not in TORCH_DTYPES:
            raise InvalidValueError(f"llm-generate runs in {', '.join(TORCH_DTYPES)}, not "
                                    f"{self.precision!r}")
        if backend == "onnxruntime":
            raise InvalidValueError("llm-generate runs on the torch backend only (its decode loop "
                                    "drives the KV cache); use --backend torch or auto")
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
                raise UsageError(f"--weights {self.weights} has no tokenizer files; give prompts as "
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

    # ---- runner hooks (inferlca.loadgen.runner) ----------------------------------------------
    def make_sut(self, scenario: str, *, keep_outputs: bool = False, stop: Any = None,
                 on_done: Callable[[int], None] | None = None, **_: Any) -> Any:
        """The LoadGen SUT for this workload: batching, ``FirstTokenComplete``, token counts.

        Requests generated before the test (the runner's latency probe with
        ``--mlperf-compliant``) are dropped here, so the repetition counts the test's only.
        """
        from inferlca.loadgen.token_sut import GenerationSUT

        self.take_results()

        return GenerationSUT(self, keep_outputs=keep_outputs, stop=stop, on_done=on_done)

    def loadgen_settings(self, plan: Any) -> dict[str, Any]:
        """Extra LoadGen settings: token latencies on (TTFT/TPOT in LoadGen's logs)."""
        return {"use_token_latencies": True}

    def repetition_metrics(self, trace: Any, metrics: dict[str, float]) -> dict[str, float]:
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
