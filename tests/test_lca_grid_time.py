"""Grid intensity in time: a user's file integrated over a run's timeline (golden by hand)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from inferlca.errors import InputFileError, InvalidValueError
from inferlca.lca import grid_time

T10 = 1772359200.0  # 2026-03-01T10:00:00Z


def _file(tmp_path, body, name="g.csv"):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


TWO_HOURS = ("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average,marginal\n"
             "2026-03-01T10:00,100,500\n2026-03-01T11:00,300,600\n")


def test_run_straddling_two_hours_golden(tmp_path):
    """Samples every 1 s from 10:59:50 to 11:00:10; 100 W before 11:00, 300 W after.

    Intervals [i, i+1] s (i = 0..19), trapezoid energy, intensity at the midpoint:
    i = 0..8: 100 J each at 100 g/kWh (900 J); i = 9: (100 + 300) / 2 = 200 J, midpoint 9.5 s,
    before 11:00 -> 100 g/kWh; i = 10..19: 300 J each at 300 g/kWh (3000 J).
    Weighted: (1100 x 100 + 3000 x 300) / 4100 = 246.3415 g/kWh.
    """
    s = grid_time.read_grid_file(_file(tmp_path, TWO_HOURS))
    t = np.arange(21.0)
    p = np.where(t < 10, 100.0, 300.0)
    trace = SimpleNamespace(t_s=t, channels={"gpu": p}, primary="gpu",
                            meta={"t0_unix_s": T10 + 3590.0})
    ti = grid_time.trace_intensity(s, trace)
    assert ti.gco2e_per_kwh == pytest.approx((1100 * 100 + 3000 * 300) / 4100)
    assert ti.energy_j == pytest.approx(4100.0)
    # the same run inside one hour meets that hour's intensity only
    trace.meta["t0_unix_s"] = T10 + 100.0
    assert grid_time.trace_intensity(s, trace).gco2e_per_kwh == pytest.approx(100.0)
    # marginal signal when asked for
    sm = grid_time.read_grid_file(_file(tmp_path, TWO_HOURS), signal="marginal")
    trace.meta["t0_unix_s"] = T10 + 3590.0
    assert grid_time.trace_intensity(sm, trace).gco2e_per_kwh == pytest.approx(
        (1100 * 500 + 3000 * 600) / 4100)


def test_impact_cli_with_grid_file_changes_the_use_phase(cli, tmp_path):
    """Constant power over 20 s across 11:00: half the energy at 100, half at 300 -> 200 g/kWh;
    use = 0.001 kWh x 200 x PUE 1.5 = 0.3 gCO2e."""
    f = _file(tmp_path, TWO_HOURS)
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "20",
            "--grid-file", str(f), "--start", "2026-03-01T10:59:50Z", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["grid_gco2e_per_kwh"]["value"] == pytest.approx(200.0)
    assert d["use_gco2e"]["value"] == pytest.approx(0.001 * 200.0 * 1.5)
    assert d["grid_in_time"]["start"] == "2026-03-01 10:59:50 UTC"


def test_units_and_time_zones(tmp_path):
    body = ("# unit: kgCO2e/kWh\ntimestamp,gco2e_per_kwh\n"
            "2026-03-01T11:00,0.1\n2026-03-01T11:30,0.2\n")
    s = grid_time.read_grid_file(_file(tmp_path, body), tz="Europe/Paris")
    # 11:00 in Paris (UTC+1 in March) is 10:00 UTC; kg -> g
    assert s.start_s[0] == pytest.approx(T10) and s.gco2e_per_kwh.tolist() == [100.0, 200.0]
    assert s.step_s == 1800.0 and s.end_s[-1] == pytest.approx(T10 + 3600.0)
    body = "timestamp,average\n2026-03-01T10:00Z,700\n2026-03-01T11:00+00:00,800\n"
    s = grid_time.read_grid_file(_file(tmp_path, body), unit="lbCO2e/MWh")
    assert s.gco2e_per_kwh[0] == pytest.approx(700 * 0.45359237)


@pytest.mark.parametrize("body,kwargs,message", [
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T09:00,1\n"
     "2026-03-01T10:00,1\n2026-03-01T11:00,2\n2026-03-01T13:00,3\n"), {},
     "gap between 2026-03-01 11:00:00 UTC and 2026-03-01 13:00:00 UTC"),
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T11:00,1\n"
     "2026-03-01T10:00,2\n"), {}, "earlier than the line before"),
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,1\n"
     "2026-03-01T10:00,2\n"), {}, "repeated (overlapping)"),
    (("# unit: furlongs\n# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,1\n"
     "2026-03-01T11:00,2\n"), {}, "unknown unit 'furlongs'"),
    ("# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,1\n2026-03-01T11:00,2\n", {},
     "unit of the intensities is not stated"),
    (("# unit: gCO2e/kWh\n# timezone: Mars/Olympus\ntimestamp,average\n2026-03-01T10:00,1\n"
     "2026-03-01T11:00,2\n"), {}, "unknown time zone 'Mars/Olympus'"),
    ("# unit: gCO2e/kWh\ntimestamp,average\n2026-03-01T10:00,1\n2026-03-01T11:00,2\n", {},
     "no offset and the file states no time zone"),
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,1\n"
     "2026-03-01T13:00,2\n"), {}, "hourly or finer"),
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,1\n"
     "2026-03-01T11:00,2\n"), {"signal": "marginal"}, "no 'marginal' column"),
    (("# unit: gCO2e/kWh\n# timezone: UTC\ntimestamp,average\n2026-03-01T10:00,x\n"
     "2026-03-01T11:00,2\n"), {}, "line 4"),
])
def test_bad_grid_files(tmp_path, body, kwargs, message):
    with pytest.raises((InputFileError, InvalidValueError)) as info:
        grid_time.read_grid_file(_file(tmp_path, body), **kwargs)
    assert message in str(info.value)


def test_timeline_not_covering_the_run_names_the_part(tmp_path):
    s = grid_time.read_grid_file(_file(tmp_path, TWO_HOURS))
    with pytest.raises(InvalidValueError, match=r"09:59:50 UTC to 2026-03-01 10:00:00 UTC "
                                                r"\(before the file\)"):
        grid_time.integrate(s, T10 - 10.0, [0.0, 20.0], [1.0, 1.0])


@pytest.mark.parametrize("args,message", [
    (["--grid-file", "{f}"], "--grid-file needs --start"),
    (["--grid-file", "{f}", "--start", "2026-03-01T10:00:00"], "no time zone offset"),
    (["--grid-file", "{f}", "--start", "2026-03-01T12:30:00Z"], "after the file"),
    (["--grid-file", "{f}", "--start", "2026-03-01T10:00:00Z", "--grid", "50"], "not both"),
])
def test_cli_bad_grid_input_exits_2(cli, tmp_path, args, message):
    f = _file(tmp_path, TWO_HOURS)
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "20",
            *[a.format(f=f) for a in args])
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_best_and_worst_hour_of_the_day(tmp_path):
    rows = "".join(f"2026-03-01T{h:02d}:00,{v}\n" for h, v in enumerate(
        [300, 280, 260, 240, 220, 200, 180, 160, 140, 120, 100, 80,
         60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 260, 280]))
    s = grid_time.read_grid_file(_file(tmp_path, "# unit: gCO2e/kWh\n# timezone: UTC\n"
                                       "timestamp,average\n" + rows))
    ext = grid_time.day_extremes(s, T10 + 600.0, [0.0, 60.0], [50.0, 50.0])
    assert ext is not None and ext["hours_covered"] == 24
    assert ext["best"] == {"start": "2026-03-01 12:00:00 UTC", "gco2e_per_kwh": 60.0}
    assert ext["worst"] == {"start": "2026-03-01 00:00:00 UTC", "gco2e_per_kwh": 300.0}


def test_trace_without_wall_clock_origin_is_refused(tmp_path):
    s = grid_time.read_grid_file(_file(tmp_path, TWO_HOURS))
    trace = SimpleNamespace(t_s=np.arange(3.0), channels={"c": np.ones(3)}, primary="c", meta={})
    with pytest.raises(InvalidValueError, match="wall-clock origin"):
        grid_time.trace_intensity(s, trace)



def test_grid_year_picks_that_years_rows(cli):
    from inferlca.lca.grid import get_region

    fr = get_region("FR")
    assert fr.years[:3] == ["2024", "2023", "2012"]
    y = fr.for_year(2023)
    # the 2023 OWID / Ember row (56.0) is the only 2023 row: nominal and interval
    assert y.intensity.to_dict() == {"value": 56.0, "low": 56.0, "high": 56.0}
    assert fr.intensity.value == 79.1  # the default stays the seed study's value
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10",
            "--grid-year", "2023", "--json")
    assert r.code == 0 and r.json()["use_gco2e"]["value"] == pytest.approx(0.001 * 56.0 * 1.5)
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10",
            "--grid-year", "1999")
    assert r.code == 2 and "years in the table: 2024, 2023, 2012" in r.err
    r = cli("grid", "show", "DE", "--year", "2023", "--json")
    assert r.code == 0 and r.json()["year"] == "2023"


@pytest.mark.parametrize("args, flags", [
    (["--grid-unit", "kgCO2e/kWh"], "--grid-unit only goes"),
    (["--grid-tz", "UTC"], "--grid-tz only goes"),
    (["--start", "2026-03-01T10:59:50Z", "--grid-signal", "marginal"], "--start, --grid-signal"),
])
def test_impact_file_options_without_a_file_exit_2(cli, args, flags):
    """--start, --grid-unit, --grid-tz, --grid-signal without --grid-file: refused (were silently
    ignored, the yearly intensity used)."""
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "20", *args)
    assert r.code == 2 and flags in r.err and "--grid-file PATH" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_impact_table_names_the_grid_file(cli, tmp_path):
    f = _file(tmp_path, TWO_HOURS)
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "20",
            "--grid-file", str(f), "--start", "2026-03-01T10:59:50Z")
    assert r.code == 0, r.err
    row = next(line for line in r.out.splitlines() if "grid EGM" in line)
    assert "--grid-file" in row and "200" in row and "region" not in row


def test_grid_show_unknown_year_names_its_flag(cli):
    """`grid show FR --year 1990` named the library's parameter (`grid_year 1990`)."""
    r = cli("grid", "show", "FR", "--year", "1990")
    assert r.code == 2 and r.err.startswith("error: --year 1990: no intensity of France")
    assert "2024" in r.err and "grid_year" not in r.err


def test_grid_show_year_statement_is_not_the_default(cli):
    """`grid show FR --year 2023` said 'default 56 gCO2e/kWh': 56 is the 2023 row, the default
    stays 79.1."""
    r = cli("grid", "show", "FR", "--year", "2023", "--json")
    assert r.code == 0, r.err
    st = r.json()["statement"]
    assert st.startswith("France (FR), year 2023: 56 gCO2e/kWh (not the default")
    assert "default 79.1" in cli("grid", "show", "FR", "--json").json()["statement"]
