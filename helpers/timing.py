"""One harness to measure any loader: samples/s, data wait per batch, memory.

:func:`measure` drives an iterable of batches the way a training loop does, timing
``next()`` (the *data wait*) separately from the consumer's ``step`` (the *compute*).
The first ``warmup`` batches are run but left out of the statistics (and counted
separately), so start-up costs such as spawning workers do not hide the steady state.

Time spent on the harness's own work between batches (memory polls, drawing a live
plot) is left out of every figure: it is neither wait, nor step, nor elapsed time.

Memory comes from :mod:`helpers.memory`: anonymous and file-backed memory of the
process and its workers as proportional set size, so pages that forked workers share
count once. A technique's memory cost is ``added_anon_mb``: the peak during the run
minus the run's own start, not the process's lifetime peak.

Loaders that fill a queue before the first ``next()`` returns (``DataLoader`` workers
with ``prefetch_factor``, Keras ``PyDataset`` workers, ``tf.data`` ``prefetch``) hand
over batches made before the clock started. Pass ``warmup`` of at least the queue
depth plus one (:func:`steady_state_warmup`) so that the measured batches are made
while the clock runs: the steady state.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .memory import PeakMemory, format_mb

Clock = Callable[[], float]


class LiveSink(Protocol):
    """What :func:`measure` feeds while it runs (``plots.LivePlot`` is one)."""

    def update(self, label: str, x: float, y: float) -> None: ...


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
    paused_s: float = 0.0  # the harness's own time between batches, left out of elapsed_s
    # Batches left out after the harness paused: a queue refilled while it paused, and
    # counting those batches would credit the loader with work done off the clock.
    redrained_batches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def added_anon_mb(self) -> float:
        """Anonymous memory the run added: its peak minus its own start (MB, process
        tree as proportional set size; ``nan`` if not tracked or unavailable)."""
        return self.peak_anon_mb - self.start_anon_mb

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
            "start_anon_mb": self.start_anon_mb,
            "peak_anon_mb": self.peak_anon_mb,
            "added_anon_mb": self.added_anon_mb,
            "peak_file_mb": self.peak_file_mb,
            "paused_s": self.paused_s,
            "redrained_batches": self.redrained_batches,
            **self.extra,
        }

    def summary(self) -> str:
        """One line: ``label: 12,345 samples/s, data wait 3% of the loop, ...`` (the data
        wait only when there was a consumer step; memory is what the run added)."""
        parts = [f"{self.samples_per_s:,.0f} samples/s"]
        if self.step_s.any():  # without a consumer step, the loop is all wait: not news
            parts.append(f"data wait {self.data_wait_share:.0%} of the loop")
        parts.append(f"median wait {self.median_wait_ms:.2f} ms/batch")
        if not (math.isnan(self.start_anon_mb) and math.isnan(self.peak_anon_mb)):
            parts.append(f"memory {format_mb(self.added_anon_mb, signed=True)} anon")
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
    before_timing: Callable[[], Any] | None = None,
    refill_batches: int | None = None,
    clock: Clock = time.perf_counter,
) -> Measurement:
    """Drive ``batches`` like a training loop and time it.

    For every batch, the time spent in ``next()`` is the *wait* and the time in
    ``step(batch)`` (if given) is the *step*. ``warmup`` batches run first and are
    excluded from the statistics; ``max_batches`` caps the batches consumed after the
    warm-up (measured, or left out after a pause: see below), so a training run takes the
    same number of steps however often the harness paused. Samples
    per batch come from ``count(batch)`` (default: first dimension of the batch or of
    its first element). Every ``poll_interval_s`` (or 20x the cost of one memory
    reading, if that is longer) the harness samples memory and sends samples/s so far
    to ``live`` (e.g. a :class:`helpers.plots.LivePlot`); the time that takes, drawing
    included, is measured and left out of ``elapsed_s`` and of the timeline.

    ``warmup`` batches are consumed (and stepped) before the clock starts; for a loader
    with a prefetch queue use :func:`steady_state_warmup` so that no batch made before
    the clock started is counted. Background producers (worker processes, prefetch
    threads) keep working while the harness pauses, so after each pause (and after the
    memory reading and ``before_timing`` that precede the clock) the next ``warmup - 1``
    batches, the queue that may have refilled meanwhile, are left out of every figure as
    well (``redrained_batches``); with ``warmup=1`` (no queue) nothing is left out.
    ``refill_batches`` sets that number when the warm-up is longer than the queue (a
    loader with no queue warmed up for several steps: pass 0).

    ``before_timing()`` is called once, after the warm-up and before the clock starts:
    the place to record a state the figures depend on (say, how much of a file is in
    the page cache), without timing the recording.

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

    def warm_up(n: int) -> None:
        """Consume (and step) up to ``n`` batches off the clock, counted as warm-up."""
        nonlocal warm_batches, warm_samples, count
        for _ in range(n):
            try:
                batch = next(it)
            except StopIteration:
                return
            if step is not None:
                step(batch)
            if count is None:
                count = _sample_counter(batch)
            warm_batches += 1
            warm_samples += count(batch)

    t_begin = clock()
    warm_up(warmup)

    # The hot loop: three clock readings (two without a step) and two appends per batch;
    # the per-batch arrays are built afterwards.
    stamps: list[float] = []  # ta, tb, tc per batch: before next(), after next(), after step
    sizes: list[int] = []
    add_stamps, add_size = stamps.extend, sizes.append
    # What a queue may make while the harness pauses.
    queue_batches = max(warmup - 1, 0) if refill_batches is None else refill_batches
    if queue_batches < 0:
        raise ValueError(f"refill_batches must be >= 0, got {refill_batches}")
    if memory is not None and warm_batches:
        memory.poll()  # workers are up by now: a run shorter than one poll still counts them
    if before_timing is not None:
        before_timing()
    if warm_batches and (before_timing is not None or memory is not None):
        warm_up(queue_batches)  # drain again what the queue made meanwhile
    samples = 0
    pauses: list[tuple[float, float]] = []  # (when, seconds) of the harness's own work
    paused = 0.0
    t0 = clock()
    next_poll = t0 + poll_interval_s
    limit = math.inf if max_batches is None else max_batches
    n_batches = 0
    redrain = redrained = 0
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
        if redrain:  # made while the harness paused? Leave it out, with its time.
            redrain -= 1
            redrained += 1
            when, seconds = pauses[-1]
            pauses[-1] = (when, tc - when)
            paused += tc - when - seconds
            if n_batches + redrained >= limit:
                break
            ta = clock()
            continue
        n = count(batch)
        add_stamps((ta, tb, tc))
        add_size(n)
        samples += n
        n_batches += 1
        if tc >= next_poll:  # the harness's own work: timed, then left out of every figure
            poll_cost = memory.poll() if memory is not None else 0.0
            timed_s = tc - t0 - paused
            if live is not None and timed_s > 0:
                live.update(label, timed_s, samples / timed_s)
            t_after = clock()
            pauses.append((tc, t_after - tc))
            paused += t_after - tc
            if memory is not None or live is not None:  # something ran: a queue may refill
                redrain = queue_batches
            # A PSS reading of a process tree costs milliseconds: poll at most 5% of the time.
            next_poll = t_after + max(poll_interval_s, 20 * poll_cost)
        if n_batches + redrained >= limit:  # the same batches consumed, paused or not
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
    start_s = ta_tb_tc[:, 0] - t0
    if pauses:  # shift each batch's start back by the harness time spent before it
        when = np.asarray([w for w, _ in pauses]) - t0
        before = np.concatenate([[0.0], np.cumsum([d for _, d in pauses])])
        start_s = start_s - before[np.searchsorted(when, start_s, side="right")]
    result = Measurement(
        label=label,
        samples=samples,
        batches=len(sizes),
        elapsed_s=t_end - t0 - paused,
        wait_s=ta_tb_tc[:, 1] - ta_tb_tc[:, 0],
        step_s=ta_tb_tc[:, 2] - ta_tb_tc[:, 1],
        start_s=start_s,
        batch_sizes=np.asarray(sizes),
        warmup_batches=warm_batches,
        warmup_samples=warm_samples,
        warmup_s=t0 - t_begin,
        paused_s=paused,
        redrained_batches=redrained,
    )
    if memory is not None:
        result.start_anon_mb = memory.start_anon_mb
        result.peak_anon_mb = memory.peak_anon_mb
        result.peak_file_mb = memory.peak_file_mb
    if live is not None and result.elapsed_s > 0:
        live.update(label, result.elapsed_s, result.samples_per_s)
    return result


def steady_state_warmup(queue_batches: int, *, extra: int = 1) -> int:
    """Warm-up batches that drain a prefetch queue of ``queue_batches`` batches.

    A loader with a queue (``DataLoader``: ``num_workers * prefetch_factor``; Keras
    ``PyDataset``: ``max_queue_size``; ``tf.data``: the ``prefetch`` buffer) fills it
    while the first batch is being made. Those batches arrive at once when the clock is
    running, and would count work done before it started. Skipping the queue depth plus
    ``extra`` batches measures the rate at which new batches are made: the steady state.
    """
    if queue_batches < 0 or extra < 0:
        raise ValueError(f"queue_batches and extra must be >= 0, got {queue_batches}, {extra}")
    return queue_batches + extra


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
