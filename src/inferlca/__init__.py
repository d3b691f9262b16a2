"""inferlca: what AI inference costs the planet, measured on your hardware or estimated.

The public API, curated. Names are imported lazily so that ``import inferlca`` stays light (no
torch, no LoadGen, no matplotlib until they are used)::

    import inferlca

    dev = inferlca.get_catalog().get("AGX Orin")
    ctx = inferlca.ImpactContext.resolve(dev, region="FR")
    impact = inferlca.compute_impact(energy_j=3600.0, duration_s=60.0, ctx=ctx, queries=16)
    print(impact.per_query_gco2e)            # value [low - high] gCO2e

    outcome = inferlca.run_benchmark(inferlca.RunSpec(workload="null", queries=8, repetitions=1))

Layers, from the bottom: errors/units/uncertainty/stats -> hardware -> lca -> traces ->
meters -> store -> spec -> estimate -> workloads -> loadgen -> report -> campaign -> cli
(docs/CONTRACTS.md, checked by tests/test_import_layers.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from inferlca.errors import InferlcaError, UsageError

if TYPE_CHECKING:  # a lazily loaded foundation name, for type checkers (names of upper layers,
    # RunSpec included, are typed through their own modules: the root sits in the foundation)
    from inferlca.uncertainty import UValue as UValue

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # the run specification (pydantic: loaded on first use)
    "RunSpec": "inferlca.spec",
    "UValue": "inferlca.uncertainty",
    # hardware and life-cycle core
    "get_catalog": "inferlca.hardware.catalog",
    "Device": "inferlca.hardware.catalog",
    "detect_device": "inferlca.hardware.detect",
    "resolve_device": "inferlca.hardware.resolve",
    "embodied_footprint": "inferlca.lca.embodied",
    "grid_intensity": "inferlca.lca.grid",
    "ImpactContext": "inferlca.lca.impact",
    "Impact": "inferlca.lca.impact",
    "compute_impact": "inferlca.lca.impact",
    # measuring
    "open_meter": "inferlca.meters.registry",
    "list_meters": "inferlca.meters.registry",
    "Sampler": "inferlca.meters.sampler",
    "open_sampler": "inferlca.meters.sampler_process",
    "PowerTrace": "inferlca.traces.trace",
    "energy_j": "inferlca.traces.energy",
    "phase_energies_j": "inferlca.traces.energy",
    "import_trace": "inferlca.meters.replay",
    "measure_command": "inferlca.meters.measure",
    "track": "inferlca.tracker",
    # estimating
    "estimate": "inferlca.estimate.api",
    "save_estimates": "inferlca.estimate.api",
    # running and storing
    "run_benchmark": "inferlca.loadgen.runner",
    "Store": "inferlca.store.sqlite",
    "summarize": "inferlca.stats",
    # reports
    "build_report": "inferlca.report.html",
}

__all__ = ["InferlcaError", "UsageError", "__version__"]
__all__ += list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inferlca' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
