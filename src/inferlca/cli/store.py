"""`inferlca store`: facts about the results store, and merging stores from several machines."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STATUS_STYLE, STORE_HELP
from inferlca.text import escape_controls

store_app = typer.Typer(help="The results store: `store info`, `store merge OTHER.db`, "
                        "`store repair`, `store backup COPY.db`, `store import-unsaved DIR`.",
                        no_args_is_help=True)


@store_app.command("info")
def store_info(
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    check: bool = typer.Option(False, "--check", help="Also check the file (SQLite's integrity "
                               "check) and read back every stored value and array."),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """Where the store is, its schema version, size, and what it holds."""
    from inferlca.store.sqlite import Store

    with Store.open_readonly(store) as s:
        info = s.info()
        if check:
            problems = s.integrity_check(deep=True)
            info["integrity"] = problems or ["ok"]
    if json_out:
        print_json(info)
        return
    table = Table(title=escape(f"results store {info['path']}"), title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    by_status = ", ".join(f"[{STATUS_STYLE.get(k, '')}]{v} {k}[/]" for k, v in sorted(info["runs_by_status"].items()))
    by_kind = ", ".join(f"{v} {k}" for k, v in sorted(info["runs_by_kind"].items()))
    rows = [
        ("schema", f"v{info['schema_version']} (this inferlca reads up to v{info['schema_version_supported']})"),
        ("size", f"{info['size_bytes']:,} bytes ({info['array_bytes']:,} in compressed arrays)"
         if info["size_bytes"] is not None else "-"),
        ("journal", info["journal_mode"]),
        ("runs", f"{info['runs']}" + (f" ({by_status}; {by_kind})" if info["runs"] else "")),
        ("repetitions", str(info["repetitions"])),
        ("traces", f"{info['traces']} ({info['trace_samples']:,} samples)"),
        ("latencies", f"{info['latencies']:,}"),
        ("devices", escape(", ".join(info["devices"])) or "-"),
        ("workloads", escape(", ".join(info["workloads"])) or "-"),
    ]
    if "integrity" in info:
        rows.append(("integrity", escape(escape_controls("; ".join(info["integrity"])))))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if check and info["integrity"] != ["ok"]:
        from inferlca.errors import StoreError

        raise StoreError(f"the results store {info['path']} is damaged ({len(info['integrity'])} "
                         f"problem(s)); `inferlca store repair` recovers what can be read")


@store_app.command("merge")
def store_merge(
    other: str = typer.Argument(..., help="Another results store (e.g. copied from another machine)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """Copy into this store the runs of OTHER that it lacks; merging twice adds nothing.

    Runs are keyed by their globally unique id. A run present in both is kept as it is here,
    unless OTHER holds a more complete copy (finished, or more repetitions). OTHER is only read.
    """
    from pathlib import Path

    from inferlca.errors import StoreError

    if not Path(other).is_file():
        # not Store.open's "run `inferlca run` first": OTHER is the store to read from
        raise StoreError(f"no results store to merge at {other}: give the path of another "
                         "inferlca results store (.db)")
    from inferlca.store.sqlite import Store

    with Store.open(store) as s:
        result = s.merge(other)
        path = s.path
    if json_out:
        print_json({"store": str(path), **result.to_dict()})
        return
    console.print(f"merged {escape(result.source)} into {escape(str(path))}: "
                  f"[green]{len(result.added)} added[/], "
                  f"{len(result.updated)} updated with a more complete copy, "
                  f"{len(result.skipped)} already present", highlight=False, soft_wrap=True)


@store_app.command("repair")
def store_repair(
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """Repair the store: close the runs left `running` by a process that died (as `incomplete`)
    and, when the file is damaged, copy what can be read into a new file at the same path
    (keeping the damaged file beside it) and report what was saved and lost."""
    from inferlca.errors import StoreError
    from inferlca.store.paths import usable_path
    from inferlca.store.repair import recover
    from inferlca.store.sqlite import Store

    path = usable_path(store)
    if not path.exists():
        raise StoreError(f"no results store at {path} to repair; give --store PATH")
    damage: str | None = None
    closed: list[str] = []
    try:
        with Store.open(path) as s:
            problems = s.integrity_check(deep=True)
            if problems:
                damage = "; ".join(problems)
            else:
                closed = s.close_dead_runs()
    except StoreError as exc:
        if "newer inferlca" in str(exc) or "not an inferlca results store" in str(exc) \
                or "cannot write" in str(exc) or "cannot create" in str(exc):
            raise
        damage = str(exc)
    if damage is None:
        if json_out:
            print_json({"store": str(path), "damaged": False, "closed": closed, "integrity": ["ok"]})
            return
        console.print(f"{len(closed)} run(s) left running by a dead process marked incomplete"
                      + (": " + ", ".join(r[:8] for r in closed) if closed else ""), highlight=False)
        console.print("integrity: ok", markup=False)
        return
    result = recover(path)
    with Store.open(path) as s:  # the repaired file: close its dead runs too
        closed = s.close_dead_runs()
    if json_out:
        print_json({"damaged": True, "problem": escape_controls(damage[:500]), "closed": closed,
                    **result.to_dict()})
        return
    console.print(f"the store was damaged: {escape_controls(damage[:300])}", markup=False,
                  highlight=False, soft_wrap=True)
    console.print(f"repaired ({result.method}): {len(result.runs_saved)} run(s) and "
                  f"{result.repetitions_saved} repetition(s) saved; {len(result.runs_lost)} run(s) "
                  f"and {result.repetitions_lost} repetition(s) lost"
                  + (f"; {result.unreadable_rows} unreadable row(s) skipped"
                     if result.unreadable_rows else ""), markup=False, highlight=False,
                  soft_wrap=True)
    for note in result.notes[:20]:
        console.print(f"note: {escape_controls(note)}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"repaired store: {path}; the damaged file is kept as {result.damaged_copy}",
                  markup=False, highlight=False, soft_wrap=True)


@store_app.command("backup")
def store_backup(
    dest: str = typer.Argument(..., help="The new file to write the copy to."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """A consistent copy of the store (SQLite's online backup), safe while runs are writing it."""
    from pathlib import Path

    from inferlca.errors import InvalidValueError
    from inferlca.store.sqlite import Store

    if not dest.strip():
        raise InvalidValueError("the backup path is empty: give a new file such as backup.db")
    with Store.open_readonly(store) as s:
        if s.path is not None and Path(dest).expanduser().resolve() == s.path.resolve():
            raise InvalidValueError(f"the backup {dest} is the store itself: give a new file")
        out = s.backup(dest)
        runs = len(s.list_runs())
        path = s.path
    if json_out:
        print_json({"store": str(path), "backup": str(out), "runs": runs})
        return
    console.print(f"backed up {runs} run(s) of {path} to {out}", markup=False, highlight=False,
                  soft_wrap=True)


@store_app.command("import-unsaved")
def store_import_unsaved(
    folder: str = typer.Argument(..., help="The folder named in the error (<store>.unsaved)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """Add back the repetitions kept aside when the store refused a write (disk full...)."""
    from inferlca.store.sqlite import Store

    with Store.open(store) as s:
        done = s.import_unsaved(folder)
        path = s.path
    if json_out:
        print_json({"store": str(path), "imported": [{"run_id": r, "index": i} for r, i in done]})
        return
    console.print(f"imported {len(done)} repetition(s) into {path}", highlight=False, soft_wrap=True,
                  markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
