"""LoadGen validity as the runner stores it (``loadgen["validity"]["valid"]``) reaches
`results show` and the export, and older stores' ``loadgen["valid"]`` still reads."""

from __future__ import annotations

from inferlca.store.export import loadgen_valid


def test_validity_keys_current_and_old():
    assert loadgen_valid({"validity": {"valid": False, "text": "not MLPerf-valid"}}) is False
    assert loadgen_valid({"validity": {"valid": True}}) is True
    assert loadgen_valid({"valid": True}) is True          # stores written before the runner's key
    assert loadgen_valid({"interactive": {}}) is None       # our own scheduler: no LoadGen verdict
    assert loadgen_valid(None) is None


def test_results_show_prints_the_verdict(tmp_path, cli):
    store = tmp_path / "s.db"
    assert cli("run", "-w", "null", "-n", "4", "-r", "1", "--store", store).code == 0
    shown = cli("results", "show", "--store", store, "--json",
                *[r["run_id"] for r in cli("results", "--store", store, "--json").json()["runs"]][:1])
    assert shown.code == 0
    rep = shown.json()["repetitions"][0]
    assert loadgen_valid(rep["loadgen"]) is False           # 4 queries: not MLPerf-valid
    table = cli("results", "show", "--store", store, shown.json()["run_id"][:8])
    assert table.code == 0
    row = next(ln for ln in table.out.splitlines() if ln.replace("│", " ").split()[:1] == ["0"])
    assert row.replace("│", " ").split()[-1] == "no"     # the "LoadGen valid" column
