"""Bad input, table-driven, over every command of the CLI (issue 18).

Each row is a command line a careless or hostile user could type. For every row: the exit code is
2 (bad input) or 1 (a documented environment failure), the output holds no Python traceback, the
message names the culprit (the file, the value or the flag), and the shared store ``good.db`` is
byte for byte unchanged. Commands are enumerated from the typer app: a new command without rows
here fails :func:`test_every_command_has_rows`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferlca.cli import run

# --- the world the rows run in -------------------------------------------------------------------

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J<script>alert(1)</script>\u202e"


def _commands() -> list[str]:
    """Every command path of the app (``campaign plan``), groups that run as commands included."""
    import typer

    from inferlca.cli import _load_commands, app

    _load_commands()
    out: list[str] = []

    def walk(cmd, path: list[str]) -> None:  # type: ignore[no-untyped-def]
        if hasattr(cmd, "commands"):
            if path and getattr(cmd, "invoke_without_command", False):
                out.append(" ".join(path))
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            out.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return out


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in (path, Path(f"{path}-wal")):
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("bad")
    good = d / "good.db"
    assert run(["run", "-w", "null", "-n", "4", "-r", "1", "--store", str(good), "--logs-dir",
                str(d / "logs"), "--label", HOSTILE, "--json"]) == 0
    con = sqlite3.connect(good)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    run_id = con.execute("SELECT run_id FROM runs").fetchone()[0]
    con.close()
    w: dict[str, Path] = {"dir": d, "good": good}
    os.environ["INFERLCA_TEST_RUN_ID"] = run_id

    def damaged(name: str, sql: str | None = None, garbage: bool = False) -> Path:
        p = d / f"{name}.db"
        shutil.copy(good, p)
        if sql:
            c = sqlite3.connect(p)
            c.executescript(sql)
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            c.close()
        if garbage:
            size = p.stat().st_size
            with open(p, "r+b") as f:
                for k in range(2, size // 4096):
                    f.seek(k * 4096 + 8)
                    f.write(os.urandom(1500))
        return p

    w["garbage"] = damaged("garbage", garbage=True)
    w["bad_json"] = damaged("bad-json", "UPDATE runs SET spec_json = '{broken';")
    w["wrong_type"] = damaged("wrong-type", "UPDATE runs SET environment_json = '[1, 2]';")
    w["bad_status"] = damaged("bad-status", "UPDATE runs SET status = 'exploded';")
    w["bad_metrics"] = damaged("bad-metrics", "UPDATE repetitions SET metrics_json = '\"x\"';")
    w["bad_arrays"] = damaged("bad-arrays", "UPDATE trace_arrays SET data = x'00112233';"
                                             "UPDATE latencies SET data = x'0011';")
    w["only_version"] = damaged("only-version", "DROP TABLE series; DROP TABLE latencies; "
                                "DROP TABLE trace_arrays; DROP TABLE traces; "
                                "DROP TABLE repetitions; DROP TABLE runs;")
    w["future"] = damaged("future", "INSERT INTO schema_version VALUES (99, 'future', 'x');")
    w["empty"] = d / "empty.db"
    w["empty"].write_bytes(b"")
    os.utime(w["empty"], (1, 1))  # old: not a store being created right now
    w["text"] = d / "notes.db"
    w["text"].write_text("these are my notes, not a store\n")
    w["foreign"] = d / "foreign.db"
    c = sqlite3.connect(w["foreign"])
    c.execute("CREATE TABLE people (name TEXT)")
    c.commit()
    c.close()
    w["fifo"] = d / "pipe"
    os.mkfifo(w["fifo"])
    w["folder"] = d / "a-folder"
    w["folder"].mkdir()
    w["file"] = d / "a-file.txt"
    w["file"].write_text("plain text\n")
    w["binary"] = d / "binary.bin"
    w["binary"].write_bytes(bytes(range(256)) * 64)
    w["missing"] = d / "no" / "such" / "file.db"
    w["log"] = Path(__file__).parent / "fixtures" / "power-logs" / "nvidia_smi_a100_2.csv"
    w["deep_yaml"] = d / "deep.yaml"
    w["deep_yaml"].write_text("grid: " + "[" * 5000 + "]" * 5000 + "\n")
    w["huge_grid"] = d / "huge.yaml"
    w["huge_grid"].write_text('grid:\n  workloads: ["null"]\n  queries: ['
                              + ", ".join(str(i) for i in range(1, 1001)) + "]\n  seed: ["
                              + ", ".join(str(i) for i in range(1000)) + "]\n")
    w["campaign"] = d / "c.yaml"
    w["campaign"].write_text('grid: {workloads: ["null"], queries: [4]}\ndefaults: '
                             '{repetitions: 1}\n')
    w["bad_yaml"] = d / "bad.yaml"
    w["bad_yaml"].write_text("grid: {workloads: [null\n  : :\n")
    w["truncated_json"] = d / "trunc.json"
    w["truncated_json"].write_text('{"data": [{"title": "x", "paragraphs": [')
    w["bad_trace"] = d / "trace.csv"
    w["bad_trace"].write_text("t_s,power_w\n0,1\n1,nan\nxx,yy\n")
    w["unicode_dir"] = d / "dossier-é-😀"
    w["unicode_dir"].mkdir()
    junk = b'{"format": "inferlca-unsaved-repetition", "run_id": "a", "index": "x", "metrics": 5}'
    for name, content in (("junk_unsaved", junk),
                          ("binary_unsaved", bytes(range(256))),
                          ("deep_unsaved", b"[" * 100_000 + b"]" * 100_000)):
        w[name] = d / name
        w[name].mkdir()
        (w[name] / "0123-rep0.json").write_bytes(content)
    for name, cfg, weights in (("weights_bad_json", "{bad", b""), ("weights_list", "[]", b""),
                               ("weights_truncated", "{}", b"\x40\x00\x00\x00\x00\x00\x00\x00{")):
        w[name] = d / name
        w[name].mkdir()
        (w[name] / "config.json").write_text(cfg)
        if weights:
            (w[name] / "model.safetensors").write_bytes(weights)
    w["other_files"] = d / "other-files"
    w["other_files"].mkdir()
    (w["other_files"] / "notes.txt").write_text("x")
    yield w
    os.environ.pop("INFERLCA_TEST_RUN_ID", None)


# --- the rows ------------------------------------------------------------------------------------
# (command, args with {placeholders}, culprits: any one of them must be in the message)

#: Stores that cannot be read as they are, and what the message must name.
DAMAGED = {
    "garbage": ("garbage.db",), "bad_json": ("damaged", "spec_json"),
    "wrong_type": ("damaged", "environment_json"), "bad_status": ("exploded",),
    "bad_metrics": ("damaged", "metrics"), "only_version": ("only-version.db",),
    "future": ("newer", "v99"), "empty": ("empty.db",), "text": ("notes.db",),
    "foreign": ("foreign.db",), "fifo": ("pipe",), "folder": ("a-folder",),
    "devnull": ("/dev/null",), "proc": ("/proc/self/status",),
}
#: Commands that read (or write) a store, with arguments that are otherwise fine.
STORE_COMMANDS = {
    "results": [], "results show": ["{run8}"], "results delete": ["{run8}", "--yes"],
    "compare": ["{run8}", "{run8}"], "export": ["--out", "{dir}/x.csv", "--format", "csv"],
    "project": ["--users", "10", "--queries-per-user", "2"],
    "recommend": ["--latency-p99-ms", "100"], "report": ["--out", "{dir}/rep"],
    "store info": ["--check"], "store backup": ["{dir}/bk-{n}.db"],
    "store merge": ["{good}"], "store import-unsaved": ["{folder}"],
    "campaign plan": ["{campaign}"], "campaign status": ["{campaign}"],
    "campaign run": ["{campaign}", "--no-progress"], "calibrate": [],
    "estimate": ["--model", "bert-base", "--device", "H100", "--save"],
    "run": ["-w", "null", "-n", "2", "-r", "1"],
}
#: Damaged-store cases that arrays-only damage lets through for commands that never decode arrays.
_ARRAYS_ONLY_READ_BY = {"store info", "report", "export", "store backup", "store merge"}

ROWS: list[tuple[str, list[str], tuple[str, ...]]] = []

for _cmd, _args in STORE_COMMANDS.items():
    for _kind, _culprits in DAMAGED.items():
        if _kind == "bad_arrays":
            continue
        _store = {"devnull": "/dev/null", "proc": "/proc/self/status"}.get(_kind, f"{{{_kind}}}")
        if _cmd == "store merge":  # OTHER is the damaged one; the destination is new
            ROWS.append((_cmd, [_store, "--store", "{dir}/dest-{n}.db"], _culprits))
        elif _cmd == "store import-unsaved":  # the store is refused, or else the folder
            ROWS.append((_cmd, [*_args, "--store", _store], (*_culprits, "a-folder")))
        else:
            ROWS.append((_cmd, [*_args, "--store", _store], _culprits))
for _cmd in ("store info", "report", "export"):
    ROWS.append((_cmd, [*STORE_COMMANDS[_cmd], "--store", "{bad_arrays}"], ("corrupt", "damaged")))

# numbers: negative, zero, NaN, inf, huge; inverted intervals
_BAD_NUMBERS = ("-1", "nan", "inf", "-inf", "1e400", "99999999999999999999")
for _flag, _extra in (("--queries", ()), ("--repetitions", ()), ("--users", ()),
                      ("--idle-baseline-s", ()), ("--period-ms", ()), ("--cooldown-s", ()),
                      ("--samples-per-query", ()), ("--target-qps", ()), ("--duration-s", ()),
                      ("--think-time-s", ()), ("--threads", ()), ("--offline-samples", ()),
                      ("--max-new-tokens", ()), ("--grid", ()), ("--pue", ()),
                      ("--lifetime-years", ())):
    for _v in _BAD_NUMBERS:
        if _flag in ("--idle-baseline-s", "--cooldown-s", "--think-time-s") and _v == "-inf":
            continue
        ROWS.append(("run", ["-w", "null", _flag, _v, "--store", "{good}"], (_flag,)))
for _flag in ("--queries", "--repetitions", "--period-ms", "--samples-per-query", "--users",
              "--target-qps", "--duration-s", "--max-new-tokens"):
    ROWS.append(("run", ["-w", "null", _flag, "0", "--store", "{good}"], (_flag,)))
for _flag, _v in (("--grid", "80..50"), ("--pue", "1.6..1.1"), ("--lifetime-years", "7..4"),
                  ("--lifetime-years", "1e-300"), ("--grid", "1e9"), ("--pue", "0.5"),
                  ("--pue", "11")):
    ROWS.append(("run", ["-w", "null", _flag, _v, "--store", "{good}"], (_flag,)))
# names, empty and unicode strings, options that do not apply
for _flag, _v in (("--workload", "nope"), ("--backend", "tensorflow"), ("--scenario", "batch"),
                  ("--meter", "joulemeter"), ("--region", "ATLANTIS"), ("--precision", "fp3"),
                  ("--memory-method", "weight"), ("--scope", "galaxy"), ("--device", "H1000x"),
                  ("--device", ""), ("--region", ""), ("--workload", ""), ("--meter", ""),
                  ("--device", "😀\x1b[31m"), ("--region", "Ünïcødé"), ("--store", "")):
    ROWS.append(("run", ["-w", "null", _flag, _v, "--store", "{good}"] if _flag != "--store"
                 else ["-w", "null", "--store", _v], (_flag, repr(_v)[1:-1]) if _v else (_flag,)))
for _flag, _v in (("--precision", "fp16"), ("--preset", "tiny"), ("--accuracy", None),
                  ("--weights", "{folder}"), ("--dataset", "{file}"), ("--prompts", "{file}")):
    ROWS.append(("run", ["-w", "null", _flag, *([_v] if _v else []), "--store", "{good}"], (_flag,)))
# paths: missing files, folders for files, files for folders, pipes, devices, kernel paths
for _flag, _v, _culprits in (("--prompts", "{missing}", ("--prompts",)), ("--prompts", "{fifo}", ("pipe",)),
                             ("--prompts", "/dev/zero", ("/dev/zero",)),
                             ("--prompts", "{folder}", ("a-folder",)),
                             ("--dataset", "{missing}", ("--dataset",)),
                             ("--dataset", "{fifo}", ("pipe",)),
                             ("--dataset", "{truncated_json}", ("trunc.json", "--dataset")),
                             ("--weights", "{file}", ("a-file.txt",)),
                             ("--weights", "{missing}", ("--weights",)),
                             ("--logs-dir", "{file}", ("a-file.txt",)),
                             ("--logs-dir", "{file}/sub", ("a-file.txt",)),
                             ("--logs-dir", "/proc/inferlca", ("/proc",)),
                             ("--logs-dir", "/sys/inferlca", ("/sys",))):
    _w = "llm-generate" if _flag == "--prompts" else "bert-base-squad"
    if _flag == "--logs-dir":
        _w = "null"
    ROWS.append(("run", ["-w", _w, "--preset", "tiny", _flag, _v, "--store", "{good}"]
                 if _w != "null" else ["-w", "null", _flag, _v, "--store", "{good}"], _culprits))
ROWS += [
    ("run", ["-w", "bert-base-squad", "--weights", "{weights_bad_json}", "--store", "{good}"],
     ("config.json",)),
    ("run", ["-w", "bert-base-squad", "--weights", "{weights_list}", "--store", "{good}"],
     ("config.json",)),
    ("run", ["-w", "bert-base-squad", "--weights", "{weights_truncated}", "--store", "{good}"],
     ("model.safetensors",)),
    ("run", ["-w", "null", "--store", "{folder}"], ("a-folder",)),
    ("run", ["-w", "null", "--store", "{file}/x.db"], ("a-file.txt",)),
    ("run", ["-w", "null", "--store", "/proc/self/x.db"], ("/proc",)),
    ("run", ["-w", "null", "--scenario", "server", "--target-qps", "-5", "--store", "{good}"],
     ("--target-qps",)),
    ("run", ["-w", "null", "--seed", "-1", "--store", "{good}"], ("--seed",)),
    ("run", ["-w", "null", "--top-k", "-1", "--store", "{good}"], ("top", "--top-k")),
    ("run", ["-w", "null", "--temperature", "nan", "--store", "{good}"], ("temperature",)),
]

# measure
for _flag, _v in (("--period-ms", "0"), ("--period-ms", "nan"), ("--period-ms", "1e300"),
                  ("--idle-baseline-s", "-1"), ("--idle-baseline-s", "inf"),
                  ("--cpu-tdp", "1e308"), ("--cpu-tdp", "-5"), ("--cpu-tdp", "nan"),
                  ("--meter", "nope"), ("--region", "ATLANTIS"), ("--device", "H1000x"),
                  ("--out", "{folder}"), ("--out", "{file}/x.csv"), ("--out", "/proc/x.csv"),
                  ("--out", "{dir}/x.txt"), ("--replay", "{missing}"), ("--replay", "{fifo}"),
                  ("--replay", "{binary}")):
    _c = {"--out": ("--out", "a-folder", "a-file.txt", "/proc"),
          "--replay": ("--replay", "file.db", "pipe", "binary.bin")}.get(_flag, (_flag,))
    ROWS.append(("measure", ["--meter", "modelled", _flag, _v, "--", "true"]
                 if _flag != "--meter" else [_flag, _v, "--", "true"], (*_c, _v)))
ROWS.append(("measure", ["--meter", "modelled"], ("command",)))
# the impact settings (--grid-year, --grid, --pue, --lifetime-years, --scope) of run, measure,
# trace import and impact: checked before anything runs or is read
_IMPACT_BAD = ((["--grid-year", "abc"], ("--grid-year", "abc")),
               (["--grid-year", "1999"], ("--grid-year", "1999")),
               (["--grid-year", "2023", "--grid", "50"], ("--grid-year", "--grid")),
               (["--pue", "0.5"], ("--pue",)), (["--lifetime-years", "abc"], ("--lifetime-years",)),
               (["--scope", "galaxy"], ("galaxy",)))
for _args, _c in _IMPACT_BAD:
    ROWS.append(("measure", ["--meter", "modelled", *_args, "--", "true"], _c))
    ROWS.append(("trace import", ["{log}", *_args], _c))
    if "--grid-year" in _args:
        ROWS.append(("run", ["-w", "null", *_args, "--store", "{good}"], _c))
        ROWS.append(("impact", ["--device", "H100", "--energy-wh", "1", "--duration-s", "1",
                                *_args], _c))
ROWS.append(("run", ["-w", "null", "--grid-year", "2023", "--grid-file", "{missing}",
                     "--store", "{good}"], ("--grid-year", "--grid-file")))

# impact, project, embodied, estimate, calibrate
for _flag, _v in (("--energy-wh", "-1"), ("--energy-wh", "nan"), ("--energy-wh", "inf"),
                  ("--duration-s", "-1"), ("--queries", "0"), ("--pue", "0.5"),
                  ("--grid", "-3"), ("--lifetime-years", "0"), ("--lifetime-years", "7..4"),
                  ("--region", "ATLANTIS"), ("--device", "H1000x"), ("--scope", "galaxy"),
                  ("--memory-method", "weight")):
    _base = {"--device": "H100", "--energy-wh": "1", "--duration-s": "1"}
    _base[_flag] = _v
    ROWS.append(("impact", [a for k, v in _base.items() for a in (k, v)], (_flag, _v)))
for _flag, _v in (("--users", "1e308"), ("--users", "-1"), ("--users", "nan"),
                  ("--queries-per-user", "0"), ("--queries-per-user", "1e300"),
                  ("--days", "-1"), ("--days", "1e9")):
    _base = {"--users": "10", "--queries-per-user": "2", "--store": "{good}"}
    _base[_flag] = _v
    ROWS.append(("project", [a for k, v in _base.items() for a in (k, v)], (_flag,)))
ROWS += [("project", ["--users", "10", "--queries-per-user", "2", "--device", "H1000x",
                      "--store", "{good}"], ("H1000x",)),
         ("project", ["--users", "10", "--queries-per-user", "2", "--run", "zzzz",
                      "--store", "{good}"], ("zzzz",))]
for _args, _c in ((["H1000x"], ("H1000x",)), (["H100", "--scope", "galaxy"], ("galaxy",)),
                  (["H100", "--memory-method", "x"], ("--memory-method", "'x'")),
                  (["--all", "--category", "toaster"], ("toaster",)), (["H100", "--threads", "-1"],
                                                             ("--threads",)),
                  (["--archetype", "nope"], ("nope",)), ([""], ("device", "empty", "''"))):
    ROWS.append(("embodied", _args, _c))
for _flag, _v in (("--model", "gpt-17"), ("--device", "H1000x"), ("--precision", "fp3"),
                  ("--batch", "0"), ("--batch", "-1"), ("--queries", "0"),
                  ("--tokens-in", "-1"), ("--pue", "0.2"), ("--grid", "nan"),
                  ("--lifetime-years", "0"), ("--region", "ATLANTIS"), ("--peak-flops", "-1"),
                  ("--bandwidth-gbs", "nan"), ("--tdp", "inf"), ("--plot", "{file}"),
                  ("--plot", "/proc/x")):
    _base = {"--model": "bert-base", "--device": "H100"}
    _base[_flag] = _v
    _c = ("a-file.txt", "/proc", "--plot") if _flag == "--plot" else (_flag, _v)
    ROWS.append(("estimate", [a for k, v in _base.items() for a in (k, v)], _c))
ROWS += [("estimate validate", ["--published", "{missing}"], ("--published", "file.db")),
         ("estimate validate", ["--published", "{binary}"], ("--published", "binary.bin")),
         ("estimate validate", ["--traffic", "nope"], ("--traffic", "nope")),
         ("calibrate", ["--device", "H1000x", "--store", "{good}"], ("H1000x",)),
         ("calibrate", ["--method", "nope", "--store", "{good}"], ("--method", "nope")),
         ("calibrate", ["--peak-flops", "-1", "--store", "{good}"], ("--peak-flops",))]

# results, compare, recommend, export, report
ROWS += [
    ("results", ["--limit", "0", "--store", "{good}"], ("--limit",)),
    ("results", ["--limit", "-5", "--store", "{good}"], ("--limit",)),
    ("results", ["--kind", "guessed", "--store", "{good}"], ("guessed",)),
    ("results", ["--status", "exploded", "--store", "{good}"], ("exploded",)),
    ("results", ["--store", "{missing}"], ("file.db",)),
    ("results show", ["zzzz", "--store", "{good}"], ("zzzz",)),
    ("results show", ["", "--store", "{good}"], ("run id",)),
    ("results show", ["%", "--store", "{good}"], ("%",)),
    ("results delete", ["zzzz", "--yes", "--store", "{good}"], ("zzzz",)),
    ("compare", ["zzzz", "{run8}", "--store", "{good}"], ("zzzz",)),
    ("compare", ["{run8}", "H1000x", "--store", "{good}"], ("H1000x",)),
    ("compare", ["{run8}", "zz\x1b[31m", "--store", "{good}"], ("zz",)),
    ("recommend", ["--latency-p99-ms", "-1", "--store", "{good}"], ("--latency-p99-ms",)),
    ("recommend", ["--latency-p99-ms", "nan", "--store", "{good}"], ("--latency-p99-ms",)),
    ("recommend", ["--latency-p99-ms", "0", "--store", "{good}"], ("--latency-p99-ms",)),
    ("recommend", ["--latency-p99-ms", "10", "--queries", "0", "--store", "{good}"],
     ("--queries", "0 queries")),
    ("export", ["--format", "xlsx", "--out", "{dir}/x.xlsx", "--store", "{good}"], ("xlsx",)),
    ("export", ["--format", "csv", "--out", "{file}/x.csv", "--store", "{good}"], ("a-file.txt",)),
    ("export", ["--format", "csv", "--out", "/proc/x.csv", "--store", "{good}"], ("/proc",)),
    ("export", ["--format", "csv", "--out", "{dir}/e.csv", "--kind", "nope", "--store", "{good}"],
     ("nope",)),
    ("export", ["--format", "csv", "--out", "{dir}/e.csv", "--run", "zzzz", "--store", "{good}"],
     ("zzzz",)),
    ("report", ["--out", "{file}", "--store", "{good}"], ("a-file.txt",)),
    ("report", ["--out", "/proc/rep", "--store", "{good}"], ("/proc",)),
    ("report", ["--out", "{dir}/r2", "--runs", "zzzz", "--store", "{good}"], ("zzzz",)),
    ("report", ["--out", "{dir}/r3", "--power-axis", "sideways", "--store", "{good}"],
     ("sideways",)),
]

# campaign
for _cmd in ("campaign plan", "campaign status", "campaign run"):
    for _file, _c in (("{missing}", ("file.db",)), ("{fifo}", ("pipe",)), ("/dev/zero", ("/dev/zero",)),
                      ("{folder}", ("a-folder",)), ("{binary}", ("binary.bin",)),
                      ("{deep_yaml}", ("deep.yaml",)), ("{huge_grid}", ("1,000,000",)),
                      ("{bad_yaml}", ("bad.yaml",)), ("{file}", ("a-file.txt",)),
                      ("{truncated_json}", ("trunc.json",))):
        ROWS.append((_cmd, [_file, "--store", "{good}"] + (["--no-progress"] if _cmd ==
                                                            "campaign run" else []), _c))
ROWS += [
    ("campaign run", ["{campaign}", "--device", "H1000x", "--store", "{good}"], ("H1000x",)),
    ("campaign worker", ["--head", "--port", "99999", "--device", "H100", "--dry-run"], ("--port",)),
    ("campaign worker", ["--head", "--port", "0", "--device", "H100", "--dry-run"], ("--port",)),
    ("campaign worker", ["--address", "nowhere", "--device", "H100", "--dry-run"], ("--address",)),
    ("campaign worker", ["--address", "h:1", "--head", "--device", "H100"], ("--address",)),
    ("campaign worker", ["--head", "--device", "H1000x", "--dry-run"], ("H1000x",)),
]

# config (a malformed or unknown-key config file: tests/test_settings.py)
ROWS += [
    ("config show", ["--bogus"], ("--bogus",)),
    ("config show", ["extra"], ("extra",)),
    ("config path", ["--bogus"], ("--bogus",)),
    ("config path", ["extra"], ("extra",)),
]

# grid, hardware, meters, trace, store
ROWS += [
    ("grid show", ["ATLANTIS"], ("ATLANTIS",)),
    ("grid show", [""], ("''", "region")),
    ("grid show", ["\x1b[31mred"], ("red",)),
    ("grid list", ["--bogus"], ("--bogus",)),
    ("hardware show", ["H1000x"], ("H1000x",)),
    ("hardware show", [""], ("''", "device")),
    ("hardware list", ["--category", "toaster"], ("toaster",)),
    ("hardware list", ["--kind", "quantum"], ("quantum",)),
    ("hardware archetypes", ["--bogus"], ("--bogus",)),
    ("hardware detect", ["--bogus"], ("--bogus",)),
    ("meters", ["--bogus"], ("--bogus",)),
    ("meters serve", ["--port", "70000"], ("--port",)),
    ("meters serve", ["--interval-ms", "0.5"], ("--interval-ms",)),
    ("meters serve", ["--interval-ms", "nan"], ("--interval-ms",)),
    ("meters serve", ["--meter", "nope", "--port", "0"], ("nope",)),
    ("meters serve", ["--token-env", "INFERLCA_NO_SUCH_VAR"], ("INFERLCA_NO_SUCH_VAR",)),
    ("meters serve", ["--replay", "{missing}"], ("--replay",)),
    ("meters serve", ["--meter", "replay", "--replay", "{missing}", "--port", "0"], ("file.db",)),
    ("meters serve", ["--meter", "modelled", "--host", "203.0.113.1", "--port", "0"],
     ("203.0.113.1",)),
    ("measure", ["--meter-url", "http://127.0.0.1:1", "--", "true"], ("127.0.0.1:1",)),
    ("measure", ["--meter-url", "https://127.0.0.1:1", "--", "true"], ("https://127.0.0.1:1",)),
    ("measure", ["--meter-url", "http://127.0.0.1:1/v1", "--", "true"], ("/v1",)),
    ("measure", ["--meter", "nvml", "--meter-url", "http://127.0.0.1:1", "--", "true"],
     ("--meter-url",)),
    ("measure", ["--meter", "remote", "--", "true"], ("--meter-url",)),
    ("run", ["-w", "null", "--meter-url", "http://127.0.0.1:1", "--store", "{good}"],
     ("127.0.0.1:1",)),
    ("trace import", ["{missing}"], ("file.db",)),
    ("trace import", ["{fifo}"], ("pipe",)),
    ("trace import", ["/dev/zero"], ("/dev/zero",)),
    ("trace import", ["{folder}"], ("a-folder",)),
    ("trace import", ["{binary}"], ("binary.bin",)),
    ("trace import", ["{bad_trace}"], ("trace.csv",)),
    ("trace import", ["{file}", "--format", "excel"], ("excel",)),
    ("trace import", ["{bad_trace}", "--out", "{folder}/x.txt"], ("--out", "x.txt")),
    ("trace import", ["{bad_trace}", "--interval-ms", "-1"], ("--interval-ms",)),
    ("trace import", ["{bad_trace}", "--device", "H1000x"], ("H1000x", "trace.csv")),
    ("store info", ["--store", "{missing}"], ("file.db",)),
    ("store repair", ["--store", "{missing}"], ("file.db",)),
    ("store repair", ["--store", "{text}"], ("notes.db",)),
    ("store repair", ["--store", "{future}"], ("newer",)),
    ("store repair", ["--store", "{folder}"], ("a-folder",)),
    ("store repair", ["--store", "/dev/null"], ("/dev/null",)),
    ("store backup", ["{good}", "--store", "{good}"], ("good.db", "exists")),
    ("store backup", ["{missing}", "--store", "{good}"], ("file.db", "such")),
    ("store backup", ["", "--store", "{good}"], ("backup",)),
    ("store merge", ["{missing}", "--store", "{dir}/m.db"], ("file.db",)),
    ("store merge", ["{good}", "--store", "{good}"], ("itself",)),
    ("store import-unsaved", ["{missing}", "--store", "{dir}/iu.db"], ("file.db", "such")),
    ("store import-unsaved", ["{file}", "--store", "{dir}/iu.db"], ("a-file.txt",)),
    ("store import-unsaved", ["{junk_unsaved}", "--store", "{dir}/iu.db"], ("0123-rep0.json",)),
    ("store import-unsaved", ["{binary_unsaved}", "--store", "{dir}/iu.db"], ("0123-rep0.json",)),
    ("store import-unsaved", ["{deep_unsaved}", "--store", "{dir}/iu.db"], ("0123-rep0.json",)),
    ("store import-unsaved", ["{other_files}", "--store", "{dir}/iu.db"], ("other-files",)),
]


def _fill(args: list[str], w: dict[str, Path], n: int) -> list[str]:
    run8 = os.environ["INFERLCA_TEST_RUN_ID"][:8]
    values = {k: str(v) for k, v in w.items()}
    values.update(run8=run8, n=str(n))
    return [a.format(**values) for a in args]


def test_every_command_has_rows() -> None:
    covered = {cmd for cmd, _, _ in ROWS}
    missing = [c for c in _commands() if c not in covered]
    assert not missing, f"commands without bad-input rows in this test: {missing}"


def test_the_matrix_is_large() -> None:
    assert len(ROWS) >= 400, len(ROWS)


@pytest.fixture
def alarm() -> Iterator[None]:
    """A row that hangs fails after 60 s instead of blocking the suite."""
    def boom(*_: object) -> None:
        raise TimeoutError("the command hung")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("n", range(len(ROWS)),
                         ids=[f"{c}:{' '.join(a)[:60]}" for c, a, _ in ROWS])
def test_bad_input(n: int, world, capsys, alarm) -> None:  # type: ignore[no-untyped-def]
    command, args, culprits = ROWS[n]
    before = _digest(world["good"])
    argv = [*command.split(), *_fill(args, world, n)]
    capsys.readouterr()
    code = run(argv)
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert code in (1, 2), f"exit {code} for {argv}:\n{text[-2000:]}"
    assert "Traceback" not in text, text[-3000:]
    assert any(c.lower() in text.lower() for c in culprits), (
        f"no culprit {culprits} named for {argv}:\n{text[-1500:]}")
    assert "\x1b]" not in cap.err and "\x1b[2J" not in cap.err  # hostile text escaped
    assert _digest(world["good"]) == before, f"{argv} changed the store"


def test_a_write_into_a_damaged_store_is_refused_before_measuring(world) -> None:  # type: ignore[no-untyped-def]
    p = world["garbage"]
    before = p.read_bytes()
    assert run(["run", "-w", "null", "-n", "2", "-r", "1", "--store", str(p)]) == 2
    assert p.read_bytes() == before
