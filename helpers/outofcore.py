"""Plumbing for data bigger than memory: memory over time, and the page cache.

- Memory over time is :class:`helpers.memory.MemorySampler`: it samples in a background
  thread, so a peak reached *inside* one NumPy call (which releases the GIL while it fills
  an array) is seen, not only the memory between batches.
- :func:`evict_from_page_cache` asks the kernel to drop a file's cached pages
  (``posix_fadvise(..., POSIX_FADV_DONTNEED)``, no root needed on Linux), so the next
  read comes from the disk: a *cold* run. :func:`cached_fraction` checks how much of a
  file is in the page cache (``mincore``), so a notebook can show that eviction worked.
- :func:`plot_memory_trace` and :func:`plot_orders` draw in the house style.

No PyTorch or TensorFlow here. Linux gives every number; on macOS file-backed memory
and eviction are not available (``nan`` / ``False``), which callers must report.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .plots import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .memory import MemorySampler


# --------------------------------------------------------------------------- sampler
# --------------------------------------------------------------------------- page cache
def evict_from_page_cache(path: str | os.PathLike) -> bool:
    """Ask the kernel to drop ``path``'s pages from the page cache; ``True`` if asked.

    Writes dirty pages out first (``fdatasync``), then ``posix_fadvise(fd, 0, 0,
    POSIX_FADV_DONTNEED)``. Needs no root, but it is advice: pages that any process
    still has memory-mapped stay cached (close your ``np.memmap`` first), and a
    virtual machine's host may still have the bytes in *its* cache. Returns ``False``
    where ``posix_fadvise`` does not exist (macOS, Windows): then "cold" runs are warm.
    """
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


_PROT_READ, _MAP_SHARED = 1, 1


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    return libc


def cached_fraction(path: str | os.PathLike) -> float:
    """Fraction (0..1) of ``path``'s pages that are in the page cache right now.

    Maps the file without touching it and asks ``mincore(2)`` which pages are
    resident; mapping does not read anything, so the answer is not disturbed.
    ``nan`` where ``mincore`` is unavailable; ``1.0`` for an empty file.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return 1.0
    try:
        libc = _libc()
    except (OSError, AttributeError):
        return math.nan
    page = os.sysconf("SC_PAGE_SIZE")
    pages = (size + page - 1) // page
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, _PROT_READ, _MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            raise OSError(ctypes.get_errno(), f"{path}: mmap failed")
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(ctypes.c_void_p(addr), size, vec) != 0:
                raise OSError(ctypes.get_errno(), f"{path}: mincore failed")
        finally:
            libc.munmap(ctypes.c_void_p(addr), size)
    finally:
        os.close(fd)
    resident = np.frombuffer(vec, dtype=np.uint8) & 1
    return float(resident.mean())


# --------------------------------------------------------------------------- plots
def plot_memory_trace(
    sampler: MemorySampler,
    *,
    title: str = "Memory over time",
    baseline_mb: float | None = None,
    ax=None,
) -> Figure:
    """Anonymous (and file-backed, when known) MB over time, with the sampler's marks
    as labelled vertical lines. ``baseline_mb`` is subtracted (default: the first
    anonymous sample), so the y axis shows growth."""
    import matplotlib.pyplot as plt

    if not sampler._times:
        raise ValueError("the sampler has no samples: use it as a context manager first")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 2.8))
    else:
        fig = ax.figure
    base = sampler.start_anon_mb if baseline_mb is None else baseline_mb
    ax.plot(sampler.times_s, sampler.anon_mb - base, color=PALETTE[0], label="anonymous")
    if not np.all(np.isnan(sampler.file_mb)):
        file0 = sampler.file_mb[0]
        ax.plot(sampler.times_s, sampler.file_mb - file0, color=PALETTE[2], label="file-backed")
    for t, label in sampler.marks:
        ax.axvline(t, color="0.5", lw=0.8, ls="--")
        ax.annotate(
            label,
            (t, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            fontsize=8,
            va="top",
            color="0.3",
        )
    ax.set_xlabel("seconds")
    ax.set_ylabel("MB above start")
    ax.set_title(title)
    ax.legend(loc="center right")
    return fig


def plot_orders(
    orders: Mapping[str, np.ndarray],
    *,
    chunk_samples: int | None = None,
    title: str = "Which sample is read when",
    max_points: int = 4000,
) -> Figure:
    """One small panel per order: file position (y) of the k-th sample delivered (x).

    ``orders`` maps a name to a 1-D array of sample indices in delivery order. A
    diagonal is sequential reading; blocks along the diagonal are chunk-local
    shuffling; a uniform cloud is a full shuffle. ``chunk_samples`` draws chunk
    boundaries as faint lines. At most ``max_points`` points per panel are drawn (a
    fixed random subset when there are more).
    """
    import matplotlib.pyplot as plt

    if not orders:
        raise ValueError("orders is empty: nothing to draw")
    k = len(orders)
    fig, axes = plt.subplots(1, k, figsize=(2.3 * k, 2.4), sharey=True, squeeze=False)
    for ax, (name, order), color in zip(axes[0], orders.items(), PALETTE, strict=False):
        order = np.asarray(order)
        k = np.arange(len(order))
        if len(order) > max_points:  # a random subset: a regular stride can alias with batches
            k = np.sort(np.random.default_rng(0).choice(len(order), max_points, replace=False))
        ax.scatter(k, order[k], s=1.5, color=color, lw=0)
        if chunk_samples:
            for b in range(chunk_samples, len(order), chunk_samples):
                ax.axhline(b, color="0.85", lw=0.5, zorder=0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("delivered k-th")
        ax.grid(False)
    axes[0][0].set_ylabel("position in file")
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


__all__ = [
    "evict_from_page_cache",
    "cached_fraction",
    "plot_memory_trace",
    "plot_orders",
]
