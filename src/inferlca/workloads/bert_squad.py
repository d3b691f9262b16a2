"""BERT question answering on SQuAD v1.1, the MLPerf Inference task (``bert-large-squad``).

The model is transformers' ``BertForQuestionAnswering`` (start/end logits over the sequence).
Architectures (MLPerf BERT-large; Devlin et al. 2019, Table "BERT_LARGE"/"BERT_BASE"):

* ``bert-large-squad``: 24 layers, hidden 1024, 16 heads, FFN 4096, vocab 30522, 512 positions,
  GELU; MLPerf runs sequence length 384, doc stride 128, max query length 64.
* ``bert-base-squad``: 12 layers, hidden 768, 12 heads, FFN 3072.
* ``--preset tiny`` (tests): 2 layers, hidden 128, 2 heads, FFN 512, sequence length 128.

Weights: ``--weights DIR`` (Hugging Face layout: ``config.json`` + ``model.safetensors`` or
``pytorch_model.bin``, plus ``vocab.txt``/``tokenizer.json`` when a dataset is read), else the same
architecture with seeded random weights (generated once, saved in the cache as a Hugging Face
folder, then loaded from disk each repetition like real weights), flagged as synthetic.

Samples: ``--dataset FILE`` (SQuAD v1.1 JSON, tokenized and windowed as MLPerf does, by
:mod:`inferlca.workloads.squad`), else seeded synthetic features with realistic question and
context lengths padded to the sequence length (what the model computes is the same).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, named, require
from inferlca.workloads.backends import ModelSource, check_backend_precision, open_backend
from inferlca.workloads.base import (
    SYNTHETIC_WEIGHTS_NOTE,
    BaseWorkload,
    WorkloadFacts,
    warm_imports,
)
from inferlca.workloads.cache import cache_dir, cache_key

if TYPE_CHECKING:
    from inferlca.spec import RunSpec

#: architectures by variant: (layers, hidden, heads, ffn, seq_len)
ARCHITECTURES: dict[str, tuple[int, int, int, int, int]] = {
    "large": (24, 1024, 16, 4096, 384),
    "base": (12, 768, 12, 3072, 384),
    "tiny": (2, 128, 2, 512, 128),
}
VOCAB_SIZE = 30522
MAX_POSITIONS = 512
DOC_STRIDE = 128
MAX_QUERY_LEN = 64
SYNTHETIC_SAMPLES = 128
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT_NAMES = ["start_logits", "end_logits"]
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def check_weights_dir(path: str | Path) -> Path:
    """Check a Hugging Face model folder; say which file is missing.

    Raises:
        InputFileError: the folder is missing, or lacks ``config.json`` or a weights file.
    """
    folder = Path(path)
    if not folder.exists():
        raise InputFileError(folder, "weights folder does not exist; expected a Hugging Face "
                                     "model folder (config.json + model.safetensors)")
    if not folder.is_dir():
        raise InputFileError(folder, "weights must be a Hugging Face model folder "
                                     "(config.json + model.safetensors), not a file")
    if not (folder / "config.json").is_file():
        raise InputFileError(folder, "config.json is missing; a Hugging Face model folder holds "
                                     "config.json + model.safetensors (or pytorch_model.bin)")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise InputFileError(folder, "model.safetensors is missing (nor pytorch_model.bin); a "
                                     "Hugging Face model folder holds config.json + weights")
    return folder


def _quiet_transformers() -> Any:
    transformers = require("transformers", "torch", "the BERT workloads")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


class BertSquad(BaseWorkload):
    """BERT for SQuAD question answering (see the module docstring)."""

    variant = "large"
    name = "bert-large-squad"

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self.spec = spec
        check_backend_precision(spec.backend, spec.precision)
        arch = self.variant
        if spec.preset is not None:
            if spec.preset not in ("tiny", self.variant):
                raise UnknownNameError("preset", spec.preset, ("tiny", self.variant),
                                       hint=f"for workload {self.name}")
            arch = spec.preset
        self.arch = arch
        self.seq_len = ARCHITECTURES[arch][4]
        self.weights_dir = check_weights_dir(spec.weights) if spec.weights else None
        self.synthetic_weights = self.weights_dir is None
        if spec.dataset is not None:
            ds = Path(spec.dataset)
            if not ds.is_file():
                raise InputFileError(ds, "dataset file does not exist; expected a SQuAD v1.1 "
                                         "JSON file (e.g. dev-v1.1.json)")
        if spec.accuracy and (self.synthetic_weights or spec.dataset is None):
            missing = " and ".join(named(x) for x, ok in (("weights", not self.synthetic_weights),
                                                          ("dataset", spec.dataset is not None))
                                   if not ok)
            raise InvalidValueError(f"{named('accuracy')} needs real weights and SQuAD data; "
                                    f"give {missing}")
        if spec.precision == "int8":
            raise InvalidValueError("precision int8 is not supported by the BERT workloads; "
                                    "accepted: fp32, fp16, bf16")
        self._config: Any = None
        self._model_dir: Path | None = None
        self.features: list[Any] = []
        self.squad_set: Any = None
        self.backend_name: str | None = None
        self.backend: Any = None
        self.prepare_s: dict[str, float] = {}

    # -- samples -----------------------------------------------------------------------------
    @property
    def sample_count(self) -> int:
        return len(self.features) if self.features else SYNTHETIC_SAMPLES

    def _load_samples(self) -> None:
        from inferlca.workloads import squad

        if self.spec.dataset is None:
            self.features = list(squad.synthetic_features(
                SYNTHETIC_SAMPLES, seed=self.spec.seed, seq_len=self.seq_len,
                vocab_size=self._config.vocab_size))
            self.add_note("synthetic samples: seeded SQuAD-like question/context lengths")
            return
        tokenizer = squad.bert_tokenizer(str(self.weights_dir) if self.weights_dir else None)
        self.squad_set = squad.load_squad(self.spec.dataset, tokenizer, max_seq_len=self.seq_len,
                                          doc_stride=DOC_STRIDE, max_query_len=MAX_QUERY_LEN)
        self.features = list(self.squad_set.features)
        if not self.features:
            raise InputFileError(self.spec.dataset, "no question could be read from this file")

    def feeds(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Model inputs (int64, shape (len(indices), seq_len)) for these sample indices."""
        ids = np.stack([np.asarray(self.features[i].input_ids, dtype=np.int64) for i in indices])
        mask = np.stack([np.asarray(self.features[i].input_mask, dtype=np.int64) for i in indices])
        seg = np.stack([np.asarray(self.features[i].segment_ids, dtype=np.int64) for i in indices])
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": seg}

    # -- weights -----------------------------------------------------------------------------
    def _make_config(self) -> Any:
        transformers = _quiet_transformers()
        if self.weights_dir is not None:
            config = transformers.BertConfig.from_pretrained(str(self.weights_dir))
            if getattr(config, "model_type", "bert") != "bert":
                raise InputFileError(self.weights_dir / "config.json",
                                     f"model_type is {config.model_type!r}; this workload runs "
                                     "BERT models (model_type 'bert')")
            return config
        layers, hidden, heads, ffn, _ = ARCHITECTURES[self.arch]
        return transformers.BertConfig(
            vocab_size=VOCAB_SIZE, hidden_size=hidden, num_hidden_layers=layers,
            num_attention_heads=heads, intermediate_size=ffn, hidden_act="gelu",
            max_position_embeddings=MAX_POSITIONS, type_vocab_size=2)

    def _synthetic_dir(self) -> Path:
        """Seeded random weights saved once as a Hugging Face folder in the cache."""
        torch = require("torch", "torch", "the BERT workloads")
        transformers = _quiet_transformers()
        key = cache_key(arch=ARCHITECTURES[self.arch], seed=self.spec.seed,
                        transformers=transformers.__version__)
        folder = cache_dir("weights") / f"bert-{self.arch}-squad-seed{self.spec.seed}-{key}"
        if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
            return folder
        t0 = time.perf_counter()
        torch.manual_seed(self.spec.seed)
        model = transformers.BertForQuestionAnswering(self._config).eval()
        tmp = folder.with_name(folder.name + ".tmp")
        model.save_pretrained(str(tmp))
        if folder.exists():  # another process won the race
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(folder)
        self.prepare_s["synthetic_weights_s"] = time.perf_counter() - t0
        return folder

    def build_model(self) -> Any:
        """Load the weights from disk into a ``BertForQuestionAnswering`` (eval mode)."""
        transformers = _quiet_transformers()
        assert self._model_dir is not None
        model, info = transformers.BertForQuestionAnswering.from_pretrained(
            str(self._model_dir), output_loading_info=True)
        missing = [k for k in info.get("missing_keys", []) if "qa_outputs" in k]
        if missing:
            raise InputFileError(self._model_dir,
                                 f"not a question-answering model: {missing[0]} is missing "
                                 "(use a checkpoint fine-tuned for SQuAD)")
        return model.eval()

    def model_source(self) -> ModelSource:
        key = f"{self.name}|{self.arch}|" + (
            f"weights={self.weights_dir.resolve()}" if self.weights_dir else
            f"seed={self.spec.seed}")
        if self.weights_dir is not None:
            st = max((self.weights_dir / n).stat().st_mtime for n in WEIGHT_FILES
                     if (self.weights_dir / n).exists())
            key += f"|mtime={st}"
        return ModelSource(key=key, build=self.build_model, input_names=INPUT_NAMES,
                           output_names=OUTPUT_NAMES, example_feeds=self.feeds([0]))

    # -- protocol ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Samples, the synthetic weights file and the backend choice (once per process)."""
        self._config = self._make_config()
        if self._config.max_position_embeddings < self.seq_len:
            raise InvalidValueError(f"the model has {self._config.max_position_embeddings} "
                                    f"positions; this workload needs {self.seq_len}")
        self._load_samples()
        if self.synthetic_weights:
            self._model_dir = self._synthetic_dir()
            self.add_note(SYNTHETIC_WEIGHTS_NOTE)
        else:
            self._model_dir = self.weights_dir
        source = self.model_source()
        if (self.spec.backend == "auto" and self.spec.precision == "fp32"
                and importlib.util.find_spec("onnxruntime") is not None
                and importlib.util.find_spec("onnx") is not None):
            # the calibration needs the ONNX model: export it first (once, cached on disk) so
            # that the notes time the export and the calibration separately
            from inferlca.workloads.backends.onnx_backend import export_onnx

            t1 = time.perf_counter()
            _, now = export_onnx(source)
            if now:
                self.prepare_s["onnx_export_s"] = time.perf_counter() - t1
        self.backend_name, calibration_s = self.select_backend(source, self.spec)
        if calibration_s is not None:
            self.prepare_s["auto_calibration_s"] = calibration_s
        if self.backend_name == "onnxruntime":
            from inferlca.workloads.backends.onnx_backend import export_onnx

            t1 = time.perf_counter()
            path, now = export_onnx(source)
            if now:
                self.prepare_s["onnx_export_s"] = time.perf_counter() - t1
            self.add_note(f"onnxruntime model: {path}")
        t2 = time.perf_counter()
        warm_imports(self.backend_name or "torch", "BertForQuestionAnswering", self._config)
        self.prepare_s["library_imports_s"] = time.perf_counter() - t2

    def load(self) -> None:
        super().load()
        self.backend = open_backend(self.backend_name or "torch", self.model_source(),
                                    self.spec.precision, self.spec.threads)
        self.backend.run(self.feeds([0]))  # warm-up

    def unload(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.backend = None

    def run(self, indices: Sequence[int]) -> list[Any]:
        start, end = self.backend.run(self.feeds(indices))
        return [(start[k], end[k]) for k in range(len(indices))]

    def check(self, outputs: dict[int, Any]) -> dict[str, float] | None:
        if self.synthetic_weights or self.squad_set is None or not outputs:
            return None
        from inferlca.workloads import squad

        n = len(self.features)
        start = np.full((n, self.seq_len), -1e4, dtype=np.float32)
        end = np.full((n, self.seq_len), -1e4, dtype=np.float32)
        for i, (s, e) in outputs.items():
            start[i], end[i] = s, e
        predictions = squad.postprocess(self.squad_set, start, end)
        scores = squad.squad_scores(self.squad_set, predictions)
        return {"exact_match": float(scores["exact_match"]), "f1": float(scores["f1"]),
                "features_scored": float(len(outputs))}

    def facts(self) -> WorkloadFacts:
        layers, hidden, heads, ffn, seq_len = ARCHITECTURES[self.arch]
        cfg = self._config
        if cfg is not None:
            layers, hidden = cfg.num_hidden_layers, cfg.hidden_size
            heads, ffn = cfg.num_attention_heads, cfg.intermediate_size
        vocab = cfg.vocab_size if cfg is not None else VOCAB_SIZE
        # weights: embeddings (word + 512 positions + 2 types + LayerNorm) + per layer
        # (QKV+O 4h^2+4h, FFN 2hf+f+h, 2 LayerNorms 4h) + QA head (2h+2)
        params = (vocab + MAX_POSITIONS + 2) * hidden + 2 * hidden \
            + layers * (4 * hidden * hidden + 4 * hidden + 2 * hidden * ffn + ffn + hidden
                        + 4 * hidden) + 2 * hidden + 2
        # forward FLOPs per sample: 2 x MACs of the dense layers and of attention (QK^T and AV)
        flops = 2.0 * seq_len * layers * (4 * hidden * hidden + 2 * hidden * ffn) \
            + 2.0 * layers * 2 * seq_len * seq_len * hidden + 2.0 * seq_len * hidden * 2
        return WorkloadFacts(name=self.name, parameters=params, layers=layers, hidden_size=hidden,
                             heads=heads, ffn_size=ffn, vocab_size=vocab, seq_len=seq_len,
                             flops_per_sample=flops, precision=self.spec.precision,
                             extra={"backend": self.backend_name, "arch": self.arch})


class BertLargeSquad(BertSquad):
    """``bert-large-squad``: the MLPerf BERT-large task."""

    variant = "large"
    name = "bert-large-squad"


class BertBaseSquad(BertSquad):
    """``bert-base-squad``: BERT-base on the same task."""

    variant = "base"
    name = "bert-base-squad"
