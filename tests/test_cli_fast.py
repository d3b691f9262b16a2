"""The command line answers at once: `--version`, `--help` and the catalog commands import neither
the store nor numpy, torch, matplotlib, pyarrow, LoadGen, jinja2 or NVML.

Each case starts a fresh interpreter with ``-X importtime`` and reads which modules it imported;
wall time is measured in benchmarks/bench_harness.py, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inferlca import cli

SRC = str(Path(__file__).resolve().parents[1] / "src")

HEAVY = ("matplotlib", "pyarrow", "torch", "numpy", "mlperf_loadgen", "jinja2", "pynvml",
         "pandas", "scipy", "transformers", "inferlca.store", "sqlite3")


def imported_modules(*args: str, **extra_env: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **extra_env}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "inferlca", *args],
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "inferlca" in names  # the parse worked: the package itself is listed
    return names


def heavy_in(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [
    ("--version",),
    ("--help",),
    ("hardware", "list"),
    ("hardware", "show", "AGX Orin"),
    ("grid", "list"),
    ("embodied", "--help"),
    ("impact", "--help"),
    ("results", "--help"),
    ("export", "--help"),
])
def test_light_commands_import_no_heavy_module(args):
    assert heavy_in(imported_modules(*args)) == []


def test_version_imports_no_typer_and_no_command_module():
    names = imported_modules("--version")
    assert not any(n == "typer" or n.startswith("typer.") for n in names)
    assert not any(n.startswith("inferlca.cli.") for n in names)


def test_detector_sees_a_heavy_import():
    # the check can fail: importing the store does bring numpy and sqlite3 in
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import inferlca.store.sqlite"],
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    names = {ln.rsplit("|", 1)[1].strip() for ln in proc.stderr.splitlines() if "|" in ln}
    assert {"numpy", "sqlite3", "inferlca.store.sqlite"} <= set(heavy_in(names))


def test_command_table_matches_what_the_modules_register():
    import typer

    registered: dict[str, str] = {}
    for name in cli.command_modules():
        module = __import__(f"inferlca.cli.{name}", fromlist=["register"])
        if not hasattr(module, "register"):
            continue
        app = typer.Typer()
        module.register(app)
        cmds = [c.name or c.callback.__name__ for c in app.registered_commands]
        cmds += [g.name for g in app.registered_groups]
        assert cmds, f"cli/{name}.py registers no command"
        for c in cmds:
            registered[c] = name
    assert registered == cli.COMMAND_MODULES


def test_modules_for_a_command_line():
    assert cli._modules_for(["--version"]) == []
    assert cli._modules_for(["hardware", "list", "--json"]) == ["hardware"]
    assert cli._modules_for(["run", "--workload", "null"]) == ["run_command"]
    assert cli._modules_for(["--help"]) is None  # help lists every command
    assert cli._modules_for(["--version", "--help"]) is None
    assert cli._modules_for(["--help", "grid"]) is None  # still the root's help
    assert cli._modules_for(["grid", "--help"]) == ["grid"]
    assert cli._modules_for(["hardwre"]) is None  # unknown: click suggests among all


def test_unknown_command_is_exit_2():
    from inferlca.cli import run

    assert run(["hardwre"]) == 2


def _out(args: list[str], via_typer: bool, **env: str) -> subprocess.CompletedProcess[str]:
    """``inferlca ARGS`` as a process (the fast path allowed) or through :func:`cli.run` with an
    explicit argument list (always the typer command)."""
    full = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
    if "FORCE_COLOR" not in env:
        full.pop("FORCE_COLOR", None)
    code = "import sys; from inferlca.cli import run; sys.exit(run(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code] if via_typer else [sys.executable, "-m", "inferlca"]
    return subprocess.run([*cmd, *args], check=False, capture_output=True, text=True, env=full,
                          timeout=120)


@pytest.mark.parametrize("args", [
    ["hardware", "list"],
    ["hardware", "list", "--json"],
    ["hardware", "list", "--category", "edge"],
    ["hardware", "list", "--kind=cpu", "--json"],
    ["hardware", "list", "--category", "toaster"],  # an error: typer's own words
    ["hardware", "list", "--nope"],
    ["hardware", "list", "--help"],
])
@pytest.mark.parametrize("env", [{"COLUMNS": "80"}, {"COLUMNS": "160"},
                                 {"COLUMNS": "100", "FORCE_COLOR": "1"}])  # as to a terminal
def test_fast_hardware_list_writes_what_the_typer_command_writes(args, env):
    fast, slow = _out(args, False, **env), _out(args, True, **env)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout,
                                                           slow.stderr)
    if args[-1] in ("toaster", "--nope"):
        assert fast.returncode == 2 and fast.stderr
    else:
        assert fast.returncode == 0 and fast.stdout


def test_hardware_list_imports_neither_typer_nor_rich():
    for args, env in ((("hardware", "list"), {}), (("hardware", "list", "--json"), {}),
                      (("hardware", "list"), {"FORCE_COLOR": "1"})):
        names = imported_modules(*args, **env)
        light = {"typer", "rich", "click", "pydantic"}
        assert not {n.split(".")[0] for n in names} & light, args
    # the check can fail: help is typer's
    assert "typer" in imported_modules("hardware", "list", "--help")
