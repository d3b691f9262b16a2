"""Torch eager backend: fp32 by default, fp16 / bf16 where the device computes them."""

from __future__ import annotations

from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, require
from inferlca.workloads.backends.base import ModelSource

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _check_precision_supported(torch: Any, dtype: Any, precision: str) -> None:
    """Fail early, in one line, when this CPU build cannot run a matmul at ``dtype``."""
    try:
        a = torch.ones((4, 4), dtype=dtype)
        (a @ a).sum().item()
    except (RuntimeError, TypeError) as exc:
        raise InvalidValueError(
            f"precision {precision} is not supported by torch on this device ({exc}); "
            "accepted here: fp32") from None


class TorchBackend:
    """Runs the source's ``nn.Module`` under ``torch.inference_mode``, on CUDA when available.

    Args:
        source: the model to build (its weights are loaded now, from disk or memory).
        precision: ``fp32``, ``fp16`` or ``bf16``.
        threads: intra-op threads (``torch.set_num_threads``; process-wide).
    """

    name = "torch"

    def __init__(self, source: ModelSource, precision: str = "fp32", threads: int = 1) -> None:
        torch = require("torch", "torch", "the torch backend")
        if precision not in _DTYPES:
            raise InvalidValueError(
                f"precision {precision} is not supported by the torch backend; "
                f"accepted: {', '.join(_DTYPES)}")
        self._torch = torch
        self.precision = precision
        self.threads = threads
        torch.set_num_threads(threads)
        self._dtype = getattr(torch, _DTYPES[precision])
        if precision != "fp32":
            _check_precision_supported(torch, self._dtype, precision)
        model = source.build()
        if precision != "fp32":
            model = model.to(self._dtype)
        # the accelerator when torch sees one (a GPU run must compute where the meter measures)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.eval().to(self.device)
        self.input_names = list(source.input_names)
        self.output_names = list(source.output_names)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(feeds[n])).to(self.device)
                for n in self.input_names]
        with torch.inference_mode():
            out = self.model(*args)
        if isinstance(out, dict) or hasattr(out, "keys"):
            tensors = [out[n] for n in self.output_names]
        elif isinstance(out, (tuple, list)):
            tensors = list(out)
        else:
            tensors = [out]
        return [t.float().cpu().numpy() for t in tensors]  # .cpu() waits for the device

    def close(self) -> None:
        self.model = None
