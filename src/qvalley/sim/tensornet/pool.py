"""A buffer pool (arena) for the executor's large intermediates.

Writing a freshly allocated 1-2 GiB array costs a page fault per 4 KiB page: measured on the
Sycamore n53 m10 amplitude, 1 GiB into fresh memory took 0.32-2.85 s against 0.089 s into memory
written before, and that was most of the time of the large x small steps. The executor therefore
takes every intermediate of at least ``min_bytes`` (and every transposed copy) from a
:class:`BufferPool` and gives it back once its last consumer has run; the next slice and the next
call reuse the same pages. A request is served by the smallest free buffer of at least its size
(and at most ``max_ratio`` times it), viewed as the requested dtype and length: on the complex128
Sycamore n53 m10 amplitude that keeps 5.4 GiB instead of 7.5 GiB with exact-size reuse.

By default the executor takes one buffer per contraction from the pool, an arena in which it
places that contraction's intermediates at offsets planned before it runs (about the peak of live
memory: 0.50 GiB instead of 1.22 GiB of best-fit buffers on the complex64 n53 m10 combo tree);
with ``Executor(arena=False)`` every intermediate is a pool request of its own.

The pool is shared by the threads that contract slices in parallel (one lock around the free
lists; a buffer is lent to one contraction at a time). It keeps its memory until
:meth:`BufferPool.release` (or the owner is garbage collected).
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

import numpy as np

DEFAULT_MIN_BYTES = 1 << 20  # smaller arrays come from malloc as usual


class BufferPool:
    """Reusable flat buffers: the smallest free one that fits serves a request (best fit).

    Args:
        min_bytes: arrays smaller than this are not pooled (:meth:`take` returns ``None``).
        max_ratio: a free buffer serves requests of at least ``1 / max_ratio`` of its size.

    With best fit a repeated contraction may get other buffers than the call before and
    allocate a few more until the pool settles (a call that allocates nothing leaves the pool
    as it found it); ``max_ratio=1`` is exact-size reuse, where a repeat never allocates.

    Attributes:
        allocations: buffers the pool has created (grows only when no free one fits).
        reuses: requests served from a free buffer.

    Examples:
        >>> pool = BufferPool(min_bytes=0)
        >>> a = pool.take(1000, np.complex64)
        >>> pool.give(a)
        >>> pool.take(1000, np.complex64) is a, pool.allocations
        (True, 1)
        >>> pool.give(a)
        >>> b = pool.take(600, np.complex128)  # 9600 bytes: a's 8000 are too few
        >>> c = pool.take(900, np.complex64)  # served by a's memory
        >>> np.shares_memory(c, a), pool.allocations
        (True, 2)
    """

    def __init__(self, min_bytes: int = DEFAULT_MIN_BYTES, max_ratio: float = 4.0) -> None:
        self.min_bytes = int(min_bytes)
        self.max_ratio = float(max_ratio)
        self._free: list[np.ndarray] = []  # raw buffers (own their memory), by increasing nbytes
        self._sizes: list[int] = []  # their nbytes, for bisect
        self._lock = threading.Lock()
        self.allocations = 0
        self.reuses = 0

    def take(self, n: int, dtype: Any) -> np.ndarray | None:
        """A flat C-contiguous array of ``n`` elements of ``dtype`` (contents undefined), or
        ``None`` below ``min_bytes`` (the caller allocates it and never gives it back)."""
        dt = np.dtype(dtype)
        need = int(n) * dt.itemsize
        if need < self.min_bytes or n == 0:
            return None
        raw = None
        with self._lock:
            j = bisect.bisect_left(self._sizes, need)
            if j < len(self._sizes) and self._sizes[j] <= self.max_ratio * need:
                self._sizes.pop(j)
                raw = self._free.pop(j)
                self.reuses += 1
            else:
                self.allocations += 1
        if raw is None:
            return np.empty(n, dtype=dt)
        if raw.dtype == dt and raw.size == n:
            return raw
        return raw.view(np.uint8)[:need].view(dt)  # .base is raw (numpy keeps the owner)

    def give(self, buf: np.ndarray) -> None:
        """Return an array from :meth:`take` (or any array owning its memory); the caller must
        hold no view of it any more."""
        raw = buf if buf.base is None else buf.base
        if (not isinstance(raw, np.ndarray) or raw.base is not None
                or buf.__array_interface__["data"][0] != raw.__array_interface__["data"][0]):
            raise ValueError("give() takes arrays from take() or arrays owning their memory")
        with self._lock:
            j = bisect.bisect_right(self._sizes, raw.nbytes)
            self._sizes.insert(j, raw.nbytes)
            self._free.insert(j, raw)

    @property
    def free_bytes(self) -> int:
        """Bytes held in free buffers (resident memory kept for the next contraction)."""
        with self._lock:
            return sum(self._sizes)

    def release(self) -> None:
        """Drop every free buffer (their memory goes back to the allocator/OS)."""
        with self._lock:
            self._free.clear()
            self._sizes.clear()

    def __getstate__(self) -> dict[str, Any]:  # pickled (e.g. to Dask workers): empty
        return {"min_bytes": self.min_bytes, "max_ratio": self.max_ratio}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["min_bytes"], state.get("max_ratio", 4.0))  # type: ignore[misc]
