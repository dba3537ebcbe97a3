"""The training showdown: every loader of notebooks 01-05, built the same way, run the same way.

Shared by ``notebooks/06_training_showdown.ipynb`` and ``make bench`` so that both
measure exactly the same thing. Each technique is a *factory*: given the data, one
epoch's sample order and the per-sample work, calling it returns an iterable of
``(x, y)`` batches for one epoch. Every technique delivers the same samples exactly
once per epoch, calls the per-sample work exactly once per sample, in the same batches
and the same order (so the loss curves can be compared).

The datasets and generators are module-level classes (:class:`PerIndex`,
:class:`PerBatch`, :class:`SampleStream`, :class:`BatchStream`, :class:`MemoryMapped`,
:class:`SampleGenerator`, :class:`Batches`): a worker process started by ``spawn``
imports them from here. The notebook shows their code with
:func:`helpers.source.show_source`. PyTorch loaders are built by :func:`torch_loaders`,
Keras/TensorFlow pipelines by :func:`keras_pipelines`, which imports TensorFlow only
when called (PyTorch workers import this module and must not pay for it).
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, get_worker_info

from .data import SampleWork

#: The scenarios of the showdown: per-sample work on top of reading a sample.
SCENARIOS: dict[str, SampleWork] = {
    "cheap (in memory)": SampleWork("none"),
    "CPU work 100 µs/sample": SampleWork("cpu", 100e-6),
    "I/O wait 100 µs/sample": SampleWork("io", 100e-6),
}


@dataclass
class Row:
    """One cell of the showdown table: medians over the repeats, and each repeat's
    samples/s in ``samples_per_s_runs`` (for the range and the verdicts)."""

    framework: str
    scenario: str
    technique: str
    samples_per_s: float
    data_wait_share: float
    added_anon_mb: float  # peak minus the run's own start (process tree, PSS); max of repeats
    final_loss: float
    accuracy: float
    wait_is_estimate: bool = False
    samples_per_s_runs: list[float] = field(default_factory=list)
    wait_noise: float = 0.0  # estimates only: the estimate's noise floor (share of a step)

    @property
    def wait_within_noise(self) -> bool:
        """An estimate no larger than its noise floor: too small to see."""
        return self.wait_is_estimate and self.data_wait_share <= self.wait_noise

    def wait_text(self, fmt: str = "{:.0%}") -> str:
        """The data wait as a table shows it: ``3%``, ``9% (est.)``, ``≤ noise (est.)``."""
        if self.wait_within_noise:
            return f"≤ noise ±{fmt.format(self.wait_noise)} (est.)"
        return fmt.format(self.data_wait_share) + (" (est.)" if self.wait_is_estimate else "")

    def meets_wait_target(self, target: float) -> bool | None:
        """True / False when the data wait is clearly under / over ``target``; None when
        an estimate's noise floor straddles it (it cannot tell)."""
        low = self.data_wait_share - self.wait_noise
        high = self.data_wait_share + self.wait_noise
        if high < target:
            return True
        if low >= target:
            return False
        return None

    @property
    def repeats(self) -> int:
        return max(1, len(self.samples_per_s_runs))

    @property
    def samples_per_s_range(self) -> tuple[float, float]:
        runs = self.samples_per_s_runs or [self.samples_per_s]
        return min(runs), max(runs)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _median_row(runs: list[Row]) -> Row:
    """One row from the repeats of one technique: medians, and every samples/s. Memory is
    the most any repeat added: a loader with persistent workers starts them in its first
    run only, and that run is the one that shows what they cost."""
    first = runs[0]
    return Row(
        first.framework,
        first.scenario,
        first.technique,
        statistics.median(r.samples_per_s for r in runs),
        statistics.median(r.data_wait_share for r in runs),
        max(r.added_anon_mb for r in runs),
        statistics.median(r.final_loss for r in runs),
        statistics.median(r.accuracy for r in runs),
        first.wait_is_estimate,
        [r.samples_per_s for r in runs],
        first.wait_noise,
    )


def batch_orders(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Split one epoch's sample order into consecutive batches (the last may be short)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


# --------------------------------------------------------------------------- PyTorch
# Every dataset a DataLoader worker runs is a module-level class: under ``spawn`` (macOS,
# Windows, Linux from Python 3.14) a worker process unpickles it, which means importing it
# by name from this module. A class defined in a notebook or inside a function cannot be.
class PerIndex(Dataset):
    """The textbook map-style dataset: one ``(x, y)`` sample per ``__getitem__`` call.

    ``X`` ``(n, 1, length)`` float32 and ``y`` ``(n,)`` int64 tensors; ``work()`` runs
    once per sample (the per-sample cost of the scenario)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, work: Callable[[], None]) -> None:
        self.X, self.y, self.work = X, y, work

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.work()
        return self.X[i], self.y[i]


class PerBatch(PerIndex):
    """The same data, but ``__getitem__`` takes a whole list of indices (a batch sampler
    with ``batch_size=None``): one call and one indexing operation per batch."""

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in idx:
            self.work()
        return self.X[idx], self.y[idx]


def worker_share(items: Sequence[Any]) -> Sequence[Any]:
    """Inside a DataLoader worker: every ``num_workers``-th item, starting at this worker's
    id (so the workers split the stream instead of each repeating it); else all."""
    info = get_worker_info()
    return items if info is None else items[info.id :: info.num_workers]


class SampleStream(IterableDataset):
    """A generator of single ``(x, y)`` samples in ``order`` (the DataLoader batches them).

    With workers, each takes every ``num_workers``-th sample: every sample arrives once,
    but the batches mix differently than without workers."""

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, order: Sequence[int], work: Callable[[], None]
    ) -> None:
        self.X, self.y, self.order, self.work = X, y, list(order), work

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in worker_share(self.order):
            self.work()
            yield self.X[i], self.y[i]


class BatchStream(IterableDataset):
    """A generator of whole batches (``batch_size=None`` in the DataLoader): consecutive
    slices of ``order``. With workers, worker k makes batches k, k + num_workers, ...,
    and the DataLoader takes them round-robin: the same batches in the same order."""

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        order: Sequence[int],
        batch_size: int,
        work: Callable[[], None],
    ) -> None:
        self.X, self.y, self.work = X, y, work
        self.batches = batch_orders(np.asarray(order), batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx in worker_share(self.batches):
            for _ in idx:
                self.work()
            yield self.X[idx], self.y[idx]


class MemoryMapped(Dataset):
    """Batches read from ``.npy`` files through a memory map (``__getitem__`` takes a list
    of indices). The map opens lazily, in the process that reads: each worker opens its
    own, and only two file names travel to it."""

    def __init__(
        self, x_path: str | os.PathLike, y_path: str | os.PathLike, work: Callable[[], None]
    ) -> None:
        self.x_path, self.y_path, self.work = str(x_path), str(y_path), work
        self.n = len(np.load(self.y_path, mmap_mode="r"))
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.X is None:
            self.X = np.load(self.x_path, mmap_mode="r")
            self.y = np.load(self.y_path, mmap_mode="r")
        for _ in idx:
            self.work()
        # Sorted reads are sequential on disk; then restore the batch order.
        idx = np.asarray(idx)
        rank = np.argsort(idx)
        xs = np.empty((len(idx), *self.X.shape[1:]), dtype=self.X.dtype)
        xs[rank] = self.X[idx[rank]]  # fancy indexing copies: a writable array
        return torch.from_numpy(xs), torch.from_numpy(np.asarray(self.y[idx]))


def torch_loaders(
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    work: Callable[[], None],
    *,
    x_path: str | os.PathLike | None = None,
    y_path: str | os.PathLike | None = None,
    num_workers: int = 2,
) -> dict[str, Callable[[], Iterable[Any]]]:
    """The showdown's PyTorch loaders over ``X`` ``(n, 1, length)``, ``y`` ``(n,)``.

    Each value returns the loader for one epoch; every loader follows ``order`` (the
    epoch's sample order), batched the same way (worker loaders too: their workers'
    batches are taken in turn). Each loader is built once and returned by every call, so
    the worker loaders (``persistent_workers=True``) start their processes once, not
    once per epoch. ``x_path``/``y_path`` (the same data as ``.npy``) add the
    memory-mapped loader.
    """
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    order_list = order.tolist()
    per_index, per_batch = PerIndex(X_t, y_t, work), PerBatch(X_t, y_t, work)
    batched = BatchSampler(order_list, batch_size, drop_last=False)
    workers = {"num_workers": num_workers, "persistent_workers": num_workers > 0}
    built = {
        "DataLoader, per-index (default)": DataLoader(
            per_index, batch_size=batch_size, sampler=order_list
        ),
        f"DataLoader, per-index, {num_workers} workers": DataLoader(
            per_index, batch_size=batch_size, sampler=order_list, **workers
        ),
        "DataLoader, batched sampler": DataLoader(per_batch, sampler=batched, batch_size=None),
        f"DataLoader, batched sampler, {num_workers} workers": DataLoader(
            per_batch, sampler=batched, batch_size=None, **workers
        ),
        "IterableDataset, per-sample": DataLoader(
            SampleStream(X_t, y_t, order_list, work), batch_size=batch_size
        ),
        "IterableDataset, batched": DataLoader(
            BatchStream(X_t, y_t, order_list, batch_size, work), batch_size=None
        ),
    }
    if x_path is not None and y_path is not None:
        built["memory-mapped .npy, batched sampler"] = DataLoader(
            MemoryMapped(x_path, y_path, work), sampler=batched, batch_size=None
        )
    return {name: (lambda loader=loader: loader) for name, loader in built.items()}


def _queue_depth(loader: Any) -> int:
    """Batches a ``DataLoader``'s workers make ahead: ``num_workers * prefetch_factor``."""
    workers = getattr(loader, "num_workers", 0) or 0
    return workers * (getattr(loader, "prefetch_factor", None) or 2) if workers else 0


def run_torch(
    loaders: dict[str, Callable[[], Iterable[Any]]],
    *,
    scenario: str,
    num_classes: int,
    epochs: int,
    seed: int = 0,
    repeats: int = 1,
    live: Any = None,
) -> tuple[list[Row], dict[str, np.ndarray]]:
    """Train a fresh CNN (same seed) with each loader, ``repeats`` times interleaved
    (A B C, A B C, ...); one row per loader (medians and every run's samples/s) and
    the loss curve of each loader's first run. Memory is what each run added. Worker
    loaders are timed in the steady state: their warm-up drains the prefetch queue."""
    from .timing import steady_state_warmup
    from .torch_cnn import build_cnn, train

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    runs: dict[str, list[Row]] = {technique: [] for technique in loaders}
    curves = {}
    # One warm-up for all, long enough to drain the deepest worker queue: every loader is
    # then timed in the steady state, over the same steps (so the loss curves compare).
    warmup = max(3, *(steady_state_warmup(_queue_depth(make())) for make in loaders.values()))
    for repeat in range(repeats):
        for technique, make in loaders.items():
            if repeat and live is not None:
                live.new_run(technique)  # a repeat: a new line, not a zigzag back to x = 0

            def epochs_of(make=make):
                for _ in range(epochs):
                    yield from make()

            run = train(
                build_cnn(num_classes, seed=seed),
                epochs_of(),
                label=technique,
                warmup=warmup,
                live=live,
                progress=False,
            )
            runs[technique].append(
                Row(
                    "PyTorch",
                    scenario,
                    technique,
                    run.samples_per_s,
                    run.data_wait_share,
                    run.measurement.added_anon_mb,
                    run.final_loss,
                    float(run.accuracies[-max(1, len(run.accuracies) // 10) :].mean()),
                )
            )
            curves.setdefault(technique, run.losses)
    return [_median_row(r) for r in runs.values()], curves


# --------------------------------------------------------------------------- Keras
class SampleGenerator:
    """The textbook generator for ``tf.data.Dataset.from_generator``: calling it starts
    a fresh pass that yields one ``(x, y)`` NumPy sample at a time, in ``order``."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, order: np.ndarray, work: Callable[[], None]
    ) -> None:
        self.X, self.y, self.order, self.work = X, y, order, work

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in self.order:
            self.work()
            yield self.X[i], self.y[i]


class Batches:
    """Whole batches, consecutive slices of ``order``: ``batches[i]`` makes batch ``i``
    (how a ``PyDataset`` asks), and calling ``batches(shard)`` yields batches ``shard``,
    ``shard + num_shards``, ... (a generator for ``from_generator``; ``interleave``
    takes the shards in turn, which restores the order)."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        work: Callable[[], None],
        num_shards: int = 1,
    ) -> None:
        self.X, self.y, self.work, self.num_shards = X, y, work, num_shards
        self.batches = batch_orders(order, batch_size)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.batches[i]
        for _ in idx:
            self.work()
        return self.X[idx], self.y[idx]

    def __call__(self, shard: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(int(shard), len(self), self.num_shards):
            yield self[i]


def pydataset(batches: Batches, workers: int) -> Any:
    """``batches`` as a ``keras.utils.PyDataset`` read by ``workers`` threads.

    The subclass is made here rather than at module level because subclassing
    ``PyDataset`` imports Keras (TensorFlow), and PyTorch worker processes import this
    module. Threads share this process, so nothing is pickled; with
    ``use_multiprocessing=True`` the class would have to be importable."""
    from .keras_cnn import keras

    class SignalBatches(keras.utils.PyDataset):
        def __init__(self, batches: Batches, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.batches = batches

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            return self.batches[i]

    return SignalBatches(batches, workers=workers, use_multiprocessing=False)


def keras_pipelines(
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    work: Callable[[], None],
    *,
    num_parallel: int = 2,
) -> dict[str, Callable[[], Any]]:
    """Factories of one-epoch Keras inputs over channels-last ``X`` ``(n, length, 1)``.

    Every pipeline calls ``work()`` once per sample, delivers each sample once, in the
    same batches in ``order`` (fit them with ``shuffle=False``). ``from_tensor_slices``
    runs the work through ``tf.py_function`` in a parallel map (that is how Python work
    gets into a tensor pipeline); the generator pipelines run it in the generator; the
    ``PyDataset`` runs it in ``__getitem__``.
    """
    from .keras_cnn import tf

    autotune = tf.data.AUTOTUNE
    length = X.shape[1]
    x_spec = tf.TensorSpec((length, 1), tf.float32)
    xb_spec = tf.TensorSpec((None, length, 1), tf.float32)
    y_spec, yb_spec = tf.TensorSpec((), tf.int64), tf.TensorSpec((None,), tf.int64)
    Xo, yo = X[order], y[order]
    n_batches = len(batch_orders(order, batch_size))
    # A generator's length is unknown to tf.data; without assert_cardinality Keras warns
    # "Your input ran out of data" at the end of every epoch.
    known_length = tf.data.experimental.assert_cardinality(n_batches)

    def batch_work(xb, yb):
        for _ in range(int(tf.shape(xb)[0])):
            work()
        return xb, yb

    def tensor_slices():
        ds = tf.data.Dataset.from_tensor_slices((Xo, yo)).batch(batch_size)
        if getattr(work, "kind", "cpu") != "none":
            ds = ds.map(
                lambda xb, yb: tf.py_function(batch_work, [xb, yb], [tf.float32, tf.int64]),
                num_parallel_calls=autotune,
                deterministic=True,
            ).map(
                lambda xb, yb: (
                    tf.ensure_shape(xb, (None, length, 1)),
                    tf.ensure_shape(yb, (None,)),
                )
            )
        return ds.prefetch(autotune)

    def per_sample_generator():
        samples = SampleGenerator(X, y, order, work)
        ds = tf.data.Dataset.from_generator(samples, output_signature=(x_spec, y_spec))
        return ds.batch(batch_size).apply(known_length).prefetch(autotune)

    def batched_generator():
        batches = Batches(X, y, order, batch_size, work)
        ds = tf.data.Dataset.from_generator(batches, output_signature=(xb_spec, yb_spec))
        return ds.apply(known_length).prefetch(autotune)

    def interleaved_shards():
        shards = Batches(X, y, order, batch_size, work, num_shards=num_parallel)
        ds = tf.data.Dataset.range(num_parallel).interleave(
            lambda k: tf.data.Dataset.from_generator(
                shards, args=(k,), output_signature=(xb_spec, yb_spec)
            ),
            cycle_length=num_parallel,
            num_parallel_calls=num_parallel,
            deterministic=True,
        )
        return ds.apply(known_length).prefetch(autotune)

    return {
        "from_tensor_slices": tensor_slices,
        "from_generator, per-sample": per_sample_generator,
        "from_generator, batched": batched_generator,
        f"interleave {num_parallel} generator shards": interleaved_shards,
        f"PyDataset, {num_parallel} worker threads": lambda: pydataset(
            Batches(X, y, order, batch_size, work), num_parallel
        ),
    }


def _restarter(model: Any) -> Callable[[], None]:
    """A function that puts ``model`` (compiled Keras) back to its state now: weights and
    optimiser variables (step count, moments). Training the same model object again
    reuses its traced training step, which a fresh model would trace anew (about a
    second on 2 cores), while the numbers stay those of a fresh model."""
    model.optimizer.build(model.trainable_variables)
    saved = [(v, v.numpy()) for v in [*model.weights, *model.optimizer.variables]]

    def restart() -> None:
        for variable, value in saved:
            variable.assign(value)

    return restart


def run_keras(
    pipelines: dict[str, Callable[[], Any]],
    *,
    scenario: str,
    num_classes: int,
    length: int,
    batch_size: int,
    epochs: int,
    control: Any,
    seed: int = 0,
    repeats: int = 1,
    live: Any = None,
    curves: dict[str, np.ndarray] | None = None,
) -> list[Row]:
    """``model.fit`` the Keras CNN (seeded, put back to its initial weights and optimiser
    state before each run) on each pipeline, ``repeats`` times interleaved; one row per
    pipeline. ``control`` is a
    :class:`helpers.keras_cnn.ZeroWaitControl` for the data-wait estimate. ``fit`` keeps
    the order each pipeline delivers (``shuffle=False``), so every pipeline trains on the
    same batches in the same order. ``curves``, if given, receives each pipeline's
    per-step loss curve of its first run."""
    from .keras_cnn import build_cnn, fit
    from .memory import MemorySampler

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    runs: dict[str, list[Row]] = {technique: [] for technique in pipelines}
    model = build_cnn(num_classes, length, seed=seed)
    restart = _restarter(model)
    for repeat in range(repeats):
        for technique, make in pipelines.items():
            if repeat and live is not None:
                live.new_run(technique)  # a repeat: a new line, not a zigzag back to x = 0
            restart()  # the freshly built weights and optimiser state, without retracing
            with MemorySampler(0.1) as mem:
                run = fit(
                    model,
                    make(),
                    batch_size=batch_size,
                    epochs=epochs,
                    control=control,
                    label=technique,
                    live=live,
                    shuffle=False,
                )
            if curves is not None:
                curves.setdefault(technique, run.losses)
            k = max(1, len(run.losses) // 10)
            accuracy = math.nan  # Keras reports accuracy per epoch, not per step
            runs[technique].append(
                Row(
                    "Keras",
                    scenario,
                    technique,
                    run.samples_per_s,
                    run.data_wait_share,
                    mem.added_anon_mb,
                    float(np.nanmean(run.losses[-k:])),
                    accuracy,
                    wait_is_estimate=True,
                    wait_noise=abs(control.own_wait_share),
                )
            )
    return [_median_row(r) for r in runs.values()]


# --------------------------------------------------------------------------- reporting
def best(rows: list[Row], framework: str, scenario: str) -> Row:
    """The fastest technique (samples/s) of ``framework`` in ``scenario``."""
    candidates = [r for r in rows if r.framework == framework and r.scenario == scenario]
    if not candidates:
        raise ValueError(f"no rows for {framework!r} in scenario {scenario!r}")
    return max(candidates, key=lambda r: r.samples_per_s)


def comparison(rows: list[Row], framework: str, scenario: str) -> Any:
    """The rows of one framework and scenario as a :class:`helpers.compare.Comparison`
    of samples/s, for verdicts that read a tie as a tie."""
    from .compare import from_values

    chosen = {
        r.technique: r.samples_per_s_runs or [r.samples_per_s]
        for r in rows
        if r.framework == framework and r.scenario == scenario
    }
    if not chosen:
        raise ValueError(f"no rows for {framework!r} in scenario {scenario!r}")
    return from_values(chosen)


def guide_questions(num_workers: int = 2) -> list[tuple[str, str, str, str, str]]:
    """The decision guide's questions, each answered by one measured pair of the race:
    ``(question, framework, scenario, baseline technique, candidate technique)``.
    "Worker processes?" is asked once per PyTorch sampler (per-index and batched): the
    two pairs can answer differently, and each gets its own row."""
    cheap, cpu, io = SCENARIOS
    n = num_workers
    per_index, per_batch = "DataLoader, per-index (default)", "DataLoader, batched sampler"
    generator = "from_generator, batched"
    index_processes = f"DataLoader, per-index, {n} workers"
    processes, threads = f"{per_batch}, {n} workers", f"PyDataset, {n} worker threads"
    shards = f"interleave {n} generator shards"
    # Worker processes are asked once per sampler: the two pairs can answer differently.
    return [
        ("Cheap samples: index whole batches?", "PyTorch", cheap, per_index, per_batch),
        ("Cheap samples: yield whole batches?", "Keras", cheap,
         "from_generator, per-sample", generator),
        ("Bigger than RAM: read from a memory map?", "PyTorch", cheap,
         per_batch, "memory-mapped .npy, batched sampler"),
        ("CPU-bound work: worker processes (per-index)?", "PyTorch", cpu,
         per_index, index_processes),
        ("CPU-bound work: worker processes (batched sampler)?", "PyTorch", cpu,
         per_batch, processes),
        ("CPU-bound work: worker threads?", "Keras", cpu, generator, threads),
        ("CPU-bound work: interleaved generators?", "Keras", cpu, generator, shards),
        ("Waiting on I/O: worker processes (per-index)?", "PyTorch", io,
         per_index, index_processes),
        ("Waiting on I/O: worker processes (batched sampler)?", "PyTorch", io,
         per_batch, processes),
        ("Waiting on I/O: worker threads?", "Keras", io, generator, threads),
        ("Waiting on I/O: interleaved generators?", "Keras", io, generator, shards),
    ]  # fmt: skip


def decision_guide(rows: list[Row], num_workers: int = 2) -> str:
    """The decision guide as a Markdown table: each of :func:`guide_questions` (one row
    per measured pair) with this run's verdict on its pair (from the repeats'
    samples/s; overlapping ranges read as a tie), or why there is none."""
    lines = ["| question | measured in | verdict of this run |", "|---|---|---|"]
    for question, framework, scenario, base, candidate in guide_questions(num_workers):
        picked = {
            r.technique: r for r in rows if (r.framework, r.scenario) == (framework, scenario)
        }
        if base not in picked or candidate not in picked:
            verdict = "not in this run"
        elif min(picked[base].repeats, picked[candidate].repeats) < 2:
            verdict = "ran once: no verdict (a verdict needs the noise of 2+ repeats)"
        else:
            verdict = comparison(rows, framework, scenario).verdict(base, candidate)
        lines.append(f"| {question} | {framework}, {scenario} | {verdict} |")
    return "\n".join(lines)


#: The results matrix's colour for the fastest technique and those tied with it: not
#: orange, which every other figure keeps for "waiting for data".
LEADER_COLOR = "#009E73"


def plot_matrix(rows: list[Row], *, title: str = "") -> Any:
    """One panel per framework x scenario: samples/s of each technique (median, with
    the range of the repeats as a whisker); the best, and any whose range overlaps the
    best's, in green (:data:`LEADER_COLOR`), the others blue; a legend says so."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .plots import COMPUTE_COLOR, comparison_bars

    frameworks = list(dict.fromkeys(r.framework for r in rows))
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    fig, axes = plt.subplots(
        len(frameworks),
        len(scenarios),
        figsize=(5 * len(scenarios), 3.6 * len(frameworks) + 0.4),
        squeeze=False,
        layout="constrained",  # room for the legend below the panels
    )
    for row_axes, framework in zip(axes, frameworks, strict=True):
        for ax, scenario in zip(row_axes, scenarios, strict=True):
            picked = [r for r in rows if r.framework == framework and r.scenario == scenario]
            if not picked:
                ax.set_visible(False)
                continue
            comparison_bars(
                {r.technique: r.samples_per_s for r in picked},
                ranges={r.technique: r.samples_per_s_range for r in picked},
                highlight=comparison(rows, framework, scenario).best(),
                highlight_color=LEADER_COLOR,
                title=f"{framework}: {scenario}",
                ax=ax,
            )
            if scenario != scenarios[0]:
                ax.tick_params(labelleft=False)
    legend = [
        Patch(color=LEADER_COLOR, label="fastest, or tied with it: range overlaps the leader's"),
        Patch(color=COMPUTE_COLOR, label="slower: range clear of the leader's"),
    ]
    fig.legend(handles=legend, loc="outside lower center", ncols=2, frameon=False)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table: median samples/s with the range of the repeats,
    data wait (Keras shares marked as estimates), memory the run added, final loss."""
    lines = [
        "| framework | scenario | technique | samples/s (median, range) | data wait "
        "| memory added MB | final loss |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        wait = r.wait_text()
        lo, hi = r.samples_per_s_range
        spread = f" ({lo:,.0f}-{hi:,.0f})" if r.repeats > 1 else ""
        lines.append(
            f"| {r.framework} | {r.scenario} | {r.technique} | {r.samples_per_s:,.0f}{spread} "
            f"| {wait} | {r.added_anon_mb:+,.0f} | {r.final_loss:.3f} |"
        )
    return "\n".join(lines)
