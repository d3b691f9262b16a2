"""Presets and model loading for ``llm-generate``: preset architectures with seeded random
weights, the check that a folder holds a causal language model, and loading it (weights,
tokenizer, precision, context length, end-of-sequence ids).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferlca.errors import (
    InputFileError,
    InvalidValueError,
    UnknownNameError,
    UsageError,
    named,
    require,
)

SYNTHETIC_NOTE = (
    "synthetic weights: seeded random parameters with the preset's architecture; latency, tokens "
    "and energy are representative of the architecture, the generated text is meaningless"
)



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


def get_preset(name: str | None) -> GenerationPreset:
    """Return the preset called ``name`` (``None`` = the GPT-2-small default)."""
    key = DEFAULT_PRESET if name is None else PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        raise UnknownNameError("llm-generate preset", name or "", list(PRESETS) + list(PRESET_ALIASES),
                               hint=f"(accepted: {', '.join(PRESETS)})")
    return PRESETS[key]


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
        raise InvalidValueError(f"{named('weights')} {folder}: not a folder; give a Hugging Face model folder "
                                "(config.json + model.safetensors or pytorch_model.bin)")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InvalidValueError(f"{named('weights')} {folder}: config.json is missing; a Hugging Face causal-LM "
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
            f"{named('weights')} {folder}: {what} is not a causal language model; llm-generate needs a "
            "decoder that generates text (architectures such as GPT2LMHeadModel, LlamaForCausalLM)")
    weight_files = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")]
    if not weight_files:
        raise InvalidValueError(f"{named('weights')} {folder}: no model.safetensors or pytorch_model.bin found")
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
        raise UsageError(f"{named('weights')} {folder}: its tokenizer files cannot be loaded ({exc})") from None


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
        raise UsageError(f"{named('weights')} {folder}: cannot load a causal LM ({exc})") from None
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

