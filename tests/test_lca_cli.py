"""The hardware, grid, embodied and impact commands: JSON contracts, devices found by their NVML
and /proc/cpuinfo names, lists readable in 80 columns, and bad input (exit 2)."""

from __future__ import annotations

import pytest

YEAR_S = 365.25 * 86400


def test_hardware_list_and_show(cli):
    r = cli("hardware", "list", "--json")
    assert r.code == 0
    devices = r.json()
    assert len(devices) >= 30 and {"id", "peak_flops", "sources"} <= set(devices[0])
    r = cli("hardware", "list", "--category", "edge", "--json")
    assert r.code == 0 and all(d["category"] == "edge" for d in r.json())
    r = cli("hardware", "list")
    assert r.code == 0 and "h100-sxm5-80gb" in r.out
    r = cli("hardware", "show", "NVIDIA A100-SXM4-40GB", "--json")
    assert r.code == 0 and r.json()["id"] == "a100-sxm4-40gb"
    assert r.json()["node_factor_sources"]["low"]["source"] == "imec"
    r = cli("hardware", "show", "h100")
    assert r.code == 0 and "TechPowerUp" in r.out


def test_hardware_detect(cli):
    r = cli("hardware", "detect", "--json")
    assert r.code == 0 and r.json()["name"]


def test_grid_commands(cli):
    r = cli("grid", "list", "--json")
    assert r.code == 0 and len(r.json()) >= 61
    r = cli("grid", "show", "FRA", "--json")
    assert r.code == 0
    d = r.json()
    assert d["region"] == "FR" and d["gco2e_per_kwh"]["value"] == 79.1
    r = cli("grid", "show", "france")
    assert r.code == 0 and "79.1" in r.out


def test_embodied_json_contract(cli):
    r = cli("embodied", "h100", "--json")
    assert r.code == 0
    d = r.json()
    for k in ("embodied_kgco2e", "processor_kgco2e", "memory_kgco2e"):
        assert set(d[k]) == {"value", "low", "high"}
    assert d["sources"] and d["memory_method"] == "per-gb"
    area = cli("embodied", "h100", "--memory-method", "area", "--json").json()
    assert area["memory_kgco2e"]["value"] > d["memory_kgco2e"]["value"]
    r = cli("embodied", "jetson-agx-orin-64gb")
    assert r.code == 0 and "kgCO2e" in r.out and "warning" in r.err


def test_impact_json_contract_and_values(cli):
    r = cli("impact", "--device", "h100", "--energy-wh", "10", "--duration-s", "100",
            "--queries", "16", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert list(d) == ["scope", "use_gco2e", "embodied_gco2e", "total_gco2e", "per_query_gco2e",
                       "allocation", "device_embodied_kgco2e", "energy_kwh",
                       "grid_gco2e_per_kwh", "pue", "lifetime_years", "sources", "region",
                       "grid_year"]
    assert (d["region"], d["grid_year"]) == ("FR", None)
    # 10 Wh = 0.01 kWh; use = 0.01 x 79.1 x 1.5 = 1.1865 g
    assert d["use_gco2e"]["value"] == pytest.approx(1.1865)
    assert d["allocation"]["value"] == pytest.approx(100 / (7 * YEAR_S))
    assert d["grid_gco2e_per_kwh"]["value"] == 79.1 and d["pue"]["value"] == 1.5


def test_impact_custom_grid_pue_lifetime(cli):
    r = cli("impact", "--device", "t4", "--energy-wh", "2", "--duration-s", "10", "--grid", "300",
            "--pue", "1.2", "--lifetime-years", "4..6", "--json")
    assert r.code == 0, r.err
    d = r.json()
    # use = 0.002 kWh x 300 x 1.2 = 0.72 g, exact inputs
    assert d["use_gco2e"] == pytest.approx({"value": 0.72, "low": 0.72, "high": 0.72})
    assert d["lifetime_years"] == {"value": 5.0, "low": 4.0, "high": 6.0}


def test_impact_table_shows_the_computation(cli):
    r = cli("impact", "--device", "a100", "--energy-wh", "5", "--duration-s", "30",
            "--queries", "8", "--region", "DE")
    assert r.code == 0
    for word in ("C x EGM x PUE", "a(t) x F", "use + embodied", "per query", "Germany"):
        assert word in r.out


@pytest.mark.parametrize("args,fragment", [
    (["hardware", "show", "h10"], "did you mean"),
    (["grid", "show", "Frnace"], "did you mean"),
    (["embodied", "b200"], "die area"),
    (["embodied", "h100", "--memory-method", "volume"], "per-gb"),
    (["impact", "--device", "nope", "--energy-wh", "1", "--duration-s", "1"], "unknown device"),
    (["impact", "--device", "t4", "--energy-wh", "0", "--duration-s", "1"], "--energy-wh"),
    (["impact", "--device", "t4", "--energy-wh", "-3", "--duration-s", "1"], "--energy-wh"),
    (["impact", "--device", "t4", "--energy-wh", "nan", "--duration-s", "1"], "--energy-wh"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "0"], "--duration-s"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "nan"], "--duration-s"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "1", "--pue", "0.8"],
     "--pue"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "1",
      "--lifetime-years", "7..4"], "inverted"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "1",
      "--lifetime-years", "0"], "--lifetime-years"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "1", "--region", "FR",
      "--grid", "50"], "either --region or --grid"),
    (["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "1", "--queries", "0"],
     "--queries"),
])
def test_bad_input_exits_2_with_one_line(cli, args, fragment):
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in r.err


def test_impact_in_a_subprocess(cli_subprocess):
    r = cli_subprocess("impact", "--device", "jetson-agx-orin-64gb", "--energy-wh", "0.2",
                       "--duration-s", "20", "--queries", "16", "--json", timeout=120)
    assert r.code == 0, r.err
    assert r.json()["pue"]["value"] == 1.0


def test_embodied_node_source_and_packaging(cli):
    low = cli("embodied", "h100", "--node-source", "low", "--json").json()
    high = cli("embodied", "h100", "--node-source", "high", "--json").json()
    # 8.14 cm2 x 1.54 (imec) and x 2.778 (act) kgCO2e/cm2, exact
    assert low["processor_kgco2e"]["value"] == pytest.approx(8.14 * 1.54)
    assert high["processor_kgco2e"]["value"] == pytest.approx(8.14 * 2.778)
    assert low["node_source"] == "low"
    pk = cli("embodied", "h100", "--packaging", "--json").json()
    assert pk["packaging_kgco2e"]["value"] == pytest.approx(0.15)
    r = cli("embodied", "h100", "--node-source", "nowhere")
    assert r.code == 2 and "accepted" in r.err


def test_impact_energy_interval(cli):
    d = cli("impact", "--device", "l4", "--energy-wh", "10..20", "--duration-s", "60", "--grid",
            "100", "--json").json()
    # 10..20 Wh (nominal 15) x 100 g/kWh x PUE 1.5 [1.08 - 1.58]
    assert d["energy_kwh"] == pytest.approx({"value": 0.015, "low": 0.01, "high": 0.02})
    assert d["use_gco2e"] == pytest.approx({"value": 2.25, "low": 1.08, "high": 3.16})


def test_show_device_without_die_area_and_cpu(cli):
    r = cli("hardware", "show", "b200")
    assert r.code == 0 and "NOT published" in r.out
    r = cli("embodied", "epyc-9654")
    assert r.code == 0 and "none of its own" in r.out


def test_embodied_all_devices(cli):
    r = cli("embodied", "--all", "--category", "edge", "--json")
    assert r.code == 0
    rows = r.json()
    assert {row["device"] for row in rows} >= {"jetson-agx-orin-64gb", "jetson-agx-xavier-16gb"}
    orin = next(row for row in rows if row["device"] == "jetson-agx-orin-64gb")
    single = cli("embodied", "jetson-agx-orin-64gb", "--json").json()
    assert orin["per_gb"]["embodied_kgco2e"] == single["embodied_kgco2e"]
    r = cli("embodied", "--all", "--json")
    b200 = next(row for row in r.json() if row["device"] == "b200")
    assert b200["per_gb"] is None and "die area" in b200["unavailable"]
    r = cli("embodied", "--all")
    assert r.code == 0 and "unavailable" in r.out
    assert cli("embodied").code == 2
    assert cli("embodied", "h100", "--all").code == 2


@pytest.mark.parametrize("name,device_id", [
    ("NVIDIA H100 80GB HBM3", "h100-sxm5-80gb"),      # NVML, SXM5
    ("NVIDIA H100 PCIe", "h100-pcie-80gb"),
    ("NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb"),
    ("NVIDIA A100-PCIE-40GB", "a100-pcie-40gb"),
    ("Tesla T4", "t4"),
    ("Tesla V100-SXM2-32GB", "v100-sxm2-32gb"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("NVIDIA GeForce GTX 1080 Ti", "gtx-1080-ti"),
    ("NVIDIA L40S", "l40s"),
    ("Intel(R) Xeon(R) Platinum 8480+", "xeon-platinum-8480plus"),   # /proc/cpuinfo
    ("AMD EPYC 9654 96-Core Processor", "epyc-9654"),
    ("AMD Ryzen 9 7950X 16-Core Processor", "ryzen-9-7950x"),
    ("13th Gen Intel(R) Core(TM) i9-13900K", "core-i9-13900k"),
])
def test_show_by_nvml_and_cpuinfo_names(cli, name, device_id):
    r = cli("hardware", "show", name, "--json")
    assert r.code == 0, r.err
    assert r.json()["id"] == device_id


def test_hardware_list_readable_in_80_columns(cli_subprocess):
    """Regression: at 80 columns ten folded columns broke every value over several lines
    ("NVI / DIA / A10 / 0"), unreadable. Now one line per device, values whole."""
    p = cli_subprocess("hardware", "list", COLUMNS="80")
    assert p.code == 0, p.err
    lines = p.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = {line.split()[0]: line.split() for line in lines if line.split()
            and line.split()[0] in ("h100-sxm5-80gb", "jetson-orin-nano-super-8gb", "epyc-9654")}
    assert len(rows) == 3
    # id, category, node nm, die mm2, memory GB and type, TDP W, fp32, fp16 (dense TFLOP/s)
    assert rows["h100-sxm5-80gb"] == ["h100-sxm5-80gb", "datacenter", "5", "814", "80", "HBM3",
                                      "700", "66.9", "989.4"]
    assert rows["jetson-orin-nano-super-8gb"][1:7] == ["edge", "8", "377", "8", "LPDDR5", "25"]
    assert rows["epyc-9654"][1:5] == ["datacenter", "5", "1249", "-"]


def test_wide_hardware_list_has_names_and_years(cli_subprocess):
    p = cli_subprocess("hardware", "list", COLUMNS="160")
    assert p.code == 0, p.err
    line = next(x for x in p.out.splitlines() if x.strip().startswith("h100-sxm5-80gb"))
    assert "NVIDIA H100 SXM5 80GB" in line and "2022" in line and "989.4" in line


@pytest.mark.parametrize("args,fragment", [
    (["--grid", "nan"], "--grid: 'nan' is not a finite number; accepted"),
    (["--grid", "80..50"], "--grid: inverted interval"),
    (["--pue", "1.6..1.1"], "inverted interval"),
    (["--lifetime-years", "7..4"], "write it low..high, e.g. 4..7"),
])
def test_bad_intervals_one_line_exit_2(cli, args, fragment):
    r = cli("impact", "--device", "h100", "--energy-wh", "1", "--duration-s", "10", *args)
    assert r.code == 2
    errors = [x for x in r.err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0] and "Traceback" not in r.err


@pytest.mark.parametrize("args, flag", [
    (["--lifetime-years", "1e-300"], "--lifetime-years"),
    (["--lifetime-years", "500"], "--lifetime-years"),
    (["--pue", "11"], "--pue"),
    (["--grid", "1e9"], "--grid"),
])
def test_impact_refuses_implausible_parameters(args, flag, capsys):
    from inferlca.cli import run

    code = run(["impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", *args])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and "a typo?" in err and "Traceback" not in err
