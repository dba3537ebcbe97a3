"""The streams notebook 02 teaches: `IterableDataset` classes and the generators they run.

Everything here may run inside a `DataLoader` worker process. Under ``spawn`` (the
default on macOS and Windows; ``forkserver`` on Linux from Python 3.14) a worker imports
what it runs afresh and cannot find a class defined in a notebook, so these live in a
module. Notebook 02 shows each one's code where it is taught
(``helpers.source.show_source``).

Sample ids ``0 .. n-1`` stand in for any stream of samples: counting them proves that
each sample arrives exactly once per epoch (tests/test_streams.py does, for 0, 2 and 3
workers and several batch sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info


# --------------------------------------------------------------------------- basics
class GeneratorDataset(IterableDataset):
    """A stream over a generator *function*: each epoch calls ``generator_fn(*args)``
    afresh. With workers, ``generator_fn`` must be importable (module level)."""

    def __init__(self, generator_fn: Callable[..., Iterator[Any]], *args: Any) -> None:
        self.generator_fn, self.args = generator_fn, args

    def __iter__(self) -> Iterator[Any]:
        return self.generator_fn(*self.args)


class OneShot(IterableDataset):
    """Wraps one generator *object*: the same, used-up one is returned every epoch
    (the mistake; cannot go to a worker either, since a generator cannot be pickled)."""

    def __init__(self, generator: Iterator[Any]) -> None:
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        return self.generator


class PerSampleStream(IterableDataset):
    """Yields one ``(signal, label)`` pair at a time, like most generator tutorials.

    ``X``: (n, 1, length) float32 tensor, ``y``: (n,) int64 tensor."""

    def __init__(self, X: Any, y: Any) -> None:
        self.X, self.y = X, y

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for i in range(len(self.X)):
            yield self.X[i], self.y[i]


class BatchStream(IterableDataset):
    """Yields whole batches, one slice each: ``X[start:start + batch_size]`` and the
    labels alike; the last batch may be short. Use with ``DataLoader(batch_size=None)``."""

    def __init__(self, X: Any, y: Any, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.y, self.batch_size = X, y, batch_size

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for start in range(0, len(self.X), self.batch_size):
            stop = start + self.batch_size
            yield self.X[start:stop], self.y[start:stop]


# --------------------------------------------------------------------------- workers
class NaiveStream(IterableDataset):
    """Sample ids ``0 .. n-1``, unaware of workers: each worker yields all of them."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))


class ShardedStream(IterableDataset):
    """Sample ids ``0 .. n-1``, split over DataLoader workers: each id exactly once."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Iterator[int]:
        info = get_worker_info()  # None in the main process
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(first, self.n, step))


def shuffle_buffer(
    stream: Iterable[Any], buffer_size: int, rng: np.random.Generator
) -> Iterator[Any]:
    """Yield the items of ``stream`` in random order, holding at most ``buffer_size``."""
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
    buffer = []
    for item in stream:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        k = rng.integers(buffer_size)
        yield buffer[k]
        buffer[k] = item
    rng.shuffle(buffer)
    yield from buffer


class ShuffledShardedStream(ShardedStream):
    """:class:`ShardedStream`, each worker's shard shuffled by its own buffer of
    ``buffer_size`` ids, seeded by ``(seed, worker id)``: same seed, same order."""

    def __init__(self, n: int, buffer_size: int, seed: int = 0) -> None:
        super().__init__(n)
        self.buffer_size, self.seed = buffer_size, seed

    def __iter__(self) -> Iterator[int]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id])
        return shuffle_buffer(super().__iter__(), self.buffer_size, rng)


class WorkStream(IterableDataset):
    """``(signal, label)`` pairs, sharded over workers, with ``work()`` spent on each
    sample (``helpers.data.SampleWork``: CPU-bound or I/O-like)."""

    def __init__(self, X: Any, y: Any, work: Callable[[], Any]) -> None:
        self.X, self.y, self.work = X, y, work

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        info = get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(first, len(self.X), step):
            self.work()  # decode, parse, augment ... or wait for the disk
            yield self.X[i], self.y[i]


# --------------------------------------------------------------------------- bad input
class FlawedStream(IterableDataset):
    """``(id, signal, label)`` for the signals in ``X`` ((n, 1, length) float32 array);
    sample ``bad_id`` has a ``flaw``: ``"shape"`` (one step short) or ``"dtype"``
    (float64). Sharded over workers."""

    def __init__(self, X: np.ndarray, y: np.ndarray, bad_id: int, flaw: str) -> None:
        self.X, self.y, self.bad_id, self.flaw = X, y, bad_id, flaw

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, Any]]:
        info = get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(first, len(self.X), step):
            x = self.X[i]
            if i == self.bad_id:
                x = x[:, :-1] if self.flaw == "shape" else x.astype(np.float64)
            yield i, x, self.y[i]


class CheckedStream(IterableDataset):
    """Passes ``(id, x, label)`` through, raising ``ValueError`` that names the sample
    for an ``x`` of the wrong shape or dtype."""

    def __init__(self, stream: Iterable[tuple[int, np.ndarray, Any]], shape, dtype) -> None:
        self.stream, self.shape, self.dtype = stream, tuple(shape), np.dtype(dtype)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, Any]]:
        for sample_id, x, label in self.stream:
            if x.shape != self.shape or x.dtype != self.dtype:
                raise ValueError(
                    f"sample {sample_id}: shape {x.shape} {x.dtype}, "
                    f"expected {self.shape} {self.dtype}"
                )
            yield sample_id, x, label
