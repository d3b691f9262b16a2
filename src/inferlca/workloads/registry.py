"""Workload names -> lazy ``"module:Class"`` references (heavy imports happen on use only).

Add a workload by adding one line to :data:`WORKLOADS`; the class takes the
:class:`~inferlca.spec.RunSpec` as its only argument and follows :class:`~.base.Workload`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from inferlca.errors import UnknownNameError

if TYPE_CHECKING:
    from inferlca.spec import RunSpec
    from inferlca.workloads.base import Workload

WORKLOADS: dict[str, str] = {
    "bert-large-squad": "inferlca.workloads.bert_squad:BertLargeSquad",
    "bert-base-squad": "inferlca.workloads.bert_squad:BertBaseSquad",
    "minilm-embed": "inferlca.workloads.embeddings:MiniLMEmbed",
    "llm-generate": "inferlca.workloads.llm.workload:LLMGenerate",
    "null": "inferlca.workloads.null:NullWorkload",
    "openai-endpoint": "inferlca.workloads.serving.workload:OpenAIEndpoint",
}


def list_workloads() -> list[str]:
    """Registered workload names, sorted."""
    return sorted(WORKLOADS)


def workload_class(name: str) -> type:
    """The class registered under ``name`` (imports its module now)."""
    try:
        ref = WORKLOADS[name]
    except KeyError:
        raise UnknownNameError("workload", name, list_workloads(),
                               hint=f"(accepted: {', '.join(list_workloads())})") from None
    module_name, _, class_name = ref.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_workload(spec: RunSpec) -> Workload:
    """Create the workload a spec names; bad options raise :class:`~inferlca.errors.UsageError`."""
    return workload_class(spec.workload)(spec)  # type: ignore[no-any-return]
