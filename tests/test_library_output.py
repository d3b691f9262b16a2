"""The library writes no text of its own (issue 19 part 5): no ``print()`` outside the CLI; it
logs to the ``inferlca`` logger and warns through ``warnings``. (Writing JSON to stdout when the
caller asks for ``out="-"`` and the campaign's rich progress object, which the CLI hands in, are
outputs asked for, not prints.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "inferlca"


def test_no_print_calls_in_library_code():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("cli", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "print":
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_cli_verbosity_sets_the_library_logger(capsys):
    import logging

    from inferlca.cli import run as cli

    log = logging.getLogger("inferlca")
    assert cli(["-vv", "grid", "show", "FR"]) == 0
    assert log.level == logging.DEBUG
    assert cli(["--quiet", "grid", "show", "FR"]) == 0
    assert log.level == logging.ERROR
    assert cli(["grid", "show", "FR"]) == 0
    assert log.level == logging.WARNING
    capsys.readouterr()
