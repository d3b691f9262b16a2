"""Where the results store is: the default path, and a path checked before SQLite opens it."""

from __future__ import annotations

import os
from pathlib import Path

from inferlca.errors import StoreError, named

ENV_VAR = "INFERLCA_STORE"
DEFAULT_FILENAME = "inferlca.db"


def default_store_path() -> Path:
    """``$INFERLCA_STORE`` when set, else ``./inferlca.db`` in the working directory."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path.cwd() / DEFAULT_FILENAME


def resolve_store_path(path: str | os.PathLike[str] | None) -> Path:
    """The store path a command should use: the one given, else :func:`default_store_path`."""
    if path is None or str(path) == "":
        return default_store_path()
    return Path(path).expanduser()


def usable_path(path: str | os.PathLike[str] | None) -> Path:
    """The store path, refused when it is empty or a directory."""
    if path is not None and not str(path).strip():
        raise StoreError(f"the {named('store')} path is empty: give a file path such as "
                         f"./{DEFAULT_FILENAME}, or leave the option out for the default")
    p = resolve_store_path(path)
    if p.is_dir():
        raise StoreError(f"cannot use {p} as the results store: it is a directory; "
                         f"give a file path such as {p / DEFAULT_FILENAME}")
    return p


def writable_path(path: str | os.PathLike[str] | None) -> Path:
    """The store path, its folder created; refused with a clear message when it cannot be written."""
    p = usable_path(path)
    parent = p.parent
    if p.exists() and not p.is_file():
        raise StoreError(f"cannot use {p} as the results store: it is not a regular file; "
                         f"give a file path such as ./{DEFAULT_FILENAME}")
    if parent.exists() and not parent.is_dir():
        raise StoreError(f"cannot create the results store at {p}: {parent} is a file, not a "
                         f"folder; choose a writable {named('store')} PATH")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the results store at {p}: the folder {parent} cannot "
                         f"be created ({exc.strerror or exc}); choose a writable {named('store')} PATH") from None
    if not parent.is_dir():
        raise StoreError(f"cannot create the results store at {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise StoreError(f"cannot write the results store at {p}: permission denied; "
                         f"choose a writable {named('store')} PATH (or set {ENV_VAR})")
    return p
