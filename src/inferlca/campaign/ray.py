"""The Ray executor: each cell runs on a node that has its device, one cell per device at a time.

Placement uses Ray resources, never a home-made scheduler:

* a node started with ``inferlca campaign worker`` registers the custom resource
  ``device:<catalog id>`` (quantity 1 per device), and
* Ray itself reports ``accelerator_type:<name>`` for NVIDIA GPUs (e.g. ``accelerator_type:H100``),
  which is mapped to a catalog device by name.

Every cell's task asks for one unit of its device's resource, so two cells never share a device
and a device runs its cells one after the other. A cell that measures GPUs also asks Ray for them
(:func:`gpus_requested`: as many as its ``gpus`` names, else one for a GPU meter), so Ray gives the
task its own GPUs and sets ``CUDA_VISIBLE_DEVICES``; the cell then measures the GPUs Ray assigned
(``ray.get_gpu_ids()``), which its stored spec and context record. The task runs the cell into a private temporary
store on its node, exports the run (traces and latencies included) and Ray brings it back; the
driver imports each result into its own store as soon as it arrives. A cell whose device no node
offers is reported as unschedulable instead of waiting forever, also when its node leaves the
cluster while the cell is still queued.

Ray is the ``ray`` extra, imported lazily (:func:`inferlca.errors.require`).
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

from inferlca.campaign.local import (
    FAILED,
    INTERRUPTED,
    OTHER_DEVICE,
    RAN,
    SKIPPED_DONE,
    UNSCHEDULABLE,
    CampaignResult,
    CellResult,
    CellRunner,
    failure_reason,
    record_failure,
)
from inferlca.campaign.spec import Campaign, Cell, load_label
from inferlca.campaign.state import DONE, CampaignLock, cell_states, run_id_of, runs_by_cell
from inferlca.campaign.transfer import export_run, import_run
from inferlca.errors import RunInterrupted, UsageError

DEVICE_RESOURCE_PREFIX = "device:"
ACCELERATOR_PREFIX = "accelerator_type:"


#: meters reading GPUs Ray schedules as ``GPU`` (aliases resolved by the meter registry)
GPU_METERS = ("nvml", "amdsmi", "amdgpu", "intel-gpu", "pyzes")


def gpus_requested(spec: Any) -> int:
    """How many GPUs a cell's task asks Ray for (``num_gpus``).

    The number of GPUs the cell's ``gpus`` names; else 1 when its meter (or a member of a
    combination such as ``nvml+rapl``) reads GPUs; else 0 (``auto`` included: what it finds
    depends on the node, so it asks for none).
    """
    from inferlca.meters.registry import ALIASES

    gpus = getattr(spec, "gpus", None)
    if gpus:
        from inferlca.meters.nvml import parse_gpus

        picked = parse_gpus(gpus)
        if picked:
            return len(picked)
    names = {ALIASES.get(m.strip(), m.strip()) for m in str(getattr(spec, "meter", "") or "").split("+")}
    return 1 if names & set(GPU_METERS) else 0


def task_options(cell: Cell, resource: str) -> dict[str, Any]:
    """The Ray options a cell's task is submitted with: its device resource, its GPUs, its name."""
    return {"resources": {resource: 1}, "num_gpus": gpus_requested(cell.spec),
            "name": f"inferlca-cell-{cell.cell_id}"}


class RayUnreachableError(UsageError):
    """The Ray address given cannot be reached."""


def device_resource(device_id: str) -> str:
    """The custom Ray resource naming a catalog device (registered by ``campaign worker``)."""
    return f"{DEVICE_RESOURCE_PREFIX}{device_id}"


def device_resources(resource_names: list[str] | set[str],
                     resolve_accelerator: Callable[[str], str | None] | None = None
                     ) -> dict[str, str]:
    """Which Ray resource to ask for each catalog device the cluster offers.

    Args:
        resource_names: the cluster's resource names (``ray.cluster_resources()`` keys).
        resolve_accelerator: Ray accelerator type (``"H100"``) -> catalog id or None.

    Returns:
        ``{catalog device id: resource name}``; a ``device:`` resource wins over an accelerator
        type for the same device.
    """
    out: dict[str, str] = {}
    for name in sorted(resource_names):
        if name.startswith(ACCELERATOR_PREFIX) and resolve_accelerator is not None:
            dev = resolve_accelerator(name[len(ACCELERATOR_PREFIX):])
            if dev is not None:
                out.setdefault(dev, name)
    for name in sorted(resource_names):
        if name.startswith(DEVICE_RESOURCE_PREFIX):
            out[name[len(DEVICE_RESOURCE_PREFIX):]] = name
    return out


def catalog_accelerator_resolver() -> Callable[[str], str | None]:
    """Map a Ray accelerator type to a catalog device id through the catalog's names/aliases."""
    from inferlca.hardware.catalog import get_catalog

    catalog = get_catalog()

    def resolve(accel: str) -> str | None:
        for candidate in (accel, accel.replace("_", "-"), accel.replace("-", " ")):
            dev = catalog.find(candidate)
            if dev is not None:
                return str(dev.id)
        return None

    return resolve


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast with a clear message when a ``host:port`` Ray address does not answer.

    ``ray.init`` would otherwise retry for minutes. ``auto`` and ``local`` are left to Ray.
    """
    if address in ("auto", "local") or not address:
        return
    target = address.split("://", 1)[-1]
    host, sep, port_text = target.rpartition(":")
    if not sep or not host:
        raise RayUnreachableError(f"Ray address {address!r} must be HOST:PORT (e.g. 10.0.0.5:6379), "
                                  f"ray://HOST:PORT or auto")
    try:
        port = int(port_text)
    except ValueError:
        raise RayUnreachableError(f"Ray address {address!r}: port {port_text!r} is not a number") from None
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise RayUnreachableError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start its head "
            f"with `inferlca campaign worker --head` or `ray start --head`, and check the address"
        ) from None


def connect(address: str | None) -> Any:
    """Import Ray and connect to ``address`` (None: use the connection this process already has)."""
    from inferlca.errors import require

    ray = require("ray", "ray", "the Ray campaign executor")
    if address is None:
        if not ray.is_initialized():
            raise RayUnreachableError("no Ray address given and this process is not connected to Ray")
        return ray
    check_reachable(address)
    if ray.is_initialized():
        return ray
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RayUnreachableError(
            f"cannot connect to the Ray cluster at {address!r}: {why} (if the cluster uses token "
            f"authentication, give this machine the same RAY_AUTH_MODE and token as its nodes)"
        ) from None
    return ray


# ---------------------------------------------------------------------------------------------
# What runs on the worker node


def execute_cell(spec_dict: dict[str, Any], runner: CellRunner | None, cooldown_s: float = 0.0,
                 context: dict[str, Any] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Run one cell into a private temporary store and export what was stored.

    Runs on the Ray worker. Never raises for a failure of the cell: the payload says
    ``ok: False`` with the reason, and carries whatever run the runner managed to store.
    The cool-down is spent after the run while the task still holds its device.

    Returns:
        ``{"ok", "error", "run": export_run(...) or None, "context", "started", "finished"}``
        (times are Unix seconds on the worker).
    """
    from inferlca.spec import RunSpec
    from inferlca.store.sqlite import Store

    if runner is None:
        from inferlca.campaign.local import default_runner

        runner = default_runner()
    started = time.time()
    payload: dict[str, Any] = {"ok": False, "error": None, "run": None,
                               "context": dict(context or {}), "started": started}
    payload["context"].setdefault("host", socket.gethostname())
    with tempfile.TemporaryDirectory(prefix="inferlca-cell-") as tmp, \
            Store.open(f"{tmp}/cell.db") as store:
        run_id = None
        try:
            outcome = runner(RunSpec.from_dict(spec_dict), store, None)
            run_id = getattr(outcome, "run_id", None)
            payload["ok"] = True
        except (Exception, RunInterrupted, KeyboardInterrupt) as exc:  # noqa: BLE001
            payload["error"] = failure_reason(exc)
            payload["traceback"] = traceback.format_exc(limit=8)
        if run_id is None:
            runs = store.list_runs()
            run_id = run_id_of(runs[-1]) if runs else None
        if run_id is not None:
            payload["run"] = export_run(store, run_id)
    payload["finished"] = time.time()
    if cooldown_s > 0:
        sleep(cooldown_s)
    return payload


def _task_body(spec_dict: dict[str, Any], runner: CellRunner | None, cooldown_s: float,
               tracker: Any, cell_id: str) -> dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    context = {"node_id": ctx.get_node_id(), "resources": ctx.get_assigned_resources(),
               "host": socket.gethostname()}
    assigned = [str(g) for g in ray.get_gpu_ids()]
    if assigned:  # measure the GPUs Ray gave this task (it set CUDA_VISIBLE_DEVICES to them)
        context["gpus_assigned"] = assigned
        if spec_dict.get("gpus") is not None and all(g.isdigit() for g in assigned):
            spec_dict = {**spec_dict, "gpus": ",".join(assigned)}
    if tracker is not None:
        ray.get(tracker.started.remote(cell_id))
    try:
        return execute_cell(spec_dict, runner, cooldown_s, context)
    finally:
        if tracker is not None:
            tracker.finished.remote(cell_id)


class _Tracker:
    """A tiny actor the tasks tell when they start and end, so the driver knows what runs."""

    def __init__(self) -> None:
        self._running: set[str] = set()
        self._ever: set[str] = set()

    def started(self, cell_id: str) -> None:
        self._running.add(cell_id)
        self._ever.add(cell_id)

    def finished(self, cell_id: str) -> None:
        self._running.discard(cell_id)

    def state(self) -> tuple[list[str], list[str]]:
        return sorted(self._running), sorted(self._ever)


# ---------------------------------------------------------------------------------------------
# The driver


def run_ray(campaign: Campaign, store: Any, address: str | None, *, store_path: str | None = None,
            runner: CellRunner | None = None,
            resolve_accelerator: Callable[[str], str | None] | None = None,
            progress: Any = None, poll_s: float = 1.0) -> CampaignResult:
    """Run a campaign on a Ray cluster, results streamed into ``store``.

    Args:
        campaign: the expanded campaign.
        store: the driver's open results store.
        address: Ray address (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``), or None to use the
            Ray connection this process already has (tests).
        store_path: the store's file, for the executor lock.
        runner: the cell runner shipped to the workers (default: the real LoadGen runner).
        resolve_accelerator: Ray accelerator type -> catalog id (default: the catalog).
        progress: a :class:`~inferlca.campaign.progress.CampaignProgress` or None.
        poll_s: how often the driver checks that queued cells still have a node.
    """
    from inferlca.errors import require

    owned = address is not None and not require("ray", "ray", "the Ray campaign executor"
                                                 ).is_initialized()
    ray = connect(address)
    try:
        if store_path is not None:
            with CampaignLock(store_path, campaign.name) as lock:
                return _drive(ray, campaign, store, runner, resolve_accelerator, progress, poll_s,
                              lock)
        return _drive(ray, campaign, store, runner, resolve_accelerator, progress, poll_s, None)
    finally:
        if owned:  # this call connected: disconnect (the cluster itself keeps running)
            ray.shutdown()


def _cluster_devices(ray: Any, resolve_accelerator: Callable[[str], str | None] | None) -> dict[str, str]:
    names = {k for k, v in ray.cluster_resources().items() if v > 0}
    if resolve_accelerator is None and any(n.startswith(ACCELERATOR_PREFIX) for n in names):
        resolve_accelerator = catalog_accelerator_resolver()
    return device_resources(names, resolve_accelerator)


def _drive(ray: Any, campaign: Campaign, store: Any, runner: CellRunner | None,
           resolve_accelerator: Callable[[str], str | None] | None, progress: Any, poll_s: float,
           lock: CampaignLock | None) -> CampaignResult:
    from inferlca.campaign.progress import NullProgress

    progress = progress or NullProgress()
    result = CampaignResult(campaign.name)
    offered = _cluster_devices(ray, resolve_accelerator)
    gpus_offered = float(ray.cluster_resources().get("GPU", 0))
    states = {s.cell.cell_id: s for s in cell_states(campaign, store)}

    todo: list[tuple[Cell, str]] = []
    for cell in campaign.cells:
        st = states[cell.cell_id]
        if st.state == DONE:
            result.results.append(CellResult(cell.cell_id, cell.describe(), SKIPPED_DONE,
                                             run_id=st.run_id, device=cell.device))
        elif cell.device is None:
            result.results.append(CellResult(
                cell.cell_id, cell.describe(), UNSCHEDULABLE, device=None,
                error="the cell names no device (device: local); a Ray campaign needs a catalog "
                      "device per cell"))
        elif cell.device not in offered:
            result.results.append(CellResult(
                cell.cell_id, cell.describe(), UNSCHEDULABLE, device=cell.device,
                error=f"no node of the cluster offers {cell.device} (resource "
                      f"{device_resource(cell.device)!r}; start one with `inferlca campaign "
                      f"worker --device {cell.device} --address ...`)"))
        elif gpus_requested(cell.spec) > gpus_offered:
            result.results.append(CellResult(
                cell.cell_id, cell.describe(), UNSCHEDULABLE, device=cell.device,
                error=f"the cell measures {gpus_requested(cell.spec)} GPU(s) but the cluster "
                      f"offers {gpus_offered:g} (Ray resource 'GPU'); start the node's worker "
                      f"where Ray sees its GPUs, or use another meter"))
        else:
            todo.append((cell, offered[cell.device]))

    progress.start(total_cells=len(todo))
    if not todo:
        progress.stop()
        return result.sort_as(campaign)

    tracker = ray.remote(num_cpus=0)(_Tracker).remote()
    task = ray.remote(num_cpus=0, max_retries=0)(_task_body)
    pending: dict[Any, tuple[Cell, str, float]] = {}
    known_ids = {cid: {run_id_of(r) for r in recs}
                 for cid, recs in runs_by_cell(store, [c.cell_id for c, _ in todo]).items()}
    for cell, resource in todo:
        ref = task.options(**task_options(cell, resource)).remote(
            cell.spec.to_dict(), runner, campaign.cooldown_s, tracker, cell.cell_id)
        pending[ref] = (cell, resource, time.monotonic())

    labels = {c.cell_id: f"{c.device} {load_label(c.spec)}" for c, _ in todo}
    stopping = False
    try:
        while pending:
            try:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
                for ref in ready:
                    cell, resource, t0 = pending.pop(ref)
                    _collect(ray, ref, cell, resource, store, result, progress,
                             known_ids.get(cell.cell_id, set()), t0)
                running, ever = ray.get(tracker.state.remote())
                if lock is not None:
                    lock.set_running(running)
                if hasattr(progress, "running"):
                    progress.running([labels.get(cid, cid) for cid in running])
                if not ready:
                    _drop_orphans(ray, pending, resolve_accelerator, ever, result, progress)
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                result.interrupted = True
                # Cells not started yet are cancelled; running ones finish and are kept.
                _, ever = ray.get(tracker.state.remote())
                for ref, (cell, _res, t0) in list(pending.items()):
                    if cell.cell_id not in ever:
                        ray.cancel(ref)
                        pending.pop(ref)
                        result.results.append(CellResult(cell.cell_id, cell.describe(),
                                                         INTERRUPTED, device=cell.device,
                                                         error="cancelled before it started"))
    except KeyboardInterrupt:
        for ref, (cell, _res, _t0) in pending.items():
            ray.cancel(ref, force=True)
            result.results.append(CellResult(cell.cell_id, cell.describe(), INTERRUPTED,
                                              device=cell.device, error="abandoned on Ctrl-C"))
        pending.clear()
    finally:
        progress.stop()
        if lock is not None:
            lock.set_running([])
        with contextlib.suppress(Exception):  # the cluster may already be gone
            ray.kill(tracker)
    return result.sort_as(campaign)


def _collect(ray: Any, ref: Any, cell: Cell, resource: str, store: Any, result: CampaignResult,
             progress: Any, known: set[str], t0: float) -> None:
    """Import one finished cell into the driver's store (or record its failure)."""
    try:
        payload = ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - worker died, node left, task cancelled...
        reason = failure_reason(exc)
        run_id = record_failure(store, cell, reason, known,
                                environment={"ray": {"resource": resource}})
        result.results.append(CellResult(cell.cell_id, cell.describe(), FAILED, run_id=run_id,
                                         error=reason, device=cell.device,
                                         duration_s=time.monotonic() - t0))
        progress.cell_finished(cell, FAILED, reason)
        return
    ray_env = {"ray": {**payload.get("context", {}), "resource": resource,
                       "started": payload.get("started"), "finished": payload.get("finished")}}
    duration_s = (payload.get("finished") or 0) - (payload.get("started") or 0)
    reason = payload.get("error") or "unknown failure"
    run = payload.get("run")
    if run is None:  # the cell failed before its runner stored anything
        run_id = record_failure(store, cell, reason, known,
                                environment={**ray_env, "traceback": payload.get("traceback")})
        status = "failed"
    else:
        if not payload.get("ok") and run.get("status") in ("running", "complete"):
            run = {**run, "status": "failed", "error": run.get("error") or reason}
        run_id = import_run(store, run, environment=ray_env)
        status = run.get("status")
    if status == "complete":
        result.results.append(CellResult(cell.cell_id, cell.describe(), RAN, run_id=run_id,
                                         device=cell.device, duration_s=duration_s))
        progress.cell_finished(cell, RAN)
    else:
        result.results.append(CellResult(cell.cell_id, cell.describe(), FAILED, run_id=run_id,
                                         error=reason, device=cell.device, duration_s=duration_s))
        progress.cell_finished(cell, FAILED, reason)


def _drop_orphans(ray: Any, pending: dict[Any, tuple[Cell, str, float]],
                  resolve_accelerator: Callable[[str], str | None] | None, started: list[str],
                  result: CampaignResult, progress: Any) -> None:
    """Cancel queued cells whose device resource has left the cluster: unschedulable now."""
    offered = set(_cluster_devices(ray, resolve_accelerator).values())
    for ref, (cell, resource, _t0) in list(pending.items()):
        if resource in offered or cell.cell_id in started:
            continue
        ray.cancel(ref)
        pending.pop(ref)
        result.results.append(CellResult(
            cell.cell_id, cell.describe(), UNSCHEDULABLE, device=cell.device,
            error=f"the node offering {cell.device} left the cluster before the cell started"))
        progress.cell_finished(cell, UNSCHEDULABLE)


__all__ = [
    "OTHER_DEVICE",
    "RayUnreachableError",
    "check_reachable",
    "connect",
    "device_resource",
    "device_resources",
    "execute_cell",
    "gpus_requested",
    "run_ray",
    "task_options",
]
