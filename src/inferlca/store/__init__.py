"""The results store (SQLite) and its export: see :mod:`inferlca.store.sqlite`."""

from inferlca.store.records import RepetitionRecord, RunRecord
from inferlca.store.sqlite import SCHEMA_VERSION, MergeResult, Store, default_store_path

__all__ = [
           "SCHEMA_VERSION",
           "MergeResult",
           "RepetitionRecord",
           "RunRecord",
           "Store",
           "default_store_path",
]
