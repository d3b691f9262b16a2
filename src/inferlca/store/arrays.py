"""Compact, lossless encoding of numeric arrays (power traces, latencies) as SQLite BLOBs.

An array is stored in the narrowest float type that holds every value exactly (``float32`` when
casting to it and back changes nothing, else ``float64``), then byte-shuffled and compressed with
zlib when that makes it smaller. Byte shuffling (all first bytes of the values, then all second
bytes...) puts the slowly varying sign/exponent bytes of a sensor's readings side by side, which
zlib compresses well. Nothing is rounded: ``decode(encode(a))`` equals ``a`` bit for bit, NaN
gaps included.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from inferlca.errors import StoreError

CODECS = ("raw", "shuffle-zlib")
DTYPES = ("<f4", "<f8")


def encode(values: np.ndarray | Sequence[float]) -> tuple[str, str, int, bytes]:
    """Encode a 1-D numeric array.

    Returns:
        ``(dtype, codec, n, blob)`` to store side by side; ``dtype`` is ``"<f4"`` or ``"<f8"``.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = a.astype("<f4")
        exact32 = np.array_equal(narrow.astype(np.float64), a, equal_nan=True)
    arr = narrow if exact32 else a.astype("<f8")
    dtype = arr.dtype.str
    raw = arr.tobytes()
    if arr.size < 16:
        return dtype, "raw", int(arr.size), raw
    shuffled = np.frombuffer(raw, dtype=np.uint8).reshape(arr.size, arr.itemsize).T.tobytes()
    packed = zlib.compress(shuffled, 6)
    if len(packed) < len(raw):
        return dtype, "shuffle-zlib", int(arr.size), packed
    return dtype, "raw", int(arr.size), raw


def decode(dtype: str, codec: str, n: int, blob: bytes) -> np.ndarray:
    """Inverse of :func:`encode`; returns a ``float64`` array of length ``n``."""
    if dtype not in DTYPES or codec not in CODECS:
        raise StoreError(f"unknown array encoding {dtype}/{codec} in the store "
                         f"(known: {', '.join(DTYPES)} / {', '.join(CODECS)})")
    itemsize = np.dtype(dtype).itemsize
    data = bytes(blob)
    if codec == "shuffle-zlib":
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise StoreError(f"a stored array is corrupt: {exc}") from None
        data = np.frombuffer(data, dtype=np.uint8).reshape(itemsize, n).T.tobytes()
    if len(data) != n * itemsize:
        raise StoreError(f"a stored array is corrupt: {len(data)} bytes for {n} values of {dtype}")
    return np.frombuffer(data, dtype=dtype).astype(np.float64)
