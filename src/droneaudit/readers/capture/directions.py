"""The flow directions that need no more payload, with a vectorised membership test.

Why: every chunk offers the payload collector all TCP segments with data, and after the first seconds
of a capture nearly all of them belong to directions that already gave their name (or proved they
have none). Testing each chunk's packets against that set must cost a few array operations, not a
sort of 55-byte keys per chunk. The set keeps its keys (bytes, as before) and, alongside, a sorted
array of 64-bit hashes with the keys in the same order; ``live`` finds each packet's hash there and
then compares the whole key, so a hash collision can only let a packet through to the exact test
that follows it (``key in done``), never drop one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)


def key_hash(keyed: np.ndarray) -> np.ndarray:
    """64-bit hash of structured direction keys (``k``: KEY_DTYPE, ``d``: direction); equal keys,
    equal hashes. Integer overflow wraps, which is what a hash wants."""
    k = keyed["k"]
    h = keyed["d"].astype(np.uint64)
    for name in k.dtype.names or ():
        h = (h * _MIX) ^ k[name].astype(np.uint64)
        h ^= h >> np.uint64(29)
    return h


class DoneSet(set[bytes]):
    """A set of direction keys that also answers "which of these rows are not in me?" in bulk."""

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        super().__init__(keys)
        self._fresh: list[bytes] = list(self)
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._keys: np.ndarray | None = None

    def add(self, key: bytes) -> None:
        if key not in self:
            super().add(key)
            self._fresh.append(key)

    def live(self, keyed: np.ndarray) -> np.ndarray:
        """Rows of ``keyed`` whose key is not known to be done (True = keep). Exact for every key added
        with ``add``; a key that shares its hash with another done key may be kept, so callers still
        check ``key in self`` on the few rows that pass."""
        if not self:
            return np.ones(keyed.shape[0], dtype=bool)
        width = f"V{keyed.dtype.itemsize}"
        self._index(width, keyed.dtype)
        assert self._keys is not None
        h = key_hash(keyed)
        at = np.minimum(np.searchsorted(self._hashes, h), self._hashes.shape[0] - 1)
        same = (self._hashes[at] == h) & (self._keys[at] == keyed.view(width))
        keep: np.ndarray = ~same
        return keep

    def _index(self, width: str, dtype: np.dtype) -> None:
        """Fold the keys added since the last call into the sorted arrays."""
        if not self._fresh and self._keys is not None:
            return
        new = np.array(self._fresh, dtype=width)
        self._fresh = []
        keys = new if self._keys is None else np.concatenate([self._keys, new])
        hashes = np.concatenate([self._hashes, key_hash(new.view(dtype))])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._keys = hashes[order], keys[order]
