"""Work memory kept between calls: ``mygru.workspace``.

A training loop calls the same layer with the same shapes thousands of times.
Each call needs a few sequence-sized work arrays (the gate activations, the
backward's weight copies) that die when its backward ends. Freed and allocated
again, such arrays come back from glibc either as memory the process still has
or, depending on what the process freed before, as fresh pages from the system,
which the kernel then has to fault in one by one (measured at the course size in
float64: up to 2000 page faults, 15-20 % of a call, from one run of a loop to
the next). The workspace keeps them instead: a kernel takes its work arrays from
here and gives them back when the op releases it, so a call of a shape seen
before reuses the same memory. (Arrays a kernel is done with before its end are
freed there, not given back: kept, they would stay allocated through the rest of
the call and raise its peak.)

Only arrays that never leave a kernel are taken from here; the states, s.grad
and every gradient are new arrays, as before. Small arrays (below
``min_bytes``) come from numpy directly, where malloc reuses memory anyway.

Threads: the workspace is the only state the kernels share, and one lock guards
it (taking a buffer, giving buffers back, ``held``), so threads may call the ops
at once: a buffer goes to one caller at a time, and ``held`` stays exact. What
mygrad itself allows across threads is another matter (docs: conventions).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from math import prod
from numbers import Integral

import numpy as np

__all__ = ["Workspace", "aligned_empty", "workspace"]

# Every work array starts on a cache line of 64 bytes. numpy's own arrays start 16 bytes
# into one when they are large (glibc maps them with a 16-byte header before the data),
# and so does every step's block of a per-step array then; an elementwise call whose
# operands straddle cache lines costs up to twice as much (docs/benchmarks.md).
_ALIGN = 64


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Like ``np.empty(shape, dtype)``, starting on a 64-byte boundary: a view of a
    slightly larger uint8 array (its ``base``), which keeps the memory alive. Below
    64 KiB just ``np.empty``: there a call costs its overhead, and aligning would add
    more than it saves (measured at the tiny size)."""
    dtype = np.dtype(dtype)
    nbytes = prod(shape) * dtype.itemsize
    if nbytes < 65536:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes].view(dtype).reshape(shape)


class Workspace:
    """Buffers free for reuse, by size, at most ``limit`` bytes in all.

    Setting ``limit`` or ``min_bytes`` to anything but an int >= 0 raises a
    TypeError or ValueError naming it. Threads may call every method at once: one
    lock guards the kept buffers and ``held`` together.

    Attributes
    ----------
    limit : int >= 0
        Bytes of free buffers kept at most; when a returned buffer would exceed
        it, the sizes returned least recently are dropped first. 0 keeps nothing;
        lowering it drops what no longer fits.
    held : int
        Bytes of free buffers kept now (arrays in use are not counted).
    min_bytes : int >= 0
        Arrays smaller than this are not kept.
    """

    def __init__(self, limit: int = 128 * 2**20, min_bytes: int = 64 * 2**10) -> None:
        self.held = 0
        self._free: OrderedDict[int, list[np.ndarray]] = (
            OrderedDict()
        )  # nbytes -> [uint8 buffers], least recently returned first
        self._lock = threading.Lock()  # guards _free and held together
        self.limit, self.min_bytes = limit, min_bytes

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = _bytes("limit", value)
        self.give([])  # drop what no longer fits

    @property
    def min_bytes(self) -> int:
        return self._min_bytes

    @min_bytes.setter
    def min_bytes(self, value: int) -> None:
        self._min_bytes = _bytes("min_bytes", value)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype, taken: list[np.ndarray]) -> np.ndarray:
        """An uninitialized array like ``np.empty(shape, dtype)`` (``dtype`` a numpy
        dtype), 64-byte aligned (:func:`aligned_empty`); if it came from (or may go to)
        the workspace, its buffer (an aligned uint8 array of its bytes) is appended to
        ``taken``."""
        nbytes = prod(shape) * dtype.itemsize
        if nbytes < self._min_bytes:
            return aligned_empty(shape, dtype)
        with self._lock:  # the check and the pop in one step: another thread may want this size
            buf = self._pop(nbytes) if nbytes in self._free else None
        if buf is None:
            buf = aligned_empty((nbytes,), np.dtype(np.uint8))
        taken.append(buf)
        return buf.view(dtype).reshape(shape)

    def give(self, taken: list[np.ndarray]) -> None:
        """Take back the buffers of ``taken`` (whose arrays nobody uses any more)."""
        with self._lock:
            for buf in taken:
                nbytes = buf.size
                if nbytes > self._limit:
                    continue
                self._free.setdefault(nbytes, []).append(buf)
                self._free.move_to_end(nbytes)
                self.held += nbytes
            while self.held > self._limit:  # drop the sizes returned least recently
                self._pop(next(iter(self._free)))
        taken.clear()

    def _pop(self, nbytes: int) -> np.ndarray:
        """Remove one kept buffer of ``nbytes`` (there must be one) and return it; the
        caller holds the lock."""
        free = self._free[nbytes]
        buf = free.pop()
        self.held -= nbytes
        if not free:  # no empty lists stay behind
            del self._free[nbytes]
        return buf

    def clear(self) -> None:
        """Let go of every kept buffer (``held`` becomes 0)."""
        with self._lock:
            self._free.clear()
            self.held = 0

    def __repr__(self) -> str:
        return f"Workspace(held={self.held}, limit={self.limit}, min_bytes={self.min_bytes})"


def _bytes(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"workspace.{name} must be an int number of bytes >= 0, got {value!r} of type {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(f"workspace.{name} must be an int number of bytes >= 0, got {value}")
    return int(value)


workspace = Workspace()
