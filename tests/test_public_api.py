"""The curated public API resolves every name it lists, lazily, and stays light to import."""

import os
import subprocess
import sys
from pathlib import Path

import inferlca

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_public_name_resolves():
    for name in inferlca.__all__:
        assert getattr(inferlca, name) is not None, name


def test_import_is_light():
    code = ("import sys, inferlca; heavy = [m for m in ('torch', 'transformers', 'matplotlib', "
            "'mlperf_loadgen', 'ray') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)}, check=True).stdout.strip()
    assert out == ""


def test_worked_example_through_the_public_api():
    # AGX Orin 64 GB, edge: PUE 1.0; France 79.1 g/kWh. 3600 J = 0.001 kWh -> use = 0.0791 g.
    dev = inferlca.get_catalog().get("AGX Orin 64GB")
    ctx = inferlca.ImpactContext.resolve(dev, region="FR")
    impact = inferlca.compute_impact(energy_j=3600.0, duration_s=60.0, ctx=ctx, queries=16)
    assert abs(impact.to_dict()["use_gco2e"]["value"] - 0.0791) < 1e-9
