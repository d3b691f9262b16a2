"""The import structure of the package: layers import downwards only, and no files import each
other (directly or round a longer circle).

Every ``import`` / ``from ... import`` statement of every module under ``src/inferlca`` counts,
wherever it stands: module level, inside functions, under ``if TYPE_CHECKING:``; relative
imports are resolved against the importing module's package. ``from pkg import name`` is an edge
to the submodule ``pkg.name`` when that is a module, else to ``pkg``. The implicit import of parent
packages (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``) is not an edge; string
imports (``importlib.import_module``) are not seen. The layer order is the one in
``docs/CONTRACTS.md`` (section "Layers").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "inferlca"

#: layer rank of each top-level part of the package; a module may import modules of its own
#: rank or below. Parts that share a rank (``uncertainty``/``units``/...) may import each other
#: as long as no circle forms (checked separately).
LAYERS: dict[str, int] = {
    "__main__": 100, "cli": 100,
    "campaign": 90,
    "report": 80,
    "loadgen": 70,          # loadgen may import workloads, not the reverse
    "workloads": 65,
    "estimate": 60,
    "tracker": 56,          # track(): composes meters, lca, store; imported by cli and the root only
    "spec": 55,             # the run specification: its validate() reads lca bounds/grid and meter names
    "store": 50,
    "meters": 45,           # meters may import traces, not the reverse
    "traces": 40,
    "lca": 30,
    "hardware": 20,
    # the foundation: the package root (``__version__`` and the lazy public API, whose names
    # are strings imported on first use), statistics, units
    "": 10, "settings": 10, "stats": 10, "uncertainty": 10, "units": 10, "errors": 10, "inputs": 10,
    "text": 10, "signals": 10,
}

def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    mods: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, is_pkg)
    return mods


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom,
             mods: dict[str, tuple[Path, bool]]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = module.split(".") if is_pkg else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        candidates = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                      for a in node.names]
    for name in candidates:
        while name and name not in mods:  # `import inferlca.x.y as z`, attribute imports
            name = name.rpartition(".")[0]
        if name and name != module and (name == PACKAGE or name.startswith(PACKAGE + ".")):
            yield name


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, over every import statement of the file."""
    mods = _modules()
    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for module, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, is_pkg, node, mods):
                    graph[module].setdefault(target, node.lineno)
    return graph


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(graph: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    bad = []
    for module, targets in graph.items():
        for target, line in targets.items():
            if LAYERS[layer_of(target)] > LAYERS[layer_of(module)]:
                bad.append((module, target, line))
    return sorted(bad)


def circles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root, targets in graph.items():
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(targets))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(frozenset(comp))
    return found


def test_every_part_of_the_package_has_a_layer():
    parts = {layer_of(m) for m in _modules()}
    assert parts <= set(LAYERS), f"give these a layer in LAYERS and docs/CONTRACTS.md: {parts - set(LAYERS)}"


def test_no_import_runs_up_the_layers():
    bad = upward_imports(import_graph())
    assert not bad, "imports running up the layers:\n" + "\n".join(
        f"  {m} (line {ln}) imports {t}: {layer_of(m) or PACKAGE} is below {layer_of(t)}"
        for m, t, ln in bad)


def test_no_files_import_each_other():
    found = circles(import_graph())
    assert not found, "circles of imports between files:\n" + "\n".join(
        "  " + " <-> ".join(sorted(c)) for c in found)


# --- the analysis itself finds what it must (on small made-up graphs and sources) -------------

def test_circles_finds_a_long_circle_and_ignores_a_diamond():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {},
             "x": {"y": 1, "z": 1}, "y": {"w": 1}, "z": {"w": 1}, "w": {}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert circles({"p": {"q": 1}, "q": {"p": 1}}) == [frozenset({"p", "q"})]


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    mods = {"inferlca.traces.energy": (Path("e.py"), False), "inferlca.traces": (Path(), True),
            "inferlca.cli.measure": (Path("m.py"), False), "inferlca.traces.io": (Path(), False)}
    src = ("def f():\n    from ..cli import measure\n    from . import io\n"
           "    import inferlca.cli.measure as m\n")
    found = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= set(_targets("inferlca.traces.energy", False, node, mods))
    assert found == {"inferlca.cli.measure", "inferlca.traces.io"}
    graph = {"inferlca.traces.energy": {"inferlca.cli.measure": 2},
             "inferlca.cli.measure": {}}
    assert upward_imports(graph) == [("inferlca.traces.energy", "inferlca.cli.measure", 2)]
