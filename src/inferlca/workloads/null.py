"""The ``null`` workload: no model, so a run measures the harness itself (LoadGen + our SUT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inferlca.workloads.base import BaseWorkload, WorkloadFacts

if TYPE_CHECKING:
    from inferlca.spec import RunSpec


class NullWorkload(BaseWorkload):
    """Answers every sample at once with its index; 1024 samples."""

    name = "null"

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self.spec = spec

    @property
    def sample_count(self) -> int:
        return 1024

    def run(self, indices: Sequence[int]) -> list[Any]:
        return list(indices)

    def facts(self) -> WorkloadFacts:
        return WorkloadFacts(name=self.name, parameters=0, flops_per_sample=0.0)
