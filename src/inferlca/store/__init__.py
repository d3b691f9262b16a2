"""The results store (SQLite) and its export: see :mod:`inferlca.store.sqlite` (the facade) and
its modules by job (``schema``, ``owner``, ``paths``, ``rows``, ``unsaved``, ``merge``)."""

from inferlca.store.merge import MergeResult
from inferlca.store.paths import default_store_path
from inferlca.store.records import RepetitionRecord, RunRecord
from inferlca.store.schema import SCHEMA_VERSION
from inferlca.store.sqlite import ReadOnlyStore, Store

__all__ = [
           "SCHEMA_VERSION",
           "MergeResult",
           "ReadOnlyStore",
           "RepetitionRecord",
           "RunRecord",
           "Store",
           "default_store_path",
]
