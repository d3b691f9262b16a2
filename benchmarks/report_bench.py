"""Report speed: where `inferlca report` spends its time, and what reusing the layout saves.

Builds the sample store (tests/fixtures/report), then

1. draws the full report once and prints the time of each step (figures dominate: matplotlib's
   constrained layout and rasterising);
2. saves the biggest figure (the power profiles grid) as PNG + SVG in two ways side by side, the
   layout solved again for the SVG versus reused from the PNG (what ``plots.save`` does), and
   prints the ratio.

Run on demand::

    python benchmarks/report_bench.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from inferlca.report import plots
from inferlca.report.data import device_order, load_runs
from inferlca.report.html import build_report
from inferlca.store.sqlite import Store


def _builder():  # type: ignore[no-untyped-def]
    path = ROOT / "tests" / "fixtures" / "report" / "build_sample_store.py"
    spec = importlib.util.spec_from_file_location("report_sample_store_builder", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = mod  # type: ignore[union-attr]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.db"
        t0 = time.perf_counter()
        _builder().build(db)
        print(f"sample store built in {time.perf_counter() - t0:.2f} s")
        with Store.open_readonly(db) as st:
            runs = load_runs(st)
            marks: list[tuple[str, float]] = []
            t0 = time.perf_counter()
            build_report(st, runs, Path(tmp) / "out",
                         progress=lambda m: marks.append((m, time.perf_counter())))
            total = time.perf_counter() - t0
            print(f"\nfull report of {len(runs)} runs: {total:.2f} s")
            ends = [t for _, t in marks[1:]] + [t0 + total]
            for (name, start), end in zip(marks, ends):
                print(f"  {name:<45} {end - start:6.2f} s")

            bert = [v for v in runs if v.workload == "bert-large-squad"]
            profiles = plots.power_profiles(bert, st.load_trace)
            resolved, reused = [], []
            for _ in range(3):
                fig = plots.power_profiles_figure(profiles, device_order(bert))
                t = time.perf_counter()
                fig.savefig(Path(tmp) / "a.png")
                fig.savefig(Path(tmp) / "a.svg")
                resolved.append(time.perf_counter() - t)
                fig = plots.power_profiles_figure(profiles, device_order(bert))
                t = time.perf_counter()
                plots.save(fig, Path(tmp), "b")
                reused.append(time.perf_counter() - t)
            a, b = min(resolved), min(reused)
            print(f"\npower profiles PNG + SVG (best of 3): layout solved twice {a:.2f} s, "
                  f"reused {b:.2f} s, ratio {a / b:.2f}x")


if __name__ == "__main__":
    main()
