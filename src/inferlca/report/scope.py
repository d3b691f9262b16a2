"""Which manufacturing scope stored runs are read at (``project`` and ``recommend`` ``--scope``).

A stored run's embodied term was computed at the scope it ran with (``spec.scope``: ``chip``,
``card`` or ``server-share``; runs stored before scopes existed are ``chip``). These commands never
recompute it at another scope: a stored run carries only its own scope's footprint, and mixing
scopes in one ranking or projection would compare unlike totals. So:

* without a scope, the selected runs must share one (else: choose one with ``--scope``);
* with a scope, only runs stored at that scope are used, and a device whose runs are all at
  another scope is refused, with the way to get it (re-run with ``--scope``).
"""

from __future__ import annotations

from collections.abc import Sequence

from inferlca.errors import UsageError
from inferlca.report.data import RunView


def stored_scope(v: RunView) -> str:
    """The manufacturing scope a run was stored with (``chip`` for runs before scopes)."""
    return str(v.spec.get("scope") or "chip")


def runs_at_scope(runs: Sequence[RunView], scope: str | None) -> tuple[list[RunView], str | None]:
    """The runs to use and their common scope (None when ``runs`` is empty).

    Raises:
        UnknownNameError: an unknown scope (exit 2).
        UsageError: runs of several scopes and no scope asked; a device with no run at the scope
            asked (one line: which device, its stored scopes, what to do).
    """
    if scope is None:
        scopes = sorted({stored_scope(v) for v in runs})
        if len(scopes) > 1:
            raise UsageError(f"the selected runs were stored at several manufacturing scopes "
                             f"({', '.join(scopes)}); choose one with --scope")
        return list(runs), scopes[0] if scopes else None
    from inferlca.lca.embodied import check_scope

    check_scope(scope)
    kept = [v for v in runs if stored_scope(v) == scope]
    have = {v.device_name for v in kept}
    for v in runs:
        if v.device_name not in have:
            others = sorted({stored_scope(w) for w in runs if w.device_name == v.device_name})
            raise UsageError(
                f"no run of {v.device_name} at manufacturing scope {scope} (stored at "
                f"{', '.join(others)}); stored embodied terms are not recomputed at another scope: "
                f"re-run it with `inferlca run --scope {scope}`, or leave --scope out")
    return kept, scope
