"""ONNX Runtime backend; the model is exported once and cached on disk by model and shapes.

The file is ``<cache>/onnx/<name>-<key>.onnx`` where the key hashes the weights' identity, the
per-sample input shapes, the opset and the torch version (see :mod:`inferlca.workloads.cache`). A
half-written export never survives: it is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inferlca.errors import InvalidValueError, named, require
from inferlca.workloads.backends.base import ModelSource
from inferlca.workloads.cache import cache_dir, cache_key

OPSET = 17


def onnx_path(source: ModelSource) -> Path:
    """Where the export of ``source`` lives (it may not exist yet)."""
    torch = require("torch", "torch", "exporting a model to ONNX")
    key = cache_key(model=source.key, shapes=source.shapes(), opset=OPSET,
                    dynamic_batch=source.dynamic_batch, torch=torch.__version__,
                    **source.extra_key)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source.key.split("|")[0])
    return cache_dir("onnx") / f"{safe}-{key}.onnx"


def export_onnx(source: ModelSource) -> tuple[Path, bool]:
    """Export ``source`` unless cached; returns (path, exported_now)."""
    path = onnx_path(source)
    if path.exists():
        return path, False
    torch = require("torch", "torch", "exporting a model to ONNX")
    require("onnx", "onnx", "exporting a model to ONNX")
    model = source.build().eval()
    args = tuple(torch.from_numpy(source.example_feeds[n]) for n in source.input_names)
    dynamic = ({n: {0: "batch"} for n in source.input_names + source.output_names}
               if source.dynamic_batch else None)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(tmp), input_names=source.input_names,
                          output_names=source.output_names, dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)
    os.replace(tmp, path)
    return path, True


class OrtBackend:
    """Runs the cached ONNX export of the source on ONNX Runtime's CPU (or CUDA) provider.

    Args:
        source: the model (exported now if no cached export exists).
        precision: only ``fp32`` (the export is fp32).
        threads: ``intra_op_num_threads``.
    """

    name = "onnxruntime"

    def __init__(self, source: ModelSource, precision: str = "fp32", threads: int = 1) -> None:
        ort = require("onnxruntime", "onnx", "the onnxruntime backend")
        if precision != "fp32":
            raise InvalidValueError(
                f"precision {precision} is not available with the onnxruntime backend (it runs "
                f"the fp32 export); accepted: fp32, or use {named('backend')} torch for "
                "fp16/bf16")
        self.precision = precision
        self.threads = threads
        self.path, self.exported_now = export_onnx(source)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(self.path), opts, providers=providers)
        self.input_names = list(source.input_names)
        self.output_names = list(source.output_names)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.session is None:
            raise RuntimeError("backend closed")
        return list(self.session.run(self.output_names,
                                     {n: feeds[n] for n in self.input_names}))

    def close(self) -> None:
        self.session = None
