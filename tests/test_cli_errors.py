"""The CLI's error boundary (``inferlca.cli._errors``) and escaped terminal text (issue 18)."""

from __future__ import annotations

import errno
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from inferlca.cli import run
from inferlca.cli._errors import classify, debug_wanted, one_line
from inferlca.text import escape_controls


@pytest.mark.parametrize("exc,code,words", [
    (FileNotFoundError(errno.ENOENT, "No such file", "/x/y.csv"), 2, ("/x/y.csv", "no such")),
    (PermissionError(errno.EACCES, "Permission denied", "/root/z"), 2, ("/root/z", "permission")),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"), 2, ("/tmp", "folder")),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/f/x"), 2, ("/f/x", "not a folder")),
    (OSError(errno.EROFS, "Read-only file system", "/ro/x"), 2, ("/ro/x", "read-only")),
    (OSError(errno.ENOSPC, "No space left", "/full/x"), 1, ("/full/x", "space")),
    (OSError(errno.EIO, "I/O error", "/dev/sdz"), 1, ("/dev/sdz", "input/output")),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2, ("UTF-8",)),
    (json.JSONDecodeError("Expecting value", "x", 0), 2, ("JSON", "line 1")),
    (sqlite3.DatabaseError("database disk image is malformed"), 2, ("damaged", "store repair")),
    (sqlite3.OperationalError("database is locked"), 1, ("locked",)),
    (ValueError("math domain error"), 2, ("math domain error",)),
    (OverflowError("int too large to convert"), 2, ("too large",)),
    (ZeroDivisionError("division by zero"), 2, ("division",)),
    (RecursionError("maximum recursion depth exceeded"), 2, ("nested too deeply",)),
    (MemoryError(), 1, ("out of memory",)),
    (AttributeError("'NoneType' object has no attribute 'x'"), 1, ("internal error", "report")),
])
def test_each_exception_class_has_an_exit_code_and_a_message(exc, code, words) -> None:
    got, message = classify(exc)
    assert got == code
    for w in words:
        assert w.lower() in message.lower(), message
    assert "\n" not in one_line(message)


def test_yaml_errors_are_bad_input() -> None:
    import yaml

    try:
        yaml.safe_load("a: [b")
    except yaml.YAMLError as exc:
        assert classify(exc)[0] == 2


def test_debug_flag_and_variable(monkeypatch) -> None:
    monkeypatch.delenv("INFERLCA_DEBUG", raising=False)
    assert debug_wanted(["--debug", "results"]) and not debug_wanted(["results", "x"])
    assert not debug_wanted(["results", "--debug"])  # an option of the command, not ours
    monkeypatch.setenv("INFERLCA_DEBUG", "1")
    assert debug_wanted(["results"])


def test_debug_prints_the_traceback_only_when_asked(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("INFERLCA_DEBUG", raising=False)
    missing = tmp_path / "none.db"
    assert run(["results", "--store", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "none.db" in err and err.count("\n") == 1
    assert run(["--debug", "results", "--store", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "none.db" in err


def test_control_characters_are_escaped() -> None:
    assert escape_controls("a\x1b[2Jb\x07c\u202ed") == "a\\x1b[2Jb\\x07c\\u202ed"
    assert escape_controls("two\nlines\t", keep_lines=True) == "two\nlines\t"
    assert escape_controls("two\nlines") == "two\\x0alines"
    assert escape_controls("plain é 😀") == "plain é 😀"


def test_hostile_labels_reach_terminals_and_html_escaped(tmp_path: Path, capsys) -> None:
    store = tmp_path / "h.db"
    label = "evil\x1b]0;pwned\x07\x1b[2J<script>alert(1)</script>"
    assert run(["run", "-w", "null", "-n", "2", "-r", "1", "--store", str(store), "--label",
                label, "--logs-dir", str(tmp_path / "logs")]) == 0
    capsys.readouterr()
    assert run(["results", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "\x1b]" not in out and "\x1b[2J" not in out
    with sqlite3.connect(store) as c:
        rid = c.execute("SELECT run_id FROM runs").fetchone()[0]
    assert run(["results", "show", rid[:8], "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b]0;pwned\\x07" in out
    assert run(["report", "--store", str(store), "--out", str(tmp_path / "rep")]) == 0
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "\x1b" not in html and "<script>alert" not in html
    assert "evil\\x1b]0;pwned" in html


def test_million_cell_plan_is_refused_quickly(tmp_path: Path, capsys) -> None:
    camp = tmp_path / "big.yaml"
    camp.write_text('grid:\n  workloads: ["null"]\n  queries: ['
                    + ", ".join(str(i) for i in range(1, 1001)) + "]\n  seed: ["
                    + ", ".join(str(i) for i in range(1000)) + "]\n")
    assert run(["campaign", "plan", str(camp)]) == 2
    err = capsys.readouterr().err
    assert "1,000,000 cells" in err and "10,000" in err


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc")
def test_store_backup_is_a_consistent_copy(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.db"
    assert run(["run", "-w", "null", "-n", "2", "-r", "2", "--store", str(store), "--logs-dir",
                str(tmp_path / "logs")]) == 0
    assert run(["store", "backup", str(tmp_path / "b.db"), "--store", str(store), "--json"]) == 0
    capsys.readouterr()
    assert run(["results", "--store", str(tmp_path / "b.db"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    runs = d["runs"] if isinstance(d, dict) else d
    assert len(runs) == 1 and runs[0]["status"] == "complete"


@pytest.mark.parametrize("args", [["hardware", "list"], ["grid", "list"]])
def test_a_reader_that_closes_the_pipe_is_not_an_error(args) -> None:
    """`inferlca hardware list | head -1`: the reader leaving early is not reported as "Broken
    pipe; check the file system"; the exit code is the shell's for a closed pipe (141) on our own
    paths, click's 1 on its own; nothing on stderr either way."""
    import os
    import subprocess

    from subproc import subprocess_env

    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    proc = subprocess.run([sys.executable, "-m", "inferlca", *args], check=False, stdout=write,
                          stderr=subprocess.PIPE, env=subprocess_env(), timeout=120)
    os.close(write)
    assert proc.returncode in (141, 1) and proc.stderr == b""
