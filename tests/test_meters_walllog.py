"""Wall-meter logs: Grid'5000 Kwollect exports (JSON, CSV) and a generic timestamped CSV, through
`inferlca trace import`, with the bad-input cases (unknown units, unsorted times) as exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferlca.errors import InputFileError
from inferlca.meters.replay import detect_format, import_trace
from inferlca.meters.walllog import parse_kwollect
from inferlca.traces.energy import energy_j
from inferlca.traces.scope import measurement_scope

LOGS = Path(__file__).parent / "fixtures" / "power-logs"


def record(t, value, device="taurus-7", metric="wattmetre_power_watt"):
    return {"timestamp": t, "device_id": device, "metric_id": metric, "value": value,
            "labels": {"_device_orig": ["wattmetre1-port6"]}}


def test_recorded_kwollect_record_is_read_and_one_record_is_not_enough():
    assert detect_format(LOGS / "kwollect_taurus7_single_record_1.json") == "kwollect"
    with pytest.raises(InputFileError, match="fewer than two records"):
        import_trace(LOGS / "kwollect_taurus7_single_record_1.json")
    rec = json.loads((LOGS / "kwollect_taurus7_single_record_1.json").read_text())[0]
    assert rec["value"] == 90.18


def test_kwollect_json_golden_energy_and_node_scope(tmp_path):
    p = tmp_path / "k.json"
    rows = [record("2025-07-22T13:05:25+02:00", 90.0), record("2025-07-22T13:05:26+02:00", 110.0),
            record("2025-07-22T13:05:27+02:00", 110.0),
            record("2025-07-22T13:05:26+02:00", 7.0, metric="prom_node_load_1")]
    p.write_text(json.dumps(rows))
    tr = import_trace(p)
    assert tr.meter == "replay:kwollect" and tr.meta["node"] == "taurus-7"
    assert energy_j(tr) == pytest.approx(100.0 + 110.0)  # trapezoids: (90+110)/2 + 110
    assert measurement_scope(tr) == "node"


def test_kwollect_csv_and_several_nodes(tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("timestamp,device_id,metric_id,value\n"
                 "1718892920.0,taurus-7,wattmetre_power_watt,131.7\n"
                 "1718892920.0,taurus-8,wattmetre_power_watt,99\n"
                 "1718892921.0,taurus-7,wattmetre_power_watt,131.7\n"
                 "1718892921.0,taurus-8,wattmetre_power_watt,101\n")
    with pytest.raises(InputFileError, match="several nodes.*--node"):
        import_trace(p)
    tr = import_trace(p, node="taurus-8")
    assert energy_j(tr) == pytest.approx(100.0)


def test_kwollect_unsorted_times_refused(tmp_path):
    p = tmp_path / "k.json"
    p.write_text(json.dumps([record(1718892921.0, 1.0), record(1718892920.0, 1.0)]))
    with pytest.raises(InputFileError, match="not in order.*record 2"):
        import_trace(p)
    with pytest.raises(InputFileError, match="no power metric"):
        parse_kwollect(json.dumps([record(1.0, 1.0, metric="prom_x")]))


def test_generic_csv_units_from_the_header_or_the_option(cli, tmp_path):
    p = tmp_path / "wall.csv"
    p.write_text("time;power (kW);note\n"
                 "2026-01-01T10:00:00;0.200;a\n2026-01-01T10:00:01;0.300;b\n"
                 "2026-01-01T10:00:03;;c\n2026-01-01T10:00:04;0.300;d\n")
    tr = import_trace(p, time_col="time", power_col="power (kW)")
    assert tr.channels["node"][0] == pytest.approx(200.0)
    assert len(tr.gaps) == 1  # the empty cell is a gap, never a zero
    r = cli("trace", "import", p, "--time-col", "time", "--power-col", "power (kW)", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["measurement_scope"] == "node"
    # 250 W for 1 s, then 300 W bridged over the gap for 3 s
    assert d["energy"]["energy_j"] == pytest.approx(250.0 + 900.0)
    ms = tmp_path / "ms.csv"
    ms.write_text("t_ms,watts\n0,50\n500,50\n1000,50\n")
    r = cli("trace", "import", ms, "--time-col", "t_ms", "--time-unit", "ms",
            "--power-col", "watts", "--power-unit", "W", "--json")
    assert r.code == 0 and json.loads(r.out)["energy"]["energy_j"] == pytest.approx(50.0)


def test_generic_csv_bad_input_exit_2_one_line(cli, tmp_path):
    p = tmp_path / "wall.csv"
    p.write_text("t,p\n0,10\n1,10\n")
    r = cli("trace", "import", p, "--time-col", "t", "--power-col", "p")
    assert r.code == 2 and "unknown units" in r.err and "--power-unit" in r.err
    r = cli("trace", "import", p, "--time-col", "t", "--power-col", "p", "--power-unit", "hp")
    assert r.code == 2 and "unknown power unit 'hp'" in r.err
    q = tmp_path / "unsorted.csv"
    q.write_text("t,p_w\n0,10\n2,10\n1,10\n")
    r = cli("trace", "import", q, "--time-col", "t", "--power-col", "p_w")
    assert r.code == 2 and "not in order" in r.err and "row 4" in r.err
    for res in (r,):
        assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
