"""`run --grid-file`: each repetition scored at the grid intensity of its own hours (sample by
sample over its power trace), the best and worst hour of that day, and bad input."""

from __future__ import annotations

import datetime as dt
from calendar import timegm

import numpy as np
import pytest

from inferlca.lca import grid_time
from inferlca.spec import RunSpec
from inferlca.traces.trace import PowerTrace


def _hourly_file(path, start: dt.datetime, hours: int, value=lambda h: 100 + 10 * h):
    """An hourly UTC file: intensity 100 + 10 x (hour of the day) gCO2e/kWh."""
    lines = ["# unit: gCO2e/kWh", "timestamp,average,marginal"]
    for k in range(hours):
        t = start + dt.timedelta(hours=k)
        lines.append(f"{t:%Y-%m-%dT%H:%M}Z,{value(t.hour)},{500 + t.hour}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _today_file(tmp_path):
    d0 = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return _hourly_file(tmp_path / "grid.csv", d0 - dt.timedelta(days=1), 72)


def test_trace_grid_straddling_two_hours_golden(tmp_path):
    """Constant 100 W from 10:59:50 to 11:00:10 UTC: half the energy at 10:00's 200, half at
    11:00's 210 -> 205 gCO2e/kWh. Started at 00:00 the same trace meets 100, at 23:00 330."""
    f = _hourly_file(tmp_path / "g.csv", dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc), 24)
    series = grid_time.read_grid_file(f)
    t = np.linspace(0.0, 20.0, 201)
    tr = PowerTrace(t_s=t, channels={"gpu": np.full(t.size, 100.0)}, primary="gpu", meter="x",
                    meta={"t0_unix_s": timegm((2026, 3, 1, 10, 59, 50, 0, 0, 0))})
    met = grid_time.trace_grid(series, tr)
    assert met["gco2e_per_kwh"] == pytest.approx(205.0)
    assert met["best_hour"]["gco2e_per_kwh"] == pytest.approx(100.0)
    assert met["best_hour"]["start"].startswith("2026-03-01 00:00")
    assert met["worst_hour"]["gco2e_per_kwh"] == pytest.approx(330.0)
    # started at 23:00 it ends 23:00:20, inside the last row (which holds one step)
    assert met["hours_covered"] == 24
    # the use phase scales with the intensity; the embodied share does not move
    scored = grid_time.score_hours(met, {"use_gco2e": {"value": 2.05}, "embodied_gco2e":
                                         {"value": 1.0}})
    assert scored["best_hour"]["use_gco2e"] == pytest.approx(1.0)
    assert scored["best_hour"]["total_gco2e"] == pytest.approx(2.0)
    assert scored["worst_hour"]["total_gco2e"] == pytest.approx(2.05 * 330 / 205 + 1.0)


def test_run_grid_file(cli, tmp_path):
    """A real run (null workload): each repetition's grid is 100 + 10 x its UTC hour (or between
    the two hours it straddles); its use phase = kWh x PUE x that intensity; the best and the
    worst hour of the day are 00:00 (100) and 23:00 (330), shown by `results show`."""
    f = _today_file(tmp_path)
    r = cli("run", "-w", "null", "-n", "8", "-r", "2", "--device", "t4", "--store",
            tmp_path / "g.db", "--logs-dir", tmp_path / "logs", "--grid-file", f, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["spec"]["grid_file"] == str(f)
    for rep in d["repetitions"]:
        imp = rep["impact"]
        gt = imp["grid_time"]
        h0 = int(gt["start"][11:13])
        h1 = int(gt["end"][11:13])
        g = imp["grid_gco2e_per_kwh"]["value"]
        if h0 == h1:
            assert g == pytest.approx(100 + 10 * h0)
        else:
            assert min(100 + 10 * h0, 100 + 10 * h1) <= g <= max(100 + 10 * h0, 100 + 10 * h1)
        assert imp["grid_gco2e_per_kwh"]["low"] == imp["grid_gco2e_per_kwh"]["high"] == g
        use = imp["energy_kwh"]["value"] * imp["pue"]["value"] * g
        assert imp["use_gco2e"]["value"] == pytest.approx(use)
        assert gt["best_hour"]["gco2e_per_kwh"] == pytest.approx(100.0)
        assert gt["worst_hour"]["gco2e_per_kwh"] == pytest.approx(330.0)
        assert gt["best_hour"]["use_gco2e"] == pytest.approx(use * 100.0 / g)
        assert gt["best_hour"]["total_gco2e"] == pytest.approx(
            use * 100.0 / g + imp["embodied_gco2e"]["value"])
        assert "grid file" in imp["sources"][0] or any("grid file" in s for s in imp["sources"])
    shown = cli("results", "show", d["run_id"], "--store", tmp_path / "g.db")
    assert shown.code == 0
    text = " ".join(shown.out.split())
    assert "grid file grid.csv (average)" in text and "best hour of that day (00:00 UTC" in text
    assert "at the worst (23:00 UTC" in text
    # the HTML report's assumptions name the same best and worst hour
    rep = cli("report", "--store", tmp_path / "g.db", "--out", tmp_path / "rep")
    assert rep.code == 0, rep.err
    html = " ".join((tmp_path / "rep" / "report.html").read_text().split())
    assert "best hour of that day (00:00 UTC, 100 gCO2e/kWh)" in html
    assert "at the worst (23:00 UTC, 330)" in html


@pytest.mark.parametrize("args,message", [
    (["--grid-file", "MISSING"], "cannot read the grid file"),
    (["--grid-file", "FILE", "--grid", "50"], "not both"),
    (["--grid-unit", "gCO2e/kWh"], "give grid_file too"),
    (["--grid-file", "FILE", "--grid-signal", "peak"], "unknown grid signal 'peak'"),
    (["--grid-file", "FILE", "--grid-unit", "furlongs"], "unit"),
    (["--grid-file", "OLD"], "not covered"),
])
def test_run_grid_file_bad_input(cli, tmp_path, args, message):
    f = _hourly_file(tmp_path / "plain.csv", dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc), 24)
    f.write_text(f.read_text().replace("# unit: gCO2e/kWh\n", ""))
    old = _hourly_file(tmp_path / "old.csv", dt.datetime(2020, 3, 1, tzinfo=dt.timezone.utc), 24)
    subst = {"FILE": str(f), "MISSING": str(tmp_path / "nope.csv"), "OLD": str(old)}
    args = [subst.get(a, a) for a in args]
    r = cli("run", "-w", "null", "-n", "4", "-r", "1", "--device", "t4", "--store",
            tmp_path / "b.db", "--logs-dir", tmp_path / "logs", *args)
    assert r.code == 2, r.out
    assert message in r.err and "Traceback" not in r.err


def test_grid_fields_keep_campaign_cell_ids(tmp_path):
    """The grid-file fields at their defaults leave old campaign cell ids where they were."""
    from inferlca.campaign.spec import cell_id_of

    assert cell_id_of(RunSpec()) == "00affc0ffbff"
    f = _today_file(tmp_path)
    assert cell_id_of(RunSpec(grid_file=str(f))) != "00affc0ffbff"
    assert RunSpec(grid_file=str(f)).validate().grid_signal == "average"
