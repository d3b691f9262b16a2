"""``inferlca campaign``: a study's whole grid in one file, run locally or on a Ray cluster.

Thin: loads the campaign file (:mod:`inferlca.campaign.spec`), opens the store, calls the local or
Ray executor, and prints rich tables (or JSON with ``--json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from inferlca.cli._common import console, print_json

STORE_HELP = "The results store (SQLite file). Default: $INFERLCA_STORE, else ./inferlca.db."
CampaignFile = Annotated[Path, typer.Argument(help="The campaign file (YAML).")]
STATE_STYLE = {"done": "green", "running": "cyan", "failed": "red", "pending": "yellow",
               "ran": "green", "skipped-done": "green", "other-device": "dim",
               "unschedulable": "magenta", "interrupted": "yellow"}


def _open_store_if_exists(store: str | None) -> Any:
    from inferlca.store.sqlite import Store, resolve_store_path

    path = resolve_store_path(store)
    if not path.exists():
        return None
    return Store.open_readonly(path)


def _states_table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        cells = []
        for _, key in columns:
            v = row.get(key)
            text = "-" if v is None else str(v)
            if key == "run_id" and v is not None:
                text = text[:8]
            if key in ("state", "outcome"):
                text = f"[{STATE_STYLE.get(text, 'white')}]{text}[/]"
            cells.append(text)
        table.add_row(*cells)
    return table


#: the done cells' figures shown by ``campaign status`` (key, header, scale, digits)
_FIGURES = (("tokens_per_j", "tokens/J", 1.0, 1), ("ttft_p99_s", "TTFT p99 ms", 1e3, 1),
            ("output_tokens_per_s", "tokens/s", 1.0, 1), ("requests_failed", "failed", 1.0, 0))


def _figures_table(rows: list[dict[str, Any]]) -> Any:
    """The done cells' figures: cell id, the swept settings, then one column per figure."""
    from rich.table import Table

    cols = _figure_columns(rows)
    table = Table(title="done cells (means over repetitions; tokens/J of the compute phase)")
    table.add_column("cell", no_wrap=True)
    table.add_column("swept", overflow="fold")
    for header, _ in cols:
        table.add_column(header, no_wrap=True, justify="right")
    for r in rows:
        table.add_row(str(r["cell_id"])[:6], str(r["swept"]),
                      *(str(r.get(key, "-")) for _, key in cols))
    return table


def _figure_columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Columns for the figures some done cell has, formatted into the rows (``_shown`` keys)."""
    cols = []
    for key, header, scale, digits in _FIGURES:
        if not any(key in r for r in rows):
            continue
        for r in rows:
            if key in r:
                r[f"_{key}"] = f"{r[key] * scale:,.{digits}f}"
        cols.append((header, f"_{key}"))
    return cols


def _swept(cell: Any) -> str:
    """The settings the grid varies (``scenario=interactive``, ``max_concurrency=2``, one a
    line), or the cell's whole label when it varies none."""
    from inferlca.campaign.axes import setting_value

    names = cell.varied or cell.shown
    if not names:
        return str(cell.describe())
    return "\n".join(f"{n}={setting_value(cell.spec, n)}" for n in names)


def register(app: typer.Typer) -> None:
    camp = typer.Typer(help="Campaigns: a grid of runs described in one YAML file, resumable, "
                            "on this machine or across a Ray cluster.", no_args_is_help=True)
    app.add_typer(camp, name="campaign")

    @camp.command("plan")
    def plan_cmd(
        file: CampaignFile,
        store: str | None = typer.Option(None, "--store", help=STORE_HELP),
        estimate: bool = typer.Option(True, "--estimate/--no-estimate",
                                      help="Use the roofline estimator for cells with no history."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Show the cells of a campaign, their count and an estimated duration."""
        from inferlca.campaign.plan import format_duration, make_plan
        from inferlca.campaign.spec import load_campaign

        campaign = load_campaign(file)
        local_device = None
        if any(c.device is None for c in campaign.cells):
            from inferlca.campaign.local import detect_local_device

            local_device = detect_local_device()
        st = _open_store_if_exists(store)
        try:
            plan = make_plan(campaign, st, use_estimator=estimate, local_device=local_device)
        finally:
            if st is not None:
                st.close()
        if as_json:
            print_json(plan.to_dict())
            return
        rows = [{"n": e.cell.index + 1, "cell_id": e.cell.cell_id, "label": e.cell.describe(),
                 "estimate": format_duration(e.duration_s), "source": e.source}
                for e in plan.estimates]
        cols = [("#", "n"), ("cell id", "cell_id"), ("cell", "label"), ("est. time", "estimate"),
                ("from", "source")]
        console.print(_states_table(f"campaign {campaign.name}: {len(campaign.cells)} cells "
                                    f"({campaign.order} order)", rows, cols))
        reps = sum(e.cell.spec.repetitions for e in plan.estimates)
        total = format_duration(plan.total_s)
        if plan.unknown == len(plan.estimates):
            total = "unknown"
        elif plan.unknown:
            total = f"at least {total}"
        unknown = f", {plan.unknown} cell(s) without an estimate" if plan.unknown else ""
        console.print(f"{len(campaign.cells)} cells, {reps} repetitions; estimated duration "
                      f"{total}{unknown} (cool-down {campaign.cooldown_s:g} s)")

    @camp.command("run")
    def run_cmd(
        file: CampaignFile,
        store: str | None = typer.Option(None, "--store", help=STORE_HELP),
        ray_address: str | None = typer.Option(
            None, "--ray", metavar="ADDRESS",
            help="Run on a Ray cluster (HOST:PORT, ray://HOST:PORT or auto): each cell goes to "
                 "a node with its device. Needs the ray extra."),
        device: str | None = typer.Option(
            None, "--device",
            help="Local runs: the catalog device this machine is (default: detected)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
        no_progress: bool = typer.Option(False, "--no-progress", help="Do not draw progress bars."),
    ) -> None:
        """Run every cell not yet complete in the store (resumes after a crash or Ctrl-C)."""
        from inferlca.campaign.local import run_local
        from inferlca.campaign.progress import CampaignProgress, NullProgress
        from inferlca.campaign.spec import load_campaign
        from inferlca.store.sqlite import Store, resolve_store_path

        campaign = load_campaign(file)
        local_device = None
        if device is not None:
            from inferlca.hardware.catalog import get_catalog

            local_device = str(get_catalog().get(device).id)
        if ray_address is not None and device is not None:
            from inferlca.errors import InvalidValueError

            raise InvalidValueError("--device names this machine for local runs; with --ray each "
                                    "node declares its own (`inferlca campaign worker --device`)")
        ray = None
        if ray_address is not None:
            from inferlca.campaign.ray import connect

            # Connect (or fail with exit 2) before the store is created or touched; this
            # covers `auto` and refused authentication, not only a closed port.
            ray = connect(ray_address)
        path = resolve_store_path(store)
        progress = NullProgress() if (as_json or no_progress) else CampaignProgress(
            console=console, title=campaign.name)
        try:
            with Store.open(path) as st:
                if ray is not None:
                    from inferlca.campaign.ray import run_ray

                    result = run_ray(campaign, st, None, store_path=str(path), progress=progress)
                else:
                    result = run_local(campaign, st, store_path=str(path),
                                       local_device=local_device, progress=progress)
        finally:
            if ray is not None:
                ray.shutdown()  # this process connected; the cluster keeps running
        if as_json:
            print_json({**result.to_dict(), "store": str(path)})
        else:
            rows = [r.to_dict() for r in result.results]
            cols = [("cell id", "cell_id"), ("cell", "label"), ("outcome", "outcome"),
                    ("run", "run_id"), ("reason", "error")]
            console.print(_states_table(f"campaign {campaign.name}", rows, cols))
            counts = result.to_dict()["counts"]
            console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                          + f"; results in {path}")
            if counts.get("other-device") and ray_address is None and not any(
                    r.outcome != "other-device" for r in result.results):
                console.print("no cell of this campaign is for this machine: run the file on the "
                              "devices' machines (same or merged store), declare this machine "
                              "with --device NAME, or send the cells to a cluster with --ray "
                              "ADDRESS", markup=False, highlight=False)
        if result.interrupted:
            raise typer.Exit(130)
        if not result.ok:
            raise typer.Exit(1)

    @camp.command("status")
    def status_cmd(
        file: CampaignFile,
        store: str | None = typer.Option(None, "--store", help=STORE_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Each cell's state: done, running, failed or pending."""
        from inferlca.campaign.spec import load_campaign
        from inferlca.campaign.state import (
            PENDING,
            CellState,
            cell_states,
            count_states,
            lock_path_for,
            read_lock,
        )
        from inferlca.store.sqlite import resolve_store_path

        campaign = load_campaign(file)
        path = resolve_store_path(store)
        holder = read_lock(lock_path_for(path))
        st = _open_store_if_exists(store)
        try:
            if st is None:
                states = [CellState(c, PENDING) for c in campaign.cells]
            else:
                states = cell_states(campaign, st, running=holder.get("running", []))
        finally:
            if st is not None:
                st.close()
        counts = count_states(states)
        if as_json:
            print_json({"campaign": campaign.name, "store": str(path), "counts": counts,
                        "executor": holder or None, "cells": [s.to_dict() for s in states]})
            return
        rows = [s.to_dict() for s in states]
        cols = [("cell id", "cell_id"), ("cell", "label"), ("state", "state"), ("run", "run_id"),
                ("attempts", "attempts"), ("note", "error")]
        console.print(_states_table(f"campaign {campaign.name} in {path}", rows, cols))
        done = [dict(r, swept=_swept(s.cell)) for s, r in zip(states, rows) if s.figures]
        if any(_figure_columns(done)):
            console.print(_figures_table(done))
        console.print(", ".join(f"{k}: {v}" for k, v in counts.items())
                      + (f"; executor pid {holder.get('pid')} on {holder.get('host')}"
                         if holder else ""))

    @camp.command("worker")
    def worker_cmd(
        address: str | None = typer.Option(
            None, "--address", help="The Ray head to join (HOST:PORT). Omit with --head."),
        head: bool = typer.Option(False, "--head", help="Start a new cluster's head node here."),
        device: str | None = typer.Option(
            None, "--device", help="The catalog device of this node (default: detected)."),
        port: int = typer.Option(6379, "--port", help="With --head: the port of the head."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the `ray start` command only."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Join (or start) a Ray cluster as a node offering this machine's device to campaigns."""
        from inferlca.campaign.ray import device_resource
        from inferlca.errors import InvalidValueError, UsageError

        if head == (address is not None):
            raise InvalidValueError("give either --address HOST:PORT (join a cluster) or --head "
                                    "(start one), not both or neither")
        if not 1 <= port <= 65535:
            raise InvalidValueError(f"--port must be a TCP port from 1 to 65535, got {port}")
        if address is not None:
            host, sep, addr_port = address.rpartition(":")
            if not sep or not host.strip() or not addr_port.isdigit() \
                    or not 1 <= int(addr_port) <= 65535 or any(c.isspace() for c in address):
                raise InvalidValueError(f"--address must be HOST:PORT with a port from 1 to "
                                        f"65535, got {address!r}")
        if device is not None:
            from inferlca.hardware.catalog import get_catalog

            device_id = str(get_catalog().get(device).id)
        else:
            from inferlca.campaign.local import detect_local_device

            found = detect_local_device()
            if found is None:
                raise UsageError("this machine's device is not in the catalog; name it with "
                                 "--device NAME (see `inferlca hardware list`)")
            device_id = found
        resources = json.dumps({device_resource(device_id): 1})
        ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
        cmd = [ray_bin, "start", f"--resources={resources}"]
        cmd += ["--head", f"--port={port}"] if head else [f"--address={address}"]
        if as_json:
            print_json({"device": device_id, "resource": device_resource(device_id),
                        "command": cmd, "dry_run": dry_run})
        else:
            console.print(f"node device: [bold]{device_id}[/] (Ray resource "
                          f"{device_resource(device_id)!r})")
            import shlex

            console.print("command: " + shlex.join(cmd), markup=False, highlight=False)
        if dry_run:
            return
        if address is not None:
            from inferlca.campaign.ray import check_reachable

            check_reachable(address)
        if not Path(ray_bin).exists():
            from inferlca.errors import DependencyMissingError

            raise DependencyMissingError("ray", "ray", "campaign workers")
        code = subprocess.call(cmd)
        if code != 0:
            raise typer.Exit(code)
