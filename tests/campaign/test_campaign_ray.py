"""The Ray executor against a real local Ray cluster started by this module (one per module) with
two custom device resources, as two nodes registered by ``inferlca campaign worker`` would offer.

Cells run the real null workload through the real LoadGen runner on the Ray workers; results come
back into the driver's SQLite store. Checked: placement (each cell got its device's resource),
one cell per device at a time, results streamed into the store with traces and latencies, the
unschedulable report, failures recorded, resume, and an unreachable address.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from inferlca.campaign.local import FAILED, RAN, SKIPPED_DONE, UNSCHEDULABLE
from inferlca.campaign.ray import (
    RayUnreachableError,
    check_reachable,
    device_resources,
    execute_cell,
)
from inferlca.campaign.spec import parse_campaign
from inferlca.campaign.state import cell_states, lock_path_for, read_lock
from inferlca.store.sqlite import Store

pytestmark = pytest.mark.ray

def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SRC = Path(__file__).resolve().parents[2] / "src"
ORIN, A5000, H100 = "jetson-agx-orin-64gb", "rtx-a5000", "h100-sxm5-80gb"


# ---- without Ray: resource mapping, the worker-side cell function, unreachable addresses ----------


def test_device_resources_from_custom_and_accelerator_resources() -> None:
    from inferlca.campaign.ray import catalog_accelerator_resolver

    names = {"CPU", "memory", f"device:{ORIN}", "accelerator_type:H100", "accelerator_type:A40",
             "accelerator_type:Z9000", f"device:{A5000}", "accelerator_type:RTX A5000"}
    got = device_resources(names, catalog_accelerator_resolver())
    # Ray's accelerator types map to catalog devices through their aliases; an unknown one is
    # ignored; a device: resource wins over an accelerator type naming the same device
    assert got == {ORIN: f"device:{ORIN}", A5000: f"device:{A5000}",
                   H100: "accelerator_type:H100", "a40": "accelerator_type:A40"}


def test_execute_cell_exports_the_run_and_reports_failures(tmp_path: Path) -> None:
    camp = parse_campaign('name: e\ndefaults: {repetitions: 2}\ngrid: {workloads: ["null"], '
                          'queries: [3], meter: [auto, nvml]}', source="e.yaml")
    ok, bad = (execute_cell(c.spec.to_dict(), None, context={"node_id": "n1"}) for c in camp.cells)
    assert ok["ok"] and ok["error"] is None and ok["context"]["node_id"] == "n1"
    run = ok["run"]
    assert run["status"] == "complete" and len(run["repetitions"]) == 2
    assert run["spec"]["extra"]["campaign_cell"] == camp.cells[0].cell_id
    assert len(run["repetitions"][0]["latencies_s"]) == 3
    assert run["repetitions"][0]["trace"].t_s.size > 0
    assert ok["started"] <= ok["finished"]
    assert not bad["ok"] and "MeterUnavailableError" in bad["error"] and bad["run"] is None


def test_unreachable_address_fails_fast_and_touches_nothing(cli, tmp_path: Path) -> None:
    with pytest.raises(RayUnreachableError):
        check_reachable("127.0.0.1:1", timeout_s=2)
    with pytest.raises(RayUnreachableError) as info:
        check_reachable("no-port-here")
    assert "HOST:PORT" in str(info.value)
    f = tmp_path / "c.yaml"
    f.write_text('grid: {workloads: ["null"], devices: [a40]}\n')
    store = tmp_path / "s.db"
    r = cli("campaign", "run", f, "--store", store, "--ray", "127.0.0.1:1")
    assert r.code == 2 and "cannot reach the Ray cluster at '127.0.0.1:1'" in r.err
    assert "Traceback" not in r.err and not store.exists()


def test_worker_command_registers_the_catalog_device(cli) -> None:
    r = cli("campaign", "worker", "--address", "10.0.0.5:6379", "--device", "Orin", "--dry-run",
            "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["device"] == ORIN and d["resource"] == f"device:{ORIN}"
    assert d["command"][1:] == ["start", '--resources={"device:jetson-agx-orin-64gb": 1}',
                                "--address=10.0.0.5:6379"]
    r = cli("campaign", "worker", "--head", "--device", "a40", "--dry-run", "--json")
    assert r.json()["command"][-2:] == ["--head", "--port=6379"]
    r = cli("campaign", "worker", "--device", "a40", "--dry-run")
    assert r.code == 2 and "--address" in r.err
    r = cli("campaign", "worker", "--head", "--device", "a4O", "--dry-run")
    assert r.code == 2 and "unknown device" in r.err


# ---- with a local Ray cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """A real three-node Ray cluster on this machine: a head without devices and two nodes, each
    registering one catalog device as ``inferlca campaign worker`` does."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install "
                                            "'inferlca[ray]')")
    from ray.cluster_utils import Cluster

    # Workers are new processes: they find this checkout's package through PYTHONPATH.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(SRC) + (os.pathsep + old if old else "")
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        for dev in (ORIN, A5000):  # the A5000 node says it has one GPU (Ray takes it on trust)
            cluster.add_node(num_cpus=1, num_gpus=1 if dev == A5000 else 0,
                             resources={f"device:{dev}": 1})
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        cluster.wait_for_nodes()
        yield ray, cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def node_of(ray, resource: str) -> str:
    """The id of the node offering ``resource``."""
    return next(n["NodeID"] for n in ray.nodes() if n["Alive"] and resource in n["Resources"])


CAMPAIGN = f"""
name: cluster
defaults: {{repetitions: 2, period_ms: 5}}
grid:
  workloads: ["null"]
  queries: [3, 5]
  devices: [{ORIN}, {A5000}, {H100}, local]
overrides:
  - where: {{device: {A5000}, queries: 5}}
    set: {{meter: nvml}}     # no NVIDIA driver on the worker: this cell fails there
"""


def test_ray_campaign_places_streams_and_reports(ray_cluster, tmp_path: Path) -> None:
    from inferlca.campaign.ray import run_ray

    ray, _cluster = ray_cluster

    camp = parse_campaign(CAMPAIGN, source="cluster.yaml")
    path = tmp_path / "driver.db"
    events: list[tuple[str, str]] = []
    locks: list[dict] = []

    class Recorder:
        def start(self, total_cells):
            events.append(("start", str(total_cells)))

        def cell_started(self, cell):
            return None

        def cell_finished(self, cell, outcome, reason=None):
            events.append((cell.cell_id, outcome))
            locks.append(read_lock(lock_path_for(path)))

        def stop(self):
            events.append(("stop", ""))

    with Store.open(path) as store:
        result = run_ray(camp, store, None, store_path=str(path), progress=Recorder(),
                         poll_s=0.2)
        by_cell = {r.cell_id: r for r in result.results}
        cells = {(c.device, c.spec.queries): c for c in camp.cells}

        # 8 cells: 4 schedulable (Orin x2, A5000 x2), H100 and local ones reported, not waited for
        assert [r.cell_id for r in result.results] == [c.cell_id for c in camp.cells]
        for q in (3, 5):
            assert by_cell[cells[(H100, q)].cell_id].outcome == UNSCHEDULABLE
            assert "no node of the cluster offers h100-sxm5-80gb" in by_cell[
                cells[(H100, q)].cell_id].error
            assert by_cell[cells[(None, q)].cell_id].outcome == UNSCHEDULABLE
        assert by_cell[cells[(ORIN, 3)].cell_id].outcome == RAN
        assert by_cell[cells[(ORIN, 5)].cell_id].outcome == RAN
        assert by_cell[cells[(A5000, 3)].cell_id].outcome == RAN
        failed = by_cell[cells[(A5000, 5)].cell_id]
        assert failed.outcome == FAILED and "MeterUnavailableError" in failed.error
        assert not result.ok

        # streamed: the progress saw each of the four dispatched cells finish, then stop
        assert events[0] == ("start", "4") and events[-1] == ("stop", "")
        assert sorted(e[0] for e in events[1:-1]) == sorted(
            cells[k].cell_id for k in ((ORIN, 3), (ORIN, 5), (A5000, 3), (A5000, 5)))

        # the driver held the store's campaign lock while cells came back, and released it
        assert len(locks) == 4 and all(lk["campaign"] == "cluster" for lk in locks)
        assert read_lock(lock_path_for(path)) == {}

        # placement and storage: each run in the driver's store, with its Ray resource
        spans: dict[str, list[tuple[float, float]]] = {}
        for key in ((ORIN, 3), (ORIN, 5), (A5000, 3)):
            cell = cells[key]
            run = store.get_run(by_cell[cell.cell_id].run_id)
            assert run.status == "complete" and run.device_id == key[0]
            assert run.spec["extra"]["campaign_cell"] == cell.cell_id
            ray_env = run.environment["ray"]
            assert ray_env["resources"] == {f"device:{key[0]}": 1.0}
            assert ray_env["resource"] == f"device:{key[0]}"
            assert ray_env["node_id"] == node_of(ray, f"device:{key[0]}")  # the right machine
            assert len(run.repetitions) == 2
            for rep in run.repetitions:
                assert len(store.load_latencies(run.run_id, rep.index)) == key[1]
                trace = store.load_trace(run.run_id, rep.index)
                assert trace is not None and trace.t_s.size == rep.trace_samples > 0
            spans.setdefault(key[0], []).append((ray_env["started"], ray_env["finished"]))
        # one cell per device at a time: the two Orin cells never overlapped
        (_, end_first), (start_second, _) = sorted(spans[ORIN])
        assert end_first <= start_second

        states = {s.cell.cell_id: s.state for s in cell_states(camp, store)}
        assert states[failed.cell_id] == "failed"
        assert store.get_run(failed.run_id).error.startswith("MeterUnavailableError")
        assert sorted(states.values()) == ["done"] * 3 + ["failed"] + ["pending"] * 4

        # resume: done cells are not sent again; the failed one is retried
        again = run_ray(camp, store, None, store_path=str(path), poll_s=0.2)
        outcomes = {r.cell_id: r.outcome for r in again.results}
        assert [outcomes[cells[k].cell_id] for k in ((ORIN, 3), (ORIN, 5), (A5000, 3))] == [
            SKIPPED_DONE] * 3
        assert outcomes[failed.cell_id] == FAILED
        assert len(store.list_runs(status="complete")) == 3  # nothing ran twice


def test_a_cell_whose_node_left_is_reported_not_left_hanging(ray_cluster) -> None:
    from inferlca.campaign.local import CampaignResult
    from inferlca.campaign.progress import NullProgress
    from inferlca.campaign.ray import _cluster_devices, _drop_orphans, _task_body

    ray, cluster = ray_cluster
    node = cluster.add_node(num_cpus=1, resources={"device:l40": 1})
    cluster.wait_for_nodes()
    assert _cluster_devices(ray, None)["l40"] == "device:l40"
    cluster.remove_node(node)
    assert "l40" not in _cluster_devices(ray, None)
    camp = parse_campaign('name: gone\ngrid: {workloads: ["null"], devices: [l40]}',
                          source="g.yaml")
    cell = camp.cells[0]
    # a cell queued for the device that has just left: Ray would keep it pending forever
    ref = ray.remote(num_cpus=0, max_retries=0)(_task_body).options(
        resources={"device:l40": 1}).remote(cell.spec.to_dict(), None, 0.0, None, cell.cell_id)
    pending = {ref: (cell, "device:l40", 0.0)}
    result = CampaignResult("gone")
    _drop_orphans(ray, pending, None, [], result, NullProgress())
    assert pending == {}
    (r,) = result.results
    assert r.outcome == UNSCHEDULABLE and "left the cluster" in r.error
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(ref, timeout=30)


def test_ctrl_c_on_a_ray_campaign_keeps_running_cells_and_cancels_the_rest(ray_cluster, tmp_path):
    """A real SIGINT to ``campaign run --ray`` in a child process once a first cell is stored:
    cells not started are cancelled, the running one finishes and is stored, exit 130; the next
    run finishes the campaign and no cell is complete twice."""
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    from inferlca.campaign.ray import run_ray

    _ray, cluster = ray_cluster
    f = tmp_path / "c.yaml"
    f.write_text(f'name: sigray\ncooldown_s: 2\ndefaults: {{repetitions: 1}}\n'
                 f'grid: {{workloads: ["null"], queries: [2, 3, 4, 5], devices: [{ORIN}]}}\n')
    store = tmp_path / "sig.db"
    child = subprocess.Popen([sys.executable, "-m", "inferlca", "campaign", "run", str(f),
                              "--store", str(store), "--ray", cluster.address, "--json"],
                             env=dict(os.environ), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if store.exists():
                with Store.open_readonly(store) as st:
                    if st.list_runs(status="complete"):
                        break
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err[-2000:]
    import json

    report = json.loads(out)
    outcomes = [c["outcome"] for c in report["cells"]]
    assert report["interrupted"] and outcomes[0] == RAN
    assert "interrupted" in outcomes and set(outcomes) <= {RAN, "interrupted"}
    assert all(c["error"] == "cancelled before it started"
               for c in report["cells"] if c["outcome"] == "interrupted")
    camp = parse_campaign(f.read_text(), source=str(f))
    with Store.open(store) as st:
        states = [s.state for s in cell_states(camp, st)]
        assert states == ["done" if o == RAN else "pending" for o in outcomes]
        again = run_ray(camp, st, None, store_path=str(store), poll_s=0.2)
        assert [r.outcome for r in again.results] == [
            SKIPPED_DONE if o == RAN else RAN for o in outcomes]
        complete = Counter(r.spec["extra"]["campaign_cell"] for r in st.list_runs(status="complete"))
    assert complete == {c.cell_id: 1 for c in camp.cells}


def test_a_cell_measuring_gpus_gets_them_from_ray_or_is_unschedulable(ray_cluster) -> None:
    """Issue 17: the nvml cell asks Ray for a GPU; on the node that has one it runs with the GPU
    Ray assigned (recorded); asking for more GPUs than the cluster has is reported, not waited for."""
    from inferlca.campaign.ray import run_ray

    _ray, _cluster = ray_cluster
    camp = parse_campaign(f'name: g\ngrid: {{workloads: ["null"], queries: [3], devices: [{A5000}], '
                          f'gpus: ["0", "0,1"], meter: [nvml]}}', source="g.yaml")
    one, two = sorted(camp.cells, key=lambda c: c.spec.gpus)
    with Store.open(":memory:") as store:
        result = run_ray(camp, store, None, poll_s=0.2)
    by_cell = {r.cell_id: r for r in result.results}
    assert by_cell[two.cell_id].outcome == UNSCHEDULABLE
    assert "measures 2 GPU(s) but the cluster offers 1" in by_cell[two.cell_id].error
    # the one-GPU cell was placed on the A5000 node and ran there (no NVIDIA driver: it fails
    # opening NVML, which proves it was scheduled rather than left pending)
    assert by_cell[one.cell_id].outcome == FAILED
    assert "MeterUnavailableError" in by_cell[one.cell_id].error
