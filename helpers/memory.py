"""What a process and its workers really hold in memory: one module, one vocabulary.

Every figure is in MB (2**20 bytes) and comes in two kinds:

- **anonymous** (``anon_mb``): memory the processes allocated (arrays, tensors, Python
  objects, and shared-memory segments such as the ones ``DataLoader`` workers hand
  batches over in). It needs RAM (or swap): this is the real pressure.
- **file-backed** (``file_mb``): pages of files mapped into the processes (libraries,
  ``np.load(mmap_mode="r")``). They are a cache the OS can drop and read again.

A forked worker starts out *sharing* every page of its parent (copy-on-write), so
adding up each process's resident memory (RSS) counts the same pages once per worker:
a parent holding 300 MB read by two forked workers would read as 900 MB. This module
reports the **proportional set size** (PSS) instead, summed over the process tree: a
page shared by k processes counts 1/k in each, so it counts once in the sum. A worker's
*own* cost is its **unique set size** (USS): the pages no other process shares.

How it is read, and what it costs (Linux):

- While the process has no child processes, ``/proc/PID/status`` (``RssAnon``,
  ``RssShmem``, ``RssFile``; about 0.02 ms). For a process that shares no pages with
  another, RSS and PSS are the same pages (a test checks they agree).
- With children, ``/proc/PID/smaps_rollup`` of every process in the tree (``Pss_Anon``,
  ``Pss_Shmem``, ``Pss_File``). The kernel walks the mappings to divide the shared
  pages, which costs about 3 ms a process with PyTorch loaded and 12 ms with
  TensorFlow: :func:`helpers.timing.measure` therefore polls no more often than 20x
  that cost, and never inside the timed part of a batch.

Elsewhere (macOS, Windows) there is no PSS: a lone process reports its RSS as
anonymous memory; with children, the parent's RSS plus each child's USS (the pages a
worker added), and ``nan`` where even that cannot be read. File-backed memory is
``nan`` there. ``nan`` means *unavailable*, and summaries print it as such.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_MB = 1024 * 1024
_KB_PER_MB = 1024
ON_LINUX_PROC = os.path.exists("/proc/self/smaps_rollup")


# --------------------------------------------------------------------------- reading /proc
def _read_kb_fields(path: str, fields: tuple[str, ...]) -> dict[str, float]:
    """The ``kB`` lines named in ``fields`` of a ``/proc`` file, in MB (0 if absent)."""
    found = dict.fromkeys(fields, 0.0)
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in found:
                found[name] = int(value.split()[0]) / _KB_PER_MB
    return found


_STATUS_FIELDS = ("RssAnon", "RssShmem", "RssFile")
_ROLLUP_FIELDS = ("Pss_Anon", "Pss_Shmem", "Pss_File", "Private_Clean", "Private_Dirty")


def _status_mb(pid: int | str) -> tuple[float, float]:
    """``(anon, file)`` resident MB of one process from ``/proc/PID/status``."""
    v = _read_kb_fields(f"/proc/{pid}/status", _STATUS_FIELDS)
    return v["RssAnon"] + v["RssShmem"], v["RssFile"]


def _pss_mb(pid: int | str) -> tuple[float, float]:
    """``(anon, file)`` proportional MB of one process from ``/proc/PID/smaps_rollup``."""
    v = _read_kb_fields(f"/proc/{pid}/smaps_rollup", _ROLLUP_FIELDS)
    return v["Pss_Anon"] + v["Pss_Shmem"], v["Pss_File"]


def _uss_mb(pid: int | str) -> float:
    """Unique set size of one process: resident pages no other process maps."""
    v = _read_kb_fields(f"/proc/{pid}/smaps_rollup", _ROLLUP_FIELDS)
    return v["Private_Clean"] + v["Private_Dirty"]


def child_pids(pid: int | None = None) -> list[int]:
    """Descendants of ``pid`` (default: this process), read from
    ``/proc/<pid>/task/*/children``: cheap, no scan of every process. Linux only;
    elsewhere psutil's recursive child list."""
    pid = os.getpid() if pid is None else pid
    if not ON_LINUX_PROC:
        import psutil

        try:
            return [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *child_pids(kid)]
    return found


# --------------------------------------------------------------------------- the readings
def memory_mb(include_children: bool = True) -> tuple[float, float]:
    """``(anon_mb, file_mb)`` that this process (and its children) hold right now.

    Summed as proportional set size over the process tree, so pages that forked
    workers share with their parent count once (see the module docstring for how it
    is read on each platform and what it costs). ``include_children=False``: this
    process alone, its resident memory. ``nan`` where the platform cannot tell.
    """
    if not ON_LINUX_PROC:
        return _memory_mb_portable(include_children)
    kids = child_pids() if include_children else []
    if not kids:
        return _status_mb("self")
    anon_total, file_total = _pss_mb("self")
    for kid in kids:
        try:
            anon, file = _pss_mb(kid)
        except (OSError, ValueError):  # a worker exited between listing and reading
            continue
        anon_total += anon
        file_total += file
    return anon_total, file_total


def _memory_mb_portable(include_children: bool) -> tuple[float, float]:
    """macOS, Windows: RSS of this process plus the USS of each child, file ``nan``."""
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss / _MB
    if include_children:
        for child in me.children(recursive=True):
            try:
                total += child.memory_full_info().uss / _MB
            except psutil.NoSuchProcess:  # a worker exited between listing and reading
                continue
            except (psutil.AccessDenied, AttributeError):  # no USS here: unavailable
                return math.nan, math.nan
    return total, math.nan


def worker_private_mb(pids: Sequence[int] | None = None) -> list[float]:
    """Each child process's own memory: its unique set size (USS) in MB.

    A forked worker starts sharing every page with its parent; its private memory
    grows only as it writes to pages (copy-on-write), including the reference-count
    writes that merely *reading* Python objects causes. Order: process-tree order, or
    the order of ``pids`` when given (only those processes: under ``spawn``,
    multiprocessing's resource tracker is a child too, and not a worker).
    """
    sizes = []
    if ON_LINUX_PROC:
        for kid in child_pids() if pids is None else pids:
            try:
                sizes.append(_uss_mb(kid))
            except (OSError, ValueError):  # a worker exited between listing and reading
                continue
        return sizes
    import psutil

    children = psutil.Process().children(recursive=True) if pids is None else None
    for child in children if children is not None else map(psutil.Process, pids):
        try:
            sizes.append(child.memory_full_info().uss / _MB)
        except (OSError, psutil.Error):
            continue
    return sizes


def format_mb(value: float, *, signed: bool = False) -> str:
    """``"1,234 MB"`` (``"+12 MB"`` with ``signed``), or ``"unavailable"`` for ``nan``."""
    if math.isnan(value):
        return "unavailable"
    return f"{value:+,.0f} MB" if signed else f"{value:,.0f} MB"


# --------------------------------------------------------------------------- over time
class PeakMemory:
    """The peak of :func:`memory_mb` over polls, and where it started.

    ``added_anon_mb`` (peak minus start) is what the work between creation and the
    last poll cost: use it to compare techniques, not the peak itself, which also holds
    everything the process had before. :meth:`poll` returns the seconds it took.
    """

    def __init__(self, include_children: bool = True) -> None:
        self.include_children = include_children
        self.start_anon_mb, self.start_file_mb = memory_mb(include_children)
        self.peak_anon_mb, self.peak_file_mb = self.start_anon_mb, self.start_file_mb

    def poll(self) -> float:
        t0 = time.perf_counter()
        anon, file = memory_mb(self.include_children)
        self.peak_anon_mb = max(self.peak_anon_mb, anon)
        self.peak_file_mb = max(self.peak_file_mb, file)
        return time.perf_counter() - t0

    @property
    def added_anon_mb(self) -> float:
        return self.peak_anon_mb - self.start_anon_mb

    def __enter__(self) -> PeakMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.poll()


class MemorySampler:
    """Record ``(seconds, anonymous MB, file-backed MB)`` every ``interval_s`` in a thread.

    >>> with MemorySampler() as mem:
    ...     mem.mark("allocate")
    ...     a = np.ones(10_000_000)        # 76 MB, touched
    >>> mem.peak_anon_mb - mem.start_anon_mb  # doctest: +SKIP
    76.4

    Memory is that of this process (and its children if ``include_children``), read
    as :func:`memory_mb` does. When a reading costs more than a tenth of
    ``interval_s`` (PSS of a process tree), the thread waits 10x the reading's cost
    instead, so the sampler never takes more than about a tenth of a core. The thread
    samples while the main thread runs Python or a NumPy call that releases the GIL
    (filling, copying and casting large arrays do). ``mark(label)`` records when a
    phase starts, for :func:`helpers.outofcore.plot_memory_trace`. Samples are also
    taken at entry and exit.
    """

    def __init__(self, interval_s: float = 0.005, *, include_children: bool = True) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.interval_s = interval_s
        self.include_children = include_children
        self._times: list[float] = []
        self._anon: list[float] = []
        self._file: list[float] = []
        self.marks: list[tuple[float, str]] = []  # (seconds since start, label)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._lock = threading.Lock()
        self._last_cost_s = 0.0

    def _sample(self) -> None:
        t = time.perf_counter()
        anon, file = memory_mb(self.include_children)
        self._last_cost_s = time.perf_counter() - t
        with self._lock:  # the time is taken under the lock, so the times stay in order
            self._times.append(time.perf_counter() - self._t0)
            self._anon.append(anon)
            self._file.append(file)

    def _run(self) -> None:
        while not self._stop.wait(max(self.interval_s, 10 * self._last_cost_s)):
            self._sample()

    def __enter__(self) -> MemorySampler:
        if self._thread is not None:
            raise RuntimeError("a MemorySampler records once; make a new one")
        self._t0 = time.perf_counter()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="MemorySampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def mark(self, label: str) -> None:
        """Note that a phase called ``label`` starts now (and take a sample)."""
        self.marks.append((time.perf_counter() - self._t0, label))
        self._sample()

    @property
    def times_s(self) -> np.ndarray:
        """Seconds since the sampler started, one per sample."""
        return np.asarray(self._times)

    @property
    def anon_mb(self) -> np.ndarray:
        """Anonymous MB at each sample."""
        return np.asarray(self._anon)

    @property
    def file_mb(self) -> np.ndarray:
        """File-backed MB at each sample (``nan`` where unavailable)."""
        return np.asarray(self._file)

    @property
    def start_anon_mb(self) -> float:
        return self._anon[0]

    @property
    def peak_anon_mb(self) -> float:
        return max(self._anon)

    @property
    def added_anon_mb(self) -> float:
        """Peak minus start: what the work inside the ``with`` block added."""
        return self.peak_anon_mb - self.start_anon_mb

    @property
    def peak_file_mb(self) -> float:
        return max(self._file)

    def between(self, start: str, end: str | None = None) -> np.ndarray:
        """Boolean mask of the samples from mark ``start`` to mark ``end`` (or the end)."""
        times = {label: t for t, label in self.marks}
        for label in (start, end):
            if label is not None and label not in times:
                raise KeyError(f"no mark {label!r}; marks are {[m for _, m in self.marks]}")
        hi = times[end] if end is not None else math.inf
        return (self.times_s >= times[start]) & (self.times_s <= hi)


# --------------------------------------------------------------------------- one call
def _vm_status_mb(field_name: str) -> float:
    """A ``kB`` line of ``/proc/self/status`` in MB, or ``nan`` where there is none."""
    try:
        return _read_kb_fields("/proc/self/status", (field_name,))[field_name]
    except OSError:
        return math.nan


def _reset_peak_rss() -> bool:
    """Reset this process's resident high-water mark to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _minor_faults() -> int:
    """Minor page faults of this process so far, or -1 where they are not counted."""
    if sys.platform == "win32":
        return -1
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class MemoryCost:
    """What one call of a function cost in memory, in MB (1 MB = 2**20 bytes).

    ``held_mb``: anonymous resident memory still allocated after the call, while
    ``result`` is alive (0 for a zero-copy view, the array's size for a copy).
    ``peak_mb``: the highest resident memory during the call, above where it started
    (at least ``held_mb``; more when the call made temporaries). ``nan`` if unknown.
    ``page_faults``: minor page faults during the call: each is the kernel handing the
    process one fresh page (4 KiB, or 2 MiB for a transparent huge page) on first
    touch. ``-1`` where the platform does not count them.
    """

    result: Any
    held_mb: float
    peak_mb: float
    page_faults: int = -1


def memory_cost(fn: Callable[[], Any]) -> MemoryCost:
    """Call ``fn()`` once; return its result with the memory it held and its peak.

    The peak uses the kernel's high-water mark (``VmHWM``), reset before the call
    through ``/proc/self/clear_refs``; where that is not possible the peak is ``nan``.
    Allocations of a few MB or less may be served from memory the allocator already
    holds and then show up as 0 MB: measure arrays of tens of MB. The result is kept in
    the returned :class:`MemoryCost`, so the memory it holds is still counted when
    ``held_mb`` is read. Measures this process only (not workers).
    """
    gc.collect()
    start_anon, _ = memory_mb(include_children=False)
    start_rss = _vm_status_mb("VmRSS")
    can_peak = _reset_peak_rss() and not math.isnan(start_rss)
    start_faults = _minor_faults()
    result = fn()
    faults = _minor_faults() - start_faults if start_faults >= 0 else -1
    peak_rss = _vm_status_mb("VmHWM") if can_peak else math.nan
    end_anon, _ = memory_mb(include_children=False)
    held = max(0.0, end_anon - start_anon)
    peak = max(held, peak_rss - start_rss) if can_peak else math.nan
    return MemoryCost(result, held, peak, faults)
