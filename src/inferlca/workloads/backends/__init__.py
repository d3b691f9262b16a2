"""Inference backends: the same model run by torch eager or by ONNX Runtime, and ``auto``.

A backend runs numpy feeds (``{"input_ids": int64 array (batch, seq)...}``) and returns the
outputs as a list of numpy arrays, in the order of the model's output names. ``auto`` picks the
faster available backend by a short calibration on this machine (see :mod:`.auto`).

Registry: ``torch`` -> :mod:`.torch_backend`, ``onnxruntime`` -> :mod:`.onnx_backend`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

BACKEND_NAMES = ("torch", "onnxruntime")


class Backend(Protocol):
    """A loaded model ready to run.

    Attributes:
        name: ``torch`` or ``onnxruntime``.
        precision: ``fp32``, ``fp16`` or ``bf16``.
        threads: intra-op threads used.
    """

    name: str
    precision: str
    threads: int

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


@dataclass
class ModelSource:
    """How a backend gets the model: everything needed to build, export and key it.

    Attributes:
        key: identity of the weights (model name + weights path or seed + architecture).
        build: returns the torch ``nn.Module`` in eval mode with its weights loaded (called inside
            the measured load phase, once per repetition).
        input_names, output_names: ONNX names, in the module's positional order.
        example_feeds: one batch of real inputs (shapes key the ONNX export; also calibration).
        dynamic_batch: export with a dynamic first axis.
    """

    key: str
    build: Callable[[], Any]
    input_names: list[str]
    output_names: list[str]
    example_feeds: dict[str, np.ndarray]
    dynamic_batch: bool = True
    extra_key: dict[str, Any] = field(default_factory=dict)

    def shapes(self) -> dict[str, list[int]]:
        return {k: list(v.shape[1:]) for k, v in self.example_feeds.items()}


def default_threads(threads: int | None) -> int:
    """Threads to use: the given count, else the CPUs this process may run on."""
    import os

    if threads is not None:
        return int(threads)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_backend_precision(backend: str, precision: str) -> None:
    """Refuse early, before any work, a precision the chosen backend cannot run."""
    from inferlca.errors import InvalidValueError, named

    if precision == "int8":
        raise InvalidValueError("precision int8 is not supported by the torch and onnxruntime "
                                "backends here; accepted: fp32, fp16, bf16 (torch), fp32 (onnxruntime)")
    if backend == "onnxruntime" and precision != "fp32":
        raise InvalidValueError(
            f"precision {precision} is not available with the onnxruntime backend (it runs "
            f"the fp32 export); accepted: fp32, or use {named('backend')} torch for fp16/bf16")


def open_backend(name: str, source: ModelSource, precision: str = "fp32",
                 threads: int | None = None) -> Backend:
    """Open a concrete backend (``torch`` or ``onnxruntime``) on ``source``."""
    from inferlca.errors import UnknownNameError

    if name == "torch":
        from inferlca.workloads.backends.torch_backend import TorchBackend

        return TorchBackend(source, precision, default_threads(threads))
    if name == "onnxruntime":
        from inferlca.workloads.backends.onnx_backend import OrtBackend

        return OrtBackend(source, precision, default_threads(threads))
    raise UnknownNameError("backend", name, BACKEND_NAMES + ("auto",))
