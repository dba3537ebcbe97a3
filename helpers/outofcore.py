"""Plumbing for data bigger than memory: memory over time, and the page cache.

- Memory over time is :class:`helpers.memory.MemorySampler`: it samples in a background
  thread, so a peak reached *inside* one NumPy call (which releases the GIL while it fills
  an array) is seen, not only the memory between batches.
- :func:`evict_from_page_cache` asks the kernel to drop a file's cached pages
  (``posix_fadvise(..., POSIX_FADV_DONTNEED)``, no root needed on Linux), so the next
  read comes from the disk: a *cold* run. :func:`cached_fraction` checks how much of a
  file is in the page cache (``mincore``), so a notebook can show that eviction worked.
- :func:`stream_chunks` and :func:`streamed_mean_std` stream a ``.npy`` file chunk by
  chunk; :func:`run_with_data_cap` runs a function in a fresh Python process whose
  private data is capped (``RLIMIT_DATA``, Linux), to show a file being streamed by a
  process that could not hold it.
- The memory-mapped ``Dataset`` classes of notebook 05 live here, at module level, so
  that ``DataLoader`` workers started by ``spawn`` (macOS, Windows, Linux from Python
  3.14) can import them: :class:`NaiveMemmapDataset`, :class:`MemmapBatches`,
  :class:`PerSampleMemmap`, :class:`EagerMemmapBatches`.
- :func:`plot_memory_trace` and :func:`plot_orders` draw in the house style.

Imports PyTorch (the datasets), not TensorFlow. Linux gives every number; on macOS
file-backed memory and eviction are not available (``nan`` / ``False``), and the data
cap is not enforced, which callers must report.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from . import data

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .memory import MemorySampler


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


def warm_page_cache(path: str | os.PathLike, *, block_bytes: int = 8 * 2**20) -> float:
    """Read ``path`` once, ``block_bytes`` at a time, so its pages are in the page cache.

    Never holds more than one block in memory (any file size works). Returns
    :func:`cached_fraction` afterwards (0..1; ``nan`` where unknown): the starting state
    of a *warm* run, to print next to its figures.
    """
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be >= 1, got {block_bytes}")
    with open(path, "rb", buffering=0) as f:
        while f.read(block_bytes):
            pass
    return cached_fraction(path)


# --------------------------------------------------------------------------- streaming
MB = 2**20


def stream_chunks(x_path: str | os.PathLike, chunk_samples: int) -> Iterator[np.ndarray]:
    """Yield a float32 ``.npy`` file's samples chunk by chunk, each copied into RAM.

    Each chunk is ``(<= chunk_samples, *sample_shape)`` float32, a copy out of a
    read-only memory map (the bytes are read now); drop it before the next one and
    the loop never holds more than one chunk of private memory.
    """
    if chunk_samples < 1:
        raise ValueError(f"chunk_samples must be >= 1, got {chunk_samples}")
    X = data.load_npy(x_path, dtype=np.float32)
    for start in range(0, len(X), chunk_samples):
        yield np.array(X[start : start + chunk_samples])


def streamed_mean_std(
    chunks: Iterable[np.ndarray], on_chunk: Callable[[int], Any] | None = None
) -> tuple[float, float]:
    """Mean and standard deviation of all values, in one pass over an iterable of chunks.

    Sums in float64. ``on_chunk(values_so_far)`` is called after each chunk (for a
    live plot or a memory reading). Raises ``ValueError`` if there are no values.
    """
    total = total_sq = 0.0
    count = 0
    for chunk in chunks:
        flat = chunk.ravel()
        total += float(flat.sum(dtype=np.float64))
        total_sq += float(np.dot(flat, flat))
        count += flat.size
        if on_chunk is not None:
            on_chunk(count)
    if count == 0:
        raise ValueError("no values: the chunks were empty")
    mean = total / count
    return mean, math.sqrt(max(total_sq / count - mean**2, 0.0))


def _status_mb(*fields: str) -> dict[str, float]:
    """Fields of ``/proc/self/status`` (``VmData``, ``RssFile``, ...) in MB (Linux)."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in fields:
                found[name] = int(value.split()[0]) / 1024
    return found


def stream_file_stats(x_path: str, chunk_samples: int) -> dict[str, float]:
    """Mean and std of a float32 ``.npy`` file, streamed (:func:`stream_chunks`).

    Also returns, in MB, the growth of this process's private data (``VmData``) and of
    its file-backed resident memory (``RssFile``: pages of the memory map) at their
    largest after any chunk. Linux only (reads ``/proc/self/status``).
    """
    start = _status_mb("VmData", "RssFile")
    peak = dict(start)

    def note(_: int) -> None:
        for key, value in _status_mb("VmData", "RssFile").items():
            peak[key] = max(peak[key], value)

    mean, std = streamed_mean_std(stream_chunks(x_path, chunk_samples), note)
    return {
        "mean": mean,
        "std": std,
        "data_growth_mb": peak["VmData"] - start["VmData"],
        "file_backed_growth_mb": peak["RssFile"] - start["RssFile"],
    }


def load_whole_file_stats(x_path: str) -> dict[str, float]:
    """The same statistics after ``np.load`` of the whole file into private memory."""
    X = np.load(x_path)  # no mmap_mode: every byte is copied into this process
    mean, std = streamed_mean_std([X])
    return {"mean": mean, "std": std}


def data_cap_supported() -> bool:
    """True where :func:`run_with_data_cap` works: Linux, whose ``RLIMIT_DATA`` caps a
    process's private memory (heap and private anonymous maps, since Linux 4.7).
    macOS does not enforce it for ``mmap``, Windows has no ``resource`` module."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import resource
    except ImportError:
        return False
    return hasattr(resource, "RLIMIT_DATA")


_CHILD = "from helpers.outofcore import _capped_child; _capped_child()"


def run_with_data_cap(
    func: Callable[..., Any],
    *args: Any,
    headroom_bytes: int,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Run ``func(*args)`` in a fresh Python process that may not grow its private data
    by more than ``headroom_bytes``.

    The child imports ``func``'s module, measures its own private data (``VmData``:
    what Python and the imported libraries hold), sets ``RLIMIT_DATA`` to that
    baseline plus ``headroom_bytes``, then calls ``func``. Read-only file maps
    (``np.load(path, mmap_mode="r")``) do not count against the cap; an array read
    into memory does, and fails with ``MemoryError``.

    ``func`` must be a module-level function (the child imports it); ``args`` and its
    return value must be JSON-able (paths are passed as ``str``). Returns a dict:
    ``baseline_mb`` and ``cap_mb`` (MB), ``ok``, then ``result`` (what ``func``
    returned) or ``error`` (``"MemoryError: ..."``, the child's real message), and
    ``seconds``. Another exception in the child, or a child still running after
    ``timeout_s``, raises ``RuntimeError``; the child is killed and reaped whatever
    happens. Linux only: check :func:`data_cap_supported` first.
    """
    if not data_cap_supported():
        raise RuntimeError("RLIMIT_DATA does not cap private memory on this system (Linux only)")
    if headroom_bytes < 0:
        raise ValueError(f"headroom_bytes must be >= 0, got {headroom_bytes}")
    spec = {
        "module": func.__module__,
        "name": func.__qualname__,
        "args": [os.fspath(a) if isinstance(a, os.PathLike) else a for a in args],
        "headroom_bytes": int(headroom_bytes),
    }
    root = str(Path(__file__).resolve().parent.parent)  # so the child finds `helpers`
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    command = [sys.executable, "-c", _CHILD, json.dumps(spec)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the capped child ran past {timeout_s} s and was killed") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the capped child failed (exit {proc.returncode}): {err[-2000:]}")
    return json.loads(lines[-1])


def _capped_child() -> None:
    """The child of :func:`run_with_data_cap`: cap RLIMIT_DATA, call, print JSON."""
    import resource
    import time

    spec = json.loads(sys.argv[1])
    func = getattr(importlib.import_module(spec["module"]), spec["name"])
    baseline_mb = _status_mb("VmData")["VmData"]  # after every import: the child's own cost
    cap = int(baseline_mb * MB) + spec["headroom_bytes"]
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    report: dict[str, Any] = {"baseline_mb": baseline_mb, "cap_mb": cap / MB}
    t0 = time.perf_counter()
    try:
        report.update(ok=True, result=func(*spec["args"]))
    except MemoryError as e:
        report.update(ok=False, error=f"MemoryError: {e}")
    report["seconds"] = time.perf_counter() - t0
    print(json.dumps(report), flush=True)


# --------------------------------------------------------------------------- datasets
# DataLoader workers run these. Under `spawn` (macOS, Windows, Linux from Python 3.14)
# a worker unpickles the dataset, which means importing its class by name: a class
# defined in a notebook cannot be found there, so they live here, at module level.
class NaiveMemmapDataset(Dataset):
    """The memory-mapped Dataset most people write first (do not copy it).

    Opens both maps in ``__init__`` (so they travel with the dataset when it is
    pickled for a spawned worker: the whole file) and returns one sample per index as
    a tensor over the read-only map (PyTorch warns: writing to it is undefined).
    """

    def __init__(self, x_path, y_path):
        self.X = np.load(x_path, mmap_mode="r")
        self.y = np.load(y_path, mmap_mode="r")

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return torch.from_numpy(self.X[i]), int(self.y[i])


class MemmapBatches(Dataset):
    """Batches of signals from two .npy files, opened lazily once per process.

    ``X`` float32 ``(n, 1, length)``, ``y`` int64 ``(n,)``. ``__getitem__`` takes a
    list of indices (from a ``BatchSampler``; use ``batch_size=None`` in the
    ``DataLoader``) and returns ``(x, y, indices)`` tensors, sorted by index, copied.
    """

    def __init__(self, x_path, y_path):
        X = data.load_npy(x_path, shape=(None, 1, None), dtype=np.float32)  # check now
        data.load_npy(y_path, shape=(len(X),), dtype=np.int64)
        self.x_path, self.y_path, self.n = x_path, y_path, len(X)
        self.X = self.y = None  # opened on first use, in the process that uses it

    def __len__(self):
        return self.n

    def __getstate__(self):  # pickled (for a spawned worker): paths only, never the maps
        return {**self.__dict__, "X": None, "y": None}

    def _open(self):
        if self.X is None:
            self.X, self.y = data.load_npy(self.x_path), data.load_npy(self.y_path)

    def __getitem__(self, indices):  # one batch of indices, from the BatchSampler
        self._open()
        idx = np.sort(np.asarray(indices))  # read forward through the file
        xb, yb = self.X[idx], self.y[idx]  # fancy indexing: an explicit copy of the batch
        return torch.from_numpy(xb), torch.from_numpy(yb), torch.from_numpy(idx)


class PerSampleMemmap(MemmapBatches):
    """One sample per index, copied out of the map (for a ``DataLoader`` that batches)."""

    def __getitem__(self, i):
        self._open()
        return torch.from_numpy(np.array(self.X[i])), int(self.y[i])  # copy: no warning


class EagerMemmapBatches(MemmapBatches):
    """MemmapBatches with the lazy open undone: maps opened in ``__init__``, pickled."""

    def __init__(self, x_path, y_path):
        super().__init__(x_path, y_path)
        self._open()  # eager: the maps exist before any worker starts

    def __getstate__(self):  # pickles everything, the maps (and so the whole file) included
        return self.__dict__


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

    from .plots import PALETTE

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

    from .plots import PALETTE

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
    "warm_page_cache",
    "stream_chunks",
    "streamed_mean_std",
    "stream_file_stats",
    "load_whole_file_stats",
    "data_cap_supported",
    "run_with_data_cap",
    "NaiveMemmapDataset",
    "MemmapBatches",
    "PerSampleMemmap",
    "EagerMemmapBatches",
    "plot_memory_trace",
    "plot_orders",
]
