"""The `results`, `export` and `store` commands on a real store."""

from __future__ import annotations

import json

import pytest
from helpers_store import SPEC, add_complete_run

from inferlca.store import Store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "inferlca.db"
    with Store.open(path) as s:
        orin = add_complete_run(s, reps=3)
        h100 = add_complete_run(s, reps=2, device_id="h100-sxm", device_name="H100 SXM",
                                spec={**SPEC, "scenario": "offline"})
        est = s.create_run({**SPEC, "workload": "starcoder"}, kind="estimated", estimated=True,
                           device_id="a100-pcie-40gb", device_name="A100 <b>PCIe</b>")
        s.add_repetition(est, 0, metrics={"duration_s": 2.0, "energy_total_j": 800.0,
                                          "energy_per_query_j": 50.0})
        s.finish_run(est, "complete", None)
    return {"path": path, "orin": orin, "h100": h100, "est": est}


def test_results_list_table_and_json(cli, db):
    r = cli("results", "--store", db["path"])
    assert r.code == 0, r.err
    assert db["orin"][:8] in r.out and db["h100"][:8] in r.out and "est." in r.out
    assert "Jetson" in r.out and "H100" in r.out
    # energy per query mean of 3.75, 4.375, 5.0 J = 4.38 (3 significant digits)
    assert "4.38" in r.out
    r = cli("results", "--store", db["path"], "--json")
    doc = r.json()
    assert [x["run_id"] for x in doc["runs"]] == [db["orin"], db["h100"], db["est"]]
    assert doc["runs"][0]["summary"]["metrics"]["energy_total_j"]["mean"] == 110.0
    assert doc["runs"][2]["kind"] == "estimated" and doc["runs"][2]["summary"]["metrics"]["energy_total_j"]["std"] is None


def test_results_filters(cli, db):
    ids = lambda *a: [x["run_id"] for x in cli("results", "--store", db["path"], "--json", *a).json()["runs"]]
    assert ids("--device", "h100-sxm") == [db["h100"]]
    assert ids("--scenario", "offline") == [db["h100"]]
    assert ids("--kind", "estimated") == [db["est"]]
    assert ids("--workload", "starcoder") == [db["est"]]
    assert ids("--limit", "1") == [db["est"]]
    assert ids("--status", "failed") == []
    r = cli("results", "--store", db["path"], "--device", "tpu")
    assert r.code == 0 and "no runs" in r.out
    r = cli("results", "--store", db["path"], "--kind", "guessed")
    assert r.code == 2 and r.err.startswith("error: unknown run kind 'guessed'") and "measured, estimated" in r.err


def test_results_show(cli, db):
    r = cli("results", "show", db["orin"][:5], "--store", db["path"])
    assert r.code == 0, r.err
    assert db["orin"] in r.out and "energy_total_j" in r.out and "tegrastats" in r.out
    # energy_total_j 100, 110, 120: interval 110 -/+ 24.84 -> 85.2 - 135 (3 significant digits)
    assert "85.2 - 135" in r.out
    r = cli("results", "--store", db["path"], "show", db["est"][:6], "--json")
    doc = r.json()
    assert doc["run_id"] == db["est"] and doc["device_name"] == "A100 <b>PCIe</b>"
    assert doc["repetitions"][0]["metrics"] == {"duration_s": 2.0, "energy_total_j": 800.0, "energy_per_query_j": 50.0}
    r = cli("results", "show", "nothere", "--store", db["path"])
    assert r.code == 2 and r.err.startswith("error: unknown run id 'nothere'")


def test_results_delete(cli, db):
    r = cli("results", "delete", db["h100"][:8], "--yes", "--store", db["path"])
    assert r.code == 0 and db["h100"] in r.out
    ids = [x["run_id"] for x in cli("results", "--store", db["path"], "--json").json()["runs"]]
    assert ids == [db["orin"], db["est"]]


def test_missing_store_is_exit_2(cli, tmp_path):
    r = cli("results", "--store", tmp_path / "none.db")
    assert r.code == 2 and r.err.strip().startswith("error: no results store at")
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_command(cli, db, tmp_path, fmt):
    out = tmp_path / ("e.json" if fmt == "json" else "e")
    r = cli("export", "--format", fmt, "--out", out, "--store", db["path"], "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["runs"] == 3
    names = [p["path"].rsplit("/", 1)[-1] for p in doc["files"]]
    if fmt == "json":
        assert names == ["e.json"]
        assert len(json.loads(out.read_text())["runs"]) == 3
    else:
        assert names == [f"{t}.{fmt}" for t in ("runs", "repetitions", "traces", "latencies", "series")]
        assert all(p["bytes"] > 0 for p in doc["files"])


def test_export_filters_and_stdout(cli, db):
    r = cli("export", "-f", "json", "--out", "-", "--store", db["path"], "--run", db["orin"][:8],
            "--no-traces")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert [x["run_id"] for x in doc["runs"]] == [db["orin"]] and "traces" not in doc
    assert len(doc["latencies"]) == 3 * 16
    r = cli("export", "-f", "csv", "--store", db["path"], "--device", "tpu")
    assert r.code == 2 and "nothing to export" in r.err
    r = cli("export", "-f", "xlsx", "--store", db["path"])
    assert r.code == 2 and "accepted: csv, json, parquet" in r.err


def test_store_info_and_merge(cli, db, tmp_path):
    r = cli("store", "info", "--store", db["path"], "--check", "--json")
    info = r.json()
    assert info["runs"] == 3 and info["integrity"] == ["ok"] and info["schema_version"] == 3
    r = cli("store", "info", "--store", db["path"])
    assert r.code == 0 and "v3" in r.out and "wal" in r.out
    other = tmp_path / "other" / "inferlca.db"
    r = cli("store", "merge", db["path"], "--store", other, "--json")
    assert r.code == 0, r.err
    assert sorted(r.json()["added"]) == sorted([db["orin"], db["h100"], db["est"]])
    r = cli("store", "merge", db["path"], "--store", other)
    assert r.code == 0 and "0 added" in r.out and "3 already present" in r.out
    r = cli("store", "merge", tmp_path / "nope.db", "--store", other)
    assert r.code == 2 and "no results store" in r.err


def test_env_var_in_a_subprocess(cli_subprocess, db, tmp_path):
    r = cli_subprocess("results", "--json", cwd=tmp_path, INFERLCA_STORE=str(db["path"]), timeout=120)
    assert r.code == 0, r.err
    assert len(r.json()["runs"]) == 3


def test_import_unsaved_command(cli, db, tmp_path):
    with Store.open(db["path"]) as s:
        rid = s.create_run(SPEC)
        s._conn.set_progress_handler(lambda: 1, 1)
        with pytest.raises(Exception, match="was saved to"):
            s.add_repetition(rid, 0, metrics={"energy_total_j": 1.5})
        s._conn.set_progress_handler(None, 0)
        folder = s.unsaved_dir()
    r = cli("store", "import-unsaved", folder, "--store", db["path"], "--json")
    assert r.code == 0, r.err
    assert r.json()["imported"] == [{"run_id": rid, "index": 0}]
    r = cli("store", "import-unsaved", tmp_path / "nothing", "--store", db["path"])
    assert r.code == 2 and "is not a folder of unsaved repetitions" in r.err


def test_user_text_is_not_rich_markup(cli, tmp_path):
    # labels, device names and errors come from users: brackets must print as they are
    path = tmp_path / "m.db"
    with Store.open(path) as s:
        rid = s.create_run({**SPEC, "label": "[bold]x[/] [/]"}, device_name="GPU [red]0[/]",
                           meter="modelled", estimated=True)
        s.add_repetition(rid, 0, metrics={"energy_total_j": 1.0},
                         impact={"use_gco2e": {"value": 1.0, "low": 0.5, "high": 2.0}})
        s.finish_run(rid, "failed", None, error="boom [/] [link=x]")
    wide = cli("results", "--store", path)
    assert wide.code == 0, wide.err
    assert "[red]0[/]" in wide.out
    shown = cli("results", "show", rid[:6], "--store", path)
    assert shown.code == 0, shown.err
    assert "boom [/] [link=x]" in shown.out and "value [low - high]" in shown.out
    info = cli("store", "info", "--store", path, "--json").json()
    assert info["runs_by_kind"] == {"measured, modelled energy": 1}


def test_store_repair_command(cli, db):
    r = cli("store", "repair", "--store", db["path"], "--json")
    assert r.code == 0, r.err
    assert r.json()["closed"] == [] and r.json()["integrity"] == ["ok"]


def test_results_show_repetitions_fit_80_columns(cli, db, monkeypatch):
    """Regression: on an 80-column terminal every header of the repetitions table was cut
    ("dura…", "ener…", "comp…")."""
    from inferlca.cli._common import console

    monkeypatch.setattr(console, "_width", 80)
    r = cli("results", "show", db["orin"][:6], "--store", db["path"])
    assert r.code == 0, r.err
    block = r.out[r.out.index("\nrepetitions (") + 1:]
    header = block.splitlines()[1]
    for col in ("time s", "energy J", "J/query", "p99 ms", "max ms", "trace", "lat. n", "valid"):
        assert col in header
    assert "…" not in "\n".join(block.splitlines()[:6])


def test_store_merge_missing_other_names_it(cli, db, tmp_path):
    """Regression: a missing OTHER said "run `inferlca run` first, or give --store PATH"."""
    r = cli("store", "merge", str(tmp_path / "nope.db"), "--store", db["path"])
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.strip() == f"error: no results store to merge at {tmp_path / 'nope.db'}: give the path of another inferlca results store (.db)"


def test_results_list_keeps_workload_names_whole_at_80_columns(cli, tmp_path, monkeypatch):
    """Regression: at 80 columns an estimated openai-endpoint run was listed as "openai-endpoi"
    over "nt" (the workload column folded while the device column had room to wrap)."""
    from inferlca.cli._common import console

    path = tmp_path / "r.db"
    with Store.open(path) as s:
        add_complete_run(s, reps=1, device_id="archetype-amd-server", device_name="AMD EPYC",
                         spec={**SPEC, "workload": "openai-endpoint"}, kind="estimated")
    monkeypatch.setattr(console, "_width", 80)
    r = cli("results", "--store", path)
    assert r.code == 0, r.err
    assert "openai-endpoint" in r.out, r.out
    assert max(len(ln.rstrip()) for ln in r.out.splitlines()) <= 80
