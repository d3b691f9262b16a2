"""The ``llm-generate`` workload: autoregressive generation with a causal language model.

One module per job: :mod:`.models` (presets and model loading), :mod:`.prompts`,
:mod:`.request` (request/result/step types), :mod:`.engine` (the decode loop), :mod:`.scheduler`
(batching), :mod:`.metrics` and :mod:`.workload` (the :class:`LLMGenerate` class). The options
are :class:`inferlca.spec.LLMOptions` (``RunSpec.llm``).

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
separated on a power trace by integrating over those windows
(:func:`inferlca.traces.energy.phase_energies_from_steps`).

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

from inferlca.spec import (
    BATCHING_MODES,
    OVERFLOW_POLICIES,
    SAMPLING_MODES,
    LLMOptions,
    parse_prompt_len,
)
from inferlca.workloads.llm.engine import DecodeEngine, DecodeSettings, RunningBatch
from inferlca.workloads.llm.metrics import generation_metrics, request_metrics
from inferlca.workloads.llm.models import (
    DEFAULT_PRESET,
    PRESET_ALIASES,
    PRESETS,
    SYNTHETIC_NOTE,
    TOKENIZER_FILES,
    TORCH_DTYPES,
    GenerationPreset,
    build_model,
    check_causal_lm_folder,
    context_length,
    eos_ids,
    get_preset,
    load_model,
    load_tokenizer,
    preset_config,
    random_model,
    synthetic_weights_dir,
)
from inferlca.workloads.llm.prompts import (
    Prompt,
    byte_encode,
    encode_prompts,
    fit_to_context,
    read_prompt_file,
    synthetic_prompts,
)
from inferlca.workloads.llm.request import GenRequest, GenResult, Step
from inferlca.workloads.llm.scheduler import BatchScheduler
from inferlca.workloads.llm.workload import LLMGenerate

__all__ = [
    "BATCHING_MODES", "DEFAULT_PRESET", "OVERFLOW_POLICIES", "PRESETS", "PRESET_ALIASES",
    "SAMPLING_MODES", "SYNTHETIC_NOTE", "TOKENIZER_FILES", "TORCH_DTYPES", "BatchScheduler",
    "DecodeEngine", "DecodeSettings", "GenRequest", "GenResult", "GenerationPreset", "LLMGenerate",
    "LLMOptions", "Prompt", "RunningBatch", "Step", "build_model", "byte_encode",
    "check_causal_lm_folder", "context_length", "encode_prompts", "eos_ids", "fit_to_context",
    "generation_metrics", "get_preset", "load_model", "load_tokenizer", "parse_prompt_len",
    "preset_config", "random_model", "read_prompt_file", "request_metrics", "synthetic_prompts",
    "synthetic_weights_dir",
]
