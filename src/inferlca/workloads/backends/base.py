"""What every backend shares: the :class:`Backend` protocol and the :class:`ModelSource` a
backend builds the model from (kept apart from the registry in ``__init__`` so that the concrete
backends, which the registry imports, do not import the registry back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


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
