"""Campaign settings that live inside a workload's options (``RunSpec.extra``), not in a RunSpec
field of their own, so that a grid can sweep them like any axis.

``max_concurrency`` (requests in flight at most, for ``openai-endpoint``) is stored where an
``inferlca run --max-concurrency N`` puts it: ``extra["endpoint"]["max_concurrency"]``. A cell
with the axis ``max_concurrency: [8]`` is therefore the very same run specification (and has the
same cell id) as one with ``defaults: {extra: {endpoint: {max_concurrency: 8}}}``. Sweeping the
request rate needs no such setting: ``target_qps`` (Server), ``users``, ``think_time_s`` and
``duration_s`` (interactive) are RunSpec fields, hence axes already.
"""

from __future__ import annotations

import copy
from typing import Any

from inferlca.errors import InvalidValueError

#: name in a campaign file -> (section of ``extra``, key in it, the workload that reads it)
NESTED: dict[str, tuple[str, str, str]] = {
    "max_concurrency": ("endpoint", "max_concurrency", "openai-endpoint"),
}


def nest_settings(settings: dict[str, Any], workload: str) -> dict[str, Any]:
    """``settings`` with the nested names moved into ``extra[section][key]`` (a copy)."""
    if not any(name in settings for name in NESTED):
        return settings
    out = dict(settings)
    extra = copy.deepcopy(out.get("extra") or {})
    if not isinstance(extra, dict):
        raise InvalidValueError(f"extra must be a mapping, got {extra!r}")
    for name, (section, key, owner) in NESTED.items():
        if name not in out:
            continue
        value = out.pop(name)
        if workload != owner:
            raise InvalidValueError(f"{name} is a setting of the {owner} workload, not of "
                                    f"{workload!r}; drop it from this cell (or use an override "
                                    f"with where: {{workload: {owner}}})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidValueError(f"{name} must be an integer >= 1, got {value!r}")
        part = extra.get(section)
        if part is not None and not isinstance(part, dict):
            raise InvalidValueError(f"extra.{section} must be a mapping, got {part!r}")
        extra[section] = {**(part or {}), key: value}
    out["extra"] = extra
    return out


def setting_value(spec: Any, name: str) -> Any:
    """A cell's value of a RunSpec field or of a nested setting (``None`` when unset)."""
    if name in NESTED:
        section, key, _owner = NESTED[name]
        part = (spec.extra or {}).get(section)
        return part.get(key) if isinstance(part, dict) else None
    return getattr(spec, name, None)
