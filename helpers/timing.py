"""One harness to measure any loader: samples/s, data wait per batch, memory.

:func:`measure` drives an iterable of batches the way a training loop does, timing
``next()`` (the *data wait*) separately from the consumer's ``step`` (the *compute*).
The first ``warmup`` batches are run but left out of the statistics (and counted
separately), so start-up costs such as spawning workers do not hide the steady state.

Memory is read from ``/proc`` (Linux): *anonymous* resident memory (heap, arrays: the
real pressure) and *file-backed* resident memory (page cache of memory-mapped files,
which the OS can drop) for the process plus its worker children. Elsewhere, psutil's
RSS is reported as anonymous and file-backed memory is ``nan``.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Clock = Callable[[], float]
_MB = 1024 * 1024


class LiveSink(Protocol):
    """What :func:`measure` feeds while it runs (``plots.LivePlot`` is one)."""

    def update(self, label: str, x: float, y: float) -> None: ...


# --------------------------------------------------------------------------- memory
def _proc_status_mb(pid: int | str) -> tuple[float, float]:
    anon = file = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1]) / 1024
            elif line.startswith("RssFile:"):
                file = int(line.split()[1]) / 1024
    return anon, file


def _child_pids(pid: int) -> list[int]:
    """Descendants of ``pid`` from ``/proc/<pid>/task/*/children`` (cheap: no scan of
    every process, unlike ``psutil.Process.children``)."""
    found = []
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
            found += [kid, *_child_pids(kid)]
    return found


def memory_mb(include_children: bool = True) -> tuple[float, float]:
    """``(anonymous_mb, file_backed_mb)`` resident now, for this process and its children.

    Anonymous memory is what the process allocated (arrays, tensors, Python objects);
    file-backed memory is pages of files mapped into it (``np.load(mmap_mode="r")``),
    which count in RSS but can be dropped by the OS under pressure. Reads ``/proc``
    on Linux (about 0.1 ms); elsewhere psutil's RSS counts as anonymous, file is ``nan``.
    """
    if not os.path.exists(f"/proc/{os.getpid()}/status"):
        import psutil

        me = psutil.Process()
        procs = [me] + (me.children(recursive=True) if include_children else [])
        rss = 0.0
        for p in procs:
            try:
                rss += p.memory_info().rss / _MB
            except psutil.Error:  # a worker exited between listing and reading
                continue
        return rss, math.nan
    pid = os.getpid()
    pids = [pid, *(_child_pids(pid) if include_children else [])]
    anon_total = file_total = 0.0
    for p in pids:
        try:
            anon, file = _proc_status_mb(p)
        except OSError:  # a worker exited between listing and reading
            continue
        anon_total += anon
        file_total += file
    return anon_total, file_total


class PeakMemory:
    """Tracks the peak of :func:`memory_mb` over polls: ``with PeakMemory() as m: ...``."""

    def __init__(self, include_children: bool = True) -> None:
        self.include_children = include_children
        self.start_anon_mb, self.start_file_mb = memory_mb(include_children)
        self.peak_anon_mb, self.peak_file_mb = self.start_anon_mb, self.start_file_mb

    def poll(self) -> None:
        anon, file = memory_mb(self.include_children)
        self.peak_anon_mb = max(self.peak_anon_mb, anon)
        self.peak_file_mb = max(self.peak_file_mb, file)

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
    from ``/proc`` as :func:`helpers.timing.memory_mb` does. The thread samples while
    the main thread runs Python or a NumPy call that releases the GIL (filling,
    copying and casting large arrays do). ``mark(label)`` records when a phase starts,
    for :func:`plot_memory_trace`. Samples are also taken at entry and exit.
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

    def _sample(self) -> None:
        anon, file = memory_mb(self.include_children)
        with self._lock:
            self._times.append(time.perf_counter() - self._t0)
            self._anon.append(anon)
            self._file.append(file)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
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
        """Anonymous resident MB at each sample."""
        return np.asarray(self._anon)

    @property
    def file_mb(self) -> np.ndarray:
        """File-backed resident MB at each sample (``nan`` where unavailable)."""
        return np.asarray(self._file)

    @property
    def start_anon_mb(self) -> float:
        return self._anon[0]

    @property
    def peak_anon_mb(self) -> float:
        return max(self._anon)

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


# --------------------------------------------------------------------------- results
@dataclass
class Measurement:
    """What :func:`measure` found. Times in seconds; per-batch arrays cover measured
    batches only (warm-up excluded)."""

    label: str
    samples: int
    batches: int
    elapsed_s: float
    wait_s: np.ndarray
    step_s: np.ndarray
    start_s: np.ndarray  # when each next() began, relative to the first measured batch
    batch_sizes: np.ndarray
    warmup_batches: int
    warmup_samples: int
    warmup_s: float
    start_anon_mb: float = math.nan
    peak_anon_mb: float = math.nan
    peak_file_mb: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        """Measured samples divided by the wall time of the measured batches."""
        return self.samples / self.elapsed_s if self.elapsed_s > 0 else math.inf

    @property
    def data_wait_share(self) -> float:
        """Fraction of the loop spent waiting in ``next()``: wait / (wait + step)."""
        wait, step = float(self.wait_s.sum()), float(self.step_s.sum())
        return wait / (wait + step) if wait + step > 0 else 0.0

    @property
    def median_wait_ms(self) -> float:
        return float(np.median(self.wait_s)) * 1e3

    @property
    def p95_wait_ms(self) -> float:
        return float(np.percentile(self.wait_s, 95)) * 1e3

    def as_dict(self) -> dict[str, Any]:
        """Scalar results, for tables and JSON."""
        return {
            "label": self.label,
            "samples": self.samples,
            "batches": self.batches,
            "samples_per_s": self.samples_per_s,
            "data_wait_share": self.data_wait_share,
            "median_wait_ms": self.median_wait_ms,
            "p95_wait_ms": self.p95_wait_ms,
            "elapsed_s": self.elapsed_s,
            "warmup_batches": self.warmup_batches,
            "warmup_s": self.warmup_s,
            "peak_anon_mb": self.peak_anon_mb,
            "peak_file_mb": self.peak_file_mb,
            **self.extra,
        }

    def summary(self) -> str:
        """One line: ``label: 12,345 samples/s, data wait 3% of the loop, ...`` (the data
        wait only when there was a consumer step)."""
        parts = [f"{self.samples_per_s:,.0f} samples/s"]
        if self.step_s.any():  # without a consumer step, the loop is all wait: not news
            parts.append(f"data wait {self.data_wait_share:.0%} of the loop")
        parts.append(f"median wait {self.median_wait_ms:.2f} ms/batch")
        if not math.isnan(self.peak_anon_mb):
            parts.append(f"peak anon {self.peak_anon_mb:,.0f} MB")
        return f"{self.label or 'loader'}: " + ", ".join(parts)


def _sample_counter(batch: Any) -> Callable[[Any], int]:
    """A fast function that counts the samples in batches shaped like ``batch``."""
    if hasattr(batch, "shape") and len(batch.shape) > 0:
        return lambda b: b.shape[0]
    if isinstance(batch, tuple | list) and batch:
        first = batch[0]
        if hasattr(first, "shape") and len(first.shape) > 0:  # (x, y): the common case, inlined
            return lambda b: b[0].shape[0]
        inner = _sample_counter(first)
        return lambda b: inner(b[0])
    if isinstance(batch, dict) and batch:
        key = next(iter(batch))
        inner = _sample_counter(batch[key])
        return lambda b: inner(b[key])
    raise TypeError(
        f"cannot count samples in a batch of type {type(batch).__name__}; pass count=..."
    )


# --------------------------------------------------------------------------- harness
def measure(
    batches: Iterable[Any],
    step: Callable[[Any], Any] | None = None,
    *,
    label: str = "",
    warmup: int = 1,
    max_batches: int | None = None,
    count: Callable[[Any], int] | None = None,
    live: LiveSink | None = None,
    track_memory: bool = True,
    poll_interval_s: float = 0.1,
    clock: Clock = time.perf_counter,
) -> Measurement:
    """Drive ``batches`` like a training loop and time it.

    For every batch, the time spent in ``next()`` is the *wait* and the time in
    ``step(batch)`` (if given) is the *step*. ``warmup`` batches run first and are
    excluded from the statistics; ``max_batches`` caps the measured batches. Samples
    per batch come from ``count(batch)`` (default: first dimension of the batch or of
    its first element). Every ``poll_interval_s`` the harness samples memory and sends
    samples/s so far to ``live`` (e.g. a :class:`helpers.plots.LivePlot`).

    ``clock`` is injectable so the arithmetic can be tested without sleeping.
    Raises ``ValueError`` if the iterable yields nothing, or nothing after warm-up.
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}")
    memory = PeakMemory() if track_memory else None
    it = iter(batches)
    warm_batches = warm_samples = 0
    t_begin = clock()
    for _ in range(warmup):
        try:
            batch = next(it)
        except StopIteration:
            break
        if step is not None:
            step(batch)
        if count is None:
            count = _sample_counter(batch)
        warm_batches += 1
        warm_samples += count(batch)

    # The hot loop: three clock readings (two without a step) and two appends per batch;
    # the per-batch arrays are built afterwards.
    stamps: list[float] = []  # ta, tb, tc per batch: before next(), after next(), after step
    sizes: list[int] = []
    add_stamps, add_size = stamps.extend, sizes.append
    samples = 0
    t0 = clock()
    next_poll = t0 + poll_interval_s
    limit = math.inf if max_batches is None else max_batches
    n_batches = 0
    ta = clock()
    for batch in it:
        tb = clock()
        if step is not None:
            step(batch)
            tc = clock()
        else:
            tc = tb
        if count is None:
            count = _sample_counter(batch)
        n = count(batch)
        add_stamps((ta, tb, tc))
        add_size(n)
        samples += n
        n_batches += 1
        if tc >= next_poll:
            if memory is not None:
                memory.poll()
            if live is not None and tc > t0:
                live.update(label, tc - t0, samples / (tc - t0))
            next_poll = clock() + poll_interval_s
        if n_batches >= limit:
            break
        ta = clock()
    t_end = clock()
    if memory is not None:
        memory.poll()

    if not sizes:
        if warm_batches == 0:
            raise ValueError(f"loader {label!r} yielded no batches: is the dataset empty?")
        raise ValueError(
            f"loader {label!r} yielded only {warm_batches} batch(es), all used for warm-up; "
            f"lower warmup (now {warmup}) or give it more data"
        )
    ta_tb_tc = np.asarray(stamps).reshape(-1, 3)
    result = Measurement(
        label=label,
        samples=samples,
        batches=len(sizes),
        elapsed_s=t_end - t0,
        wait_s=ta_tb_tc[:, 1] - ta_tb_tc[:, 0],
        step_s=ta_tb_tc[:, 2] - ta_tb_tc[:, 1],
        start_s=ta_tb_tc[:, 0] - t0,
        batch_sizes=np.asarray(sizes),
        warmup_batches=warm_batches,
        warmup_samples=warm_samples,
        warmup_s=t0 - t_begin,
    )
    if memory is not None:
        result.start_anon_mb = memory.start_anon_mb
        result.peak_anon_mb = memory.peak_anon_mb
        result.peak_file_mb = memory.peak_file_mb
    if live is not None and result.elapsed_s > 0:
        live.update(label, result.elapsed_s, result.samples_per_s)
    return result


def time_call(fn: Callable[[], Any], *, repeat: int = 5, min_time_s: float = 0.02) -> float:
    """Median seconds per call of ``fn()``, timeit-style: each of ``repeat`` rounds runs
    ``fn`` enough times to last ``min_time_s``, so tiny operations are timed fairly."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    number = 1
    while True:  # find how many calls fill min_time_s
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time_s:
            break
        number *= 2 if elapsed > 0 else 10
    rounds = [elapsed / number]
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)
