"""Compact, lossless encoding of numeric arrays (power traces, latencies) as SQLite BLOBs.

Three encodings, the smallest that is exact is kept; ``decode(*encode(a))`` equals ``a`` bit for
bit, NaN gaps and ``-0.0`` included:

* ``dec<k>``: sensors report fixed-point numbers (NVML whole milliwatts and millijoules, tegrastats
  whole milliwatts), which become ``mW / 1000`` in watts. When every finite value is exactly
  ``integer / 10**k`` (``k`` = 0..6, checked bit for bit), the integers are stored, as differences
  from one value to the next (cumulative energy counters then become small numbers), int64,
  byte-shuffled and zlib-compressed. NaN positions are kept as a bit mask in front.
* ``float32`` when casting to it and back changes no bit, else ``float64``; byte-shuffled and
  zlib-compressed when that is smaller (``shuffle-zlib``), else ``raw``.

Byte shuffling (all first bytes of the values, then all second bytes...) puts the slowly varying
high bytes side by side, which zlib compresses well.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

from inferlca.errors import StoreError

CODECS = ("raw", "shuffle-zlib", *(f"dec{k}" for k in range(7)))
DTYPES = ("<f4", "<f8", "<i8")

_NAN_BITS = np.array([np.nan]).view(np.uint64)[0]
_MAX_SCALED = 2.0 ** 52  # integers beyond this are not all exact in float64


def _shuffle_zlib(arr: np.ndarray) -> bytes:
    shuffled = np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(arr.size, arr.itemsize).T.tobytes()
    return zlib.compress(shuffled, 6)


def _unshuffle(data: bytes, itemsize: int, n: int) -> bytes:
    return np.frombuffer(data, dtype=np.uint8).reshape(itemsize, n).T.tobytes()


def _decimal(a: np.ndarray) -> tuple[int, bytes] | None:
    """``(k, blob)`` when every finite value is exactly ``integer / 10**k``; else ``None``."""
    nan = np.isnan(a)
    if nan.any() and not np.all(a[nan].view(np.uint64) == _NAN_BITS):
        return None  # an unusual NaN payload: keep it bit for bit in a float encoding
    finite = a[~nan]
    if finite.size == 0 or not np.all(np.isfinite(finite)):
        return None
    for k in range(7):
        scale = 10.0 ** k
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.rint(finite * scale)
        if np.max(np.abs(scaled)) >= _MAX_SCALED:
            return None
        ints = scaled.astype(np.int64)
        back = ints.astype(np.float64) / scale
        if np.all(back.view(np.uint64) == finite.view(np.uint64)):
            full = np.zeros(a.size, dtype=np.int64)
            full[~nan] = ints
            if nan.any():  # a gap repeats the previous value so its difference is 0
                idx = np.where(~nan, np.arange(a.size), 0)
                np.maximum.accumulate(idx, out=idx)
                full = full[idx]
            deltas = np.diff(full, prepend=np.int64(0)).astype("<i8")
            mask = np.packbits(nan).tobytes() if nan.any() else b""
            return k, struct.pack("<I", len(mask)) + mask + _shuffle_zlib(deltas)
    return None


def encode(values: np.ndarray | Sequence[float]) -> tuple[str, str, int, bytes]:
    """Encode a 1-D numeric array.

    Returns:
        ``(dtype, codec, n, blob)`` to store side by side.
    """
    a = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel())
    n = int(a.size)
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = a.astype("<f4")
        # compare bits, not values: -0.0 and NaN payloads must survive too
        exact32 = bool(np.all(narrow.astype(np.float64).view(np.uint64) == a.view(np.uint64)))
    arr = narrow if exact32 else a.astype("<f8")
    best = (arr.dtype.str, "raw", n, arr.tobytes())
    if n < 16:
        return best
    packed = _shuffle_zlib(arr)
    if len(packed) < len(best[3]):
        best = (arr.dtype.str, "shuffle-zlib", n, packed)
    dec = _decimal(a)
    if dec is not None and len(dec[1]) < len(best[3]):
        best = ("<i8", f"dec{dec[0]}", n, dec[1])
    return best


def decode(dtype: str, codec: str, n: int, blob: bytes) -> np.ndarray:
    """Inverse of :func:`encode`; returns a ``float64`` array of length ``n``."""
    if dtype not in DTYPES or codec not in CODECS:
        raise StoreError(f"unknown array encoding {dtype}/{codec} in the store "
                         f"(known: {', '.join(DTYPES)} / {', '.join(CODECS)}); "
                         f"it may come from a newer inferlca")
    data = bytes(blob)
    try:
        if codec.startswith("dec"):
            k = int(codec[3:])
            (mask_len,) = struct.unpack_from("<I", data)
            mask = np.unpackbits(np.frombuffer(data[4:4 + mask_len], dtype=np.uint8))[:n].astype(bool) \
                if mask_len else None
            raw = _unshuffle(zlib.decompress(data[4 + mask_len:]), 8, n)
            ints = np.cumsum(np.frombuffer(raw, dtype="<i8"), dtype=np.int64)
            out = ints.astype(np.float64) / 10.0 ** k
            if mask is not None:
                out[mask] = np.nan
            return out
        itemsize = np.dtype(dtype).itemsize
        if codec == "shuffle-zlib":
            data = _unshuffle(zlib.decompress(data), itemsize, n)
    except (zlib.error, struct.error, ValueError) as exc:
        raise StoreError(f"a stored array is corrupt: {exc}") from None
    if len(data) != n * itemsize:
        raise StoreError(f"a stored array is corrupt: {len(data)} bytes for {n} values of {dtype}")
    return np.frombuffer(data, dtype=dtype).astype(np.float64)
