"""Inference backends: the same model run by torch eager or by ONNX Runtime, and ``auto``.

A backend runs numpy feeds (``{"input_ids": int64 array (batch, seq)...}``) and returns the
outputs as a list of numpy arrays, in the order of the model's output names. ``auto`` picks the
faster available backend by a short calibration on this machine (see :mod:`.auto`).

Registry: ``torch`` -> :mod:`.torch_backend`, ``onnxruntime`` -> :mod:`.onnx_backend`.
"""

from __future__ import annotations

from inferlca.workloads.backends.base import Backend, ModelSource

__all__ = ["BACKEND_NAMES", "Backend", "ModelSource", "check_backend_precision",
           "default_threads", "open_backend"]

BACKEND_NAMES = ("torch", "onnxruntime")


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
