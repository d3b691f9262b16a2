"""Acceptance review of the life-cycle core from the command line (issue 2) and its regressions.

A worked example of `inferlca impact` computed by hand, end to end through the CLI, with interval
inputs; NVML and /proc/cpuinfo names; the device list readable in an 80-column terminal; bad input.
"""

from __future__ import annotations

import pytest

YEAR_S = 365.25 * 86400  # 31,557,600 s


def test_impact_golden_h100_one_hour_with_interval_inputs(cli):
    """H100 SXM5, 10 Wh in one hour, 100 queries, France, PUE 1.1..1.6, lifetime 4..7 years.

    Device footprint F (per-GB memory method), from the catalog and factor files:
      die 814 mm2 = 8.14 cm2; I_proc(5 nm) = mean of five sources
        act 2.778, imec 1.54, eco-chip 2.613 (nearest node 7 nm), llmcarbon 1.7333
        (4 nm 1.8 -> 7 nm 1.6, linear: 1.8 - 0.2 / 3), uba 1.97
        = 10.6343 / 5 = 2.12687 kgCO2e/cm2 -> F_proc = 8.14 x 2.12687 = 17.3127 kg
      memory 80 GB x 0.28 kg/GB (HBM2e row of the study, used for HBM3) = 22.4 kg
      F = 39.7127 kg = 39,712.7 g; low 8.14 x 1.54 + 80 x 0.065 = 17.7356 kg
    Use phase: 0.01 kWh x 79.1 g/kWh x PUE.
      PUE 1.1..1.6 -> nominal the midpoint 1.35: 0.01 x 79.1 x 1.35 = 1.067850 g
      low 0.01 x 44.18 x 1.1 = 0.485980 g; high 0.01 x 80.08 x 1.6 = 1.281280 g
    Allocation a = 3600 s / lifetime; lifetime 4..7 y -> nominal 5.5 y:
      a = 3600 / (5.5 x 31,557,600) = 2.074129e-5; low end from 7 y: 1.629673e-5;
      high end from 4 y: 2.851928e-5
    Embodied = a x F = 2.074129e-5 x 39,712.69 = 0.823693 g (low 1.629673e-5 x 17,735.6 =
      0.289032 g)
    Total = 1.067850 + 0.823693 = 1.891543 g; per query / 100 = 0.01891543 g.
    """
    r = cli("impact", "--device", "NVIDIA H100 80GB HBM3", "--energy-wh", "10", "--duration-s",
            "3600", "--queries", "100", "--region", "FRA", "--pue", "1.1..1.6",
            "--lifetime-years", "4..7", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["device_embodied_kgco2e"]["value"] == pytest.approx(8.14 * 10.6343 / 5 + 22.4,
                                                                 rel=1e-4)
    assert d["device_embodied_kgco2e"]["low"] == pytest.approx(8.14 * 1.54 + 80 * 0.065)
    assert d["pue"] == pytest.approx({"value": 1.35, "low": 1.1, "high": 1.6})
    assert d["lifetime_years"] == pytest.approx({"value": 5.5, "low": 4.0, "high": 7.0})
    assert d["use_gco2e"] == pytest.approx({"value": 1.06785, "low": 0.48598, "high": 1.28128})
    assert d["allocation"]["value"] == pytest.approx(3600 / (5.5 * YEAR_S))
    assert d["allocation"]["low"] == pytest.approx(3600 / (7 * YEAR_S))
    assert d["allocation"]["high"] == pytest.approx(3600 / (4 * YEAR_S))
    assert d["embodied_gco2e"]["value"] == pytest.approx(0.823693, rel=1e-5)
    assert d["embodied_gco2e"]["low"] == pytest.approx(0.289032, rel=1e-5)
    assert d["total_gco2e"]["value"] == pytest.approx(1.891543, rel=1e-5)
    assert d["per_query_gco2e"]["value"] == pytest.approx(0.01891543, rel=1e-5)
    assert d["energy_kwh"]["value"] == pytest.approx(0.01)
    assert d["grid_gco2e_per_kwh"]["value"] == 79.1


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


def test_grid_list_one_line_per_region_in_80_columns(cli_subprocess):
    """Regression: the folded source column took four to six lines per country."""
    p = cli_subprocess("grid", "list", COLUMNS="80")
    assert p.code == 0, p.err
    lines = p.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = [line.split() for line in lines if line.split() and len(line.split()[0]) == 2
            and line.split()[0].isupper()]
    assert len(rows) >= 60
    fr = next(r for r in rows if r[0] == "FR")
    assert fr[1:7] == ["FRA", "France", "79.1", "[44.2", "-", "80.1]"]
