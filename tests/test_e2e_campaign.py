"""Campaigns end to end through the CLI, with real runs of tiny presets.

``campaign plan`` / ``run`` / ``status`` on a campaign mixing a tiny BERT and the null workload,
local cells and cells for another device; the plan's roofline estimate of a preset; the example
files; an unreachable Ray address that must fail fast and leave no store behind.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from inferlca.campaign.spec import load_campaign
from inferlca.store.sqlite import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TINY_PRESETS = """\
name: tiny-presets
defaults: {preset: tiny, backend: torch, repetitions: 1}
grid:
  workloads: [bert-base-squad, "null"]
  queries: [2, 3]
  devices: [local, h100-sxm5-80gb]
overrides:
  - where: {workload: "null"}
    set: {preset: null}
"""


def test_plan_uses_the_preset_model_for_the_roofline(tmp_path: Path, cli) -> None:
    """A ``preset: tiny`` BERT cell is estimated with the tiny model, not with BERT-base."""
    f = tmp_path / "c.yaml"
    f.write_text("grid: {workloads: [bert-base-squad], devices: [h100-sxm5-80gb], "
                 "preset: [tiny, null], repetitions: 1}\n")
    plan = cli("campaign", "plan", f, "--json").json()
    by_preset = {e["label"]: e for e in plan["plan"]}
    assert len(by_preset) == 2
    notes = sorted(e["note"] for e in plan["plan"])
    assert all(e["source"] == "roofline" for e in plan["plan"])
    assert any("of bert-tiny" in n for n in notes) and any("of bert-base" in n for n in notes)
    cells = load_campaign(f).cells
    tiny = next(e for e, c in zip(plan["plan"], cells) if c.spec.preset == "tiny")
    full = next(e for e, c in zip(plan["plan"], cells) if c.spec.preset is None)
    assert tiny["duration_s"] < full["duration_s"] / 50  # 2 layers x 128 wide vs 12 x 768


def test_plan_total_is_unknown_when_no_cell_has_an_estimate(tmp_path: Path, cli) -> None:
    res = cli("campaign", "plan", EXAMPLES / "tiny_campaign.yaml", "--store", tmp_path / "x.db")
    assert res.code == 0
    assert "estimated duration unknown" in " ".join(res.out.split())
    assert "0.0 s" not in res.out.split("estimated duration")[-1]


def test_tiny_preset_campaign_run_status_and_resume(tmp_path: Path, cli) -> None:
    f = tmp_path / "tiny-presets.yaml"
    f.write_text(TINY_PRESETS)
    store = tmp_path / "c.db"
    campaign = load_campaign(f)
    assert len(campaign.cells) == 8

    plan = cli("campaign", "plan", f, "--store", store, "--json")
    assert plan.code == 0, plan.err
    assert plan.json()["cells"] == 8 and plan.json()["repetitions"] == 8
    assert not store.exists()  # planning does not create the store

    first = cli("campaign", "run", f, "--store", store, "--json")
    assert first.code == 0, first.err  # every cell this machine can run is done
    d = first.json()
    assert d["counts"] == {"ran": 4, "other-device": 4}
    for c in d["cells"]:
        if c["outcome"] == "other-device":
            assert c["device"] == "h100-sxm5-80gb" and "needs h100-sxm5-80gb" in c["error"]
        else:
            assert c["device"] is None and c["run_id"]

    status = cli("campaign", "status", f, "--store", store, "--json")
    assert status.code == 0
    s = status.json()
    assert s["counts"] == {"done": 4, "running": 0, "failed": 0, "pending": 4}
    assert s["executor"] is None

    # The plan now uses the store's history for the local cells.
    plan2 = cli("campaign", "plan", f, "--store", store, "--json").json()
    assert Counter(e["source"] for e in plan2["plan"]) == {"history": 4, "roofline": 2,
                                                           "unknown": 2}

    # Running again resumes: nothing runs twice.
    again = cli("campaign", "run", f, "--store", store, "--json")
    assert again.json()["counts"] == {"skipped-done": 4, "other-device": 4}
    with Store.open_readonly(store) as st:
        runs = st.list_runs()
        assert len(runs) == 4 and all(r.status == "complete" for r in runs)
        cells = Counter(r.spec["extra"]["campaign_cell"] for r in runs)
        assert set(cells.values()) == {1}
        presets = {r.workload: r.spec.get("preset") for r in runs}
    assert presets == {"bert-base-squad": "tiny", "null": None}

    # The same store on "the H100 machine" (declared with an alias): its cells run there. Only
    # the null workload, which needs no accelerator, is run that way here.
    g = tmp_path / "null-h100.yaml"
    g.write_text('name: tiny-presets\ngrid: {workloads: ["null"], queries: [2], '
                 'devices: [h100-sxm5-80gb], repetitions: 1}\n')
    h = cli("campaign", "run", g, "--store", store, "--device", "H100 SXM5", "--json")
    assert h.code == 0, h.err
    assert h.json()["counts"] == {"ran": 1}


def test_campaign_run_bad_input_touches_nothing(tmp_path: Path, cli) -> None:
    store = tmp_path / "s.db"
    cases = {
        "grid: {querys: [4]}\n": "did you mean 'queries'",
        "grid: {}\n": "grid is empty",
        "grid: {queries: []}\n": "empty list",
        "grid: {devices: [h900]}\n": "unknown device 'h900'",
        "grid: {workloads: [bert-larg]}\n": "did you mean 'bert-large-squad'",
        "grid: {workloads: [null]}\n": 'write it in quotes: "null"',
    }
    for text, expected in cases.items():
        f = tmp_path / "bad.yaml"
        f.write_text(text)
        res = cli("campaign", "run", f, "--store", store)
        assert res.code == 2, (text, res.out, res.err)
        assert expected in res.err and "Traceback" not in res.err
        assert len(res.err.strip().splitlines()) == 1
    bad_device = cli("campaign", "run", EXAMPLES / "tiny_campaign.yaml", "--store", store,
                     "--device", "h900")
    assert bad_device.code == 2 and "unknown device" in bad_device.err
    assert not store.exists()


@pytest.mark.parametrize("address", ["127.0.0.1:1", "nosuchhost.invalid:6379", "garbage"])
def test_unreachable_ray_address_exits_2_before_the_store(tmp_path: Path, cli, address) -> None:
    store = tmp_path / "s.db"
    res = cli("campaign", "run", EXAMPLES / "tiny_campaign.yaml", "--ray", address,
              "--store", store)
    assert res.code == 2
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
    assert "Ray" in res.err
    assert not store.exists() and not Path(str(store) + ".campaign.lock").exists()


@pytest.mark.parametrize("name", ["tiny_campaign.yaml", "study_grid.yaml"])
def test_example_campaigns_validate(name: str) -> None:
    c = load_campaign(EXAMPLES / name)
    if name == "study_grid.yaml":
        assert len(c.cells) == 55
        assert sum(x.spec.repetitions for x in c.cells) == 550
        assert len({x.device for x in c.cells}) == 11
    else:
        assert len(c.cells) == 4 and all(x.device is None for x in c.cells)


@pytest.mark.parametrize(("text", "expected"), [
    # an override naming a device while the grid has no device axis used to raise AssertionError
    ("grid: {queries: [4]}\noverrides: [{where: {device: h900}, set: {period_ms: 5}}]\n",
     "unknown device 'h900'"),
    ("grid: {queries: [4]}\noverrides: [{where: {queries: 4}, set: {device: h9}}]\n",
     "unknown device 'h9'"),
    # an unknown meter used to pass validation and fail every cell at run time
    ("grid: {meter: [nvmll]}\n", "unknown meter 'nvmll'; did you mean 'nvml'?"),
    # workload options used to fail each cell at run time (one failed run per cell)
    ("grid: {workloads: [minilm-embed], preset: tiny}\n", "unknown preset 'tiny' for minilm-embed"),
    ("grid: {backends: [onnxruntime], precision: [bf16]}\n", "precision bf16 is not available"),
])
def test_more_bad_campaign_files(tmp_path: Path, cli, text: str, expected: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    for cmd in ("plan", "run", "status"):
        res = cli("campaign", cmd, f, "--store", tmp_path / "s.db")
        assert res.code == 2, (cmd, res.out, res.err)
        assert expected in res.err and "Traceback" not in res.err
    assert not (tmp_path / "s.db").exists()


def test_overrides_resolve_device_aliases_and_meter_aliases(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("grid: {queries: [4], meter: [modeled, modelled]}\n"
                 "overrides: [{where: {queries: 4}, set: {device: H100 SXM5}}]\n")
    c = load_campaign(f)
    assert len(c.cells) == 1  # 'modeled' is 'modelled': one cell
    assert c.cells[0].spec.meter == "modelled"
    assert c.cells[0].device == "h100-sxm5-80gb"


def test_workload_files_are_not_checked_on_the_driver(tmp_path: Path) -> None:
    """On a cluster a weights folder may exist only on the node that runs the cell."""
    f = tmp_path / "c.yaml"
    f.write_text("grid: {workloads: [bert-base-squad], weights: /only/on/the/worker, "
                 "devices: [a40]}\n")
    (cell,) = load_campaign(f).cells
    assert cell.spec.weights == "/only/on/the/worker"


def test_ray_connection_refused_after_the_port_check_leaves_no_store(tmp_path: Path, cli,
                                                                      monkeypatch) -> None:
    """``--ray auto`` (no port to probe) or a head refusing the connection: exit 2, no store.

    ``ray.init`` (the vendor boundary) is made to fail as it does with no running cluster, so the
    test does not depend on what else runs on this machine.
    """
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")

    def refuse(*args, **kwargs):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    store = tmp_path / "s.db"
    res = cli("campaign", "run", EXAMPLES / "tiny_campaign.yaml", "--ray", "auto",
              "--store", store)
    assert res.code == 2 and "cannot connect to the Ray cluster at 'auto'" in res.err
    assert not store.exists()


def test_ray_and_device_together_are_refused(tmp_path: Path, cli) -> None:
    res = cli("campaign", "run", EXAMPLES / "tiny_campaign.yaml", "--ray", "127.0.0.1:1",
              "--device", "t4", "--store", tmp_path / "s.db")
    assert res.code == 2 and "--device" in res.err and "campaign worker" in res.err
    assert not (tmp_path / "s.db").exists()


def test_a_campaign_for_other_machines_says_how_to_run_it(tmp_path: Path, cli) -> None:
    f = tmp_path / "c.yaml"
    f.write_text('grid: {workloads: ["null"], devices: [h100-sxm5-80gb, a40]}\n')
    res = cli("campaign", "run", f, "--store", tmp_path / "s.db", "--device", "t4")
    assert res.code == 0
    out = " ".join(res.out.split())
    assert "other-device: 2" in out
    assert "no cell of this campaign is for this machine" in out and "--ray ADDRESS" in out


def test_cell_labels_tell_every_cell_apart(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("grid: {workloads: [llm-generate], preset: [tiny, gpt2], "
                 "max_new_tokens: [8, 64], precision: [fp32, fp16], period_ms: 50, "
                 "devices: [a40]}\n")
    cells = load_campaign(f).cells
    labels = [c.describe() for c in cells]
    assert len(cells) == 8 and len(set(labels)) == 8
    assert any("preset=tiny" in x and "max_new_tokens=64" in x and "fp16" in x for x in labels)
    assert not any("period_ms" in x for x in labels)  # a one-value axis is not news


def test_plan_estimates_llm_cells_with_their_preset_and_tokens(tmp_path: Path, cli) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("grid: {workloads: [llm-generate], preset: tiny, max_new_tokens: [8, 64], "
                 "devices: [a40], repetitions: 1}\n")
    plan = cli("campaign", "plan", f, "--json").json()["plan"]
    assert [e["source"] for e in plan] == ["roofline", "roofline"]
    assert all("of llm-tiny" in e["note"] for e in plan)
    assert plan[1]["duration_s"] > 4 * plan[0]["duration_s"]  # 64 vs 8 decode steps
