"""Who writes a run: the writer's pid, host and process start time, and whether it still lives.

A run row records its writer when it is created. A run still marked ``running`` whose writer is
gone (killed, crashed, its machine rebooted) reads back as ``incomplete`` with a note, and
``Store.close_dead_runs`` closes it for good. A pid can be reused by a later process: the kernel's
start time of the process tells the two apart.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), to tell pid reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _process_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = stat[stat.rfind(")") + 2:].split()
    return rest[0] if rest else None


def current_owner() -> tuple[int, str, str | None]:
    """``(pid, hostname, process start)`` of this process, as a run row records its writer."""
    pid = os.getpid()
    return pid, socket.gethostname(), process_start(pid)


def writer_alive(pid: int | None, hostname: str | None, proc_start: str | None) -> bool | None:
    """Whether the process that wrote a run still lives: ``True``, ``False``, or ``None`` (unknown:
    another host, or no owner recorded)."""
    if pid is None or hostname is None or hostname != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return None
    if _process_state(pid) in ("Z", "X"):
        return False  # a zombie: dead, waiting for its parent to collect it
    if proc_start is not None:
        now = process_start(pid)
        if now is not None and now != proc_start:
            return False  # the pid was reused by another process
    return True


def status_as_read(status: str, pid: int | None, hostname: str | None,
                   proc_start: str | None) -> tuple[str, str | None]:
    """The status a run reads back with, and a note: a ``running`` run whose writer is gone is
    ``incomplete``."""
    if status == "running" and writer_alive(pid, hostname, proc_start) is False:
        return "incomplete", (f"left running by process {pid} on {hostname}, which is no longer "
                              f"alive; shown as incomplete")
    return status, None
