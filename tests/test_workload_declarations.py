"""Workloads declare what they are; LoadGen's layer builds the SUT from that (no workload imports
``inferlca.loadgen``), and the runner's hooks have documented defaults on BaseWorkload."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

import inferlca.workloads
from inferlca.loadgen.harness import make_sut
from inferlca.spec import RunSpec
from inferlca.workloads.base import BaseWorkload, TokenEngine, Workload
from inferlca.workloads.null import NullWorkload

WORKLOADS_DIR = Path(inferlca.workloads.__file__).parent


def _imported_modules(path: Path, src_root: Path) -> list[tuple[int, str]]:
    """Every module a file under ``src_root`` imports, at module level or inside functions
    (relative imports resolved), plus ``importlib.import_module("...")`` with a literal name."""
    package = ".".join(path.relative_to(src_root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_the_import_scan_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "inferlca" / "workloads" / "x"
    pkg.mkdir(parents=True)
    f = pkg / "m.py"
    f.write_text("import inferlca.loadgen.sut\n"
                 "def g():\n    from inferlca.loadgen import runner\n"
                 "    from ...loadgen.logs import read_detail\n"
                 "    import importlib\n    importlib.import_module('inferlca.loadgen.harness')\n")
    names = [m for _, m in _imported_modules(f, tmp_path)]
    assert "inferlca.loadgen.sut" in names and "inferlca.loadgen.runner" in names
    assert "inferlca.loadgen.logs.read_detail" in names
    assert "inferlca.loadgen.harness" in names


def test_no_workload_module_imports_loadgen():
    files = sorted(WORKLOADS_DIR.rglob("*.py"))
    assert any(f.parent.name == "llm" for f in files)  # the scan reaches the subpackages
    offending = [f"{f.relative_to(WORKLOADS_DIR)}:{line} imports {name}"
                 for f in files for line, name in _imported_modules(f, WORKLOADS_DIR.parents[1])
                 if name == "inferlca.loadgen" or name.startswith("inferlca.loadgen.")]
    assert offending == []


def test_base_workload_hooks_have_neutral_defaults():
    w = NullWorkload(RunSpec(workload="null"))
    assert isinstance(w, Workload) and isinstance(w, BaseWorkload)
    assert not w.streaming and not w.streams_tokens and w.performance_sample_count is None
    assert w.prepare_s == {} and w.loadgen_settings("server") == {}
    assert w.repetition_metrics(None, {"energy_total_j": 5.0}) == {}
    assert w.repetition_impact({"total_gco2e": {"value": 1.0}}, {}) == {}
    assert w.run_arrived([3, 7], arrival_s=0.0) == [3, 7]  # default: run them now
    assert not isinstance(w, TokenEngine)


def test_loadgen_builds_the_plain_sut_for_a_plain_workload():
    pytest.importorskip("mlperf_loadgen")
    from inferlca.loadgen.sut import WorkloadSUT

    sut = make_sut(NullWorkload(RunSpec(workload="null")), "single-stream", batch_size=2,
                   stop=threading.Event())
    try:
        assert isinstance(sut, WorkloadSUT) and sut.batch_size == 2
    finally:
        sut.close()


def test_a_token_declaration_without_the_engine_calls_is_refused():
    class Pretender(NullWorkload):
        streams_tokens = True

    with pytest.raises(TypeError, match="declares streams_tokens"):
        make_sut(Pretender(RunSpec(workload="null")), "server")
