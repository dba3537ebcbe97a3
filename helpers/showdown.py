"""The training showdown: every loader of notebooks 01-05, built the same way, run the same way.

Shared by ``notebooks/06_training_showdown.ipynb`` and ``make bench`` so that both
measure exactly the same thing. Each technique is a *factory*: given the data, one
epoch's sample order and the per-sample work, it returns a fresh iterable of
``(x, y)`` batches for one epoch. Every factory delivers the same samples exactly
once per epoch, calls the per-sample work exactly once per sample, and, where the
technique allows, in the same order (so the loss curves can be compared).

PyTorch factories are in :func:`torch_loaders`, Keras/TensorFlow ones in
:func:`keras_pipelines`; each imports its framework only when called.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    added_anon_mb: float  # peak minus the run's own start (process tree, PSS)
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
    """One row from the repeats of one technique: medians, and every samples/s."""
    first = runs[0]
    return Row(
        first.framework,
        first.scenario,
        first.technique,
        statistics.median(r.samples_per_s for r in runs),
        statistics.median(r.data_wait_share for r in runs),
        statistics.median(r.added_anon_mb for r in runs),
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
def torch_loaders(
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    work: SampleWork,
    *,
    x_path: str | os.PathLike | None = None,
    y_path: str | os.PathLike | None = None,
    num_workers: int = 2,
) -> dict[str, Callable[[], Iterable[Any]]]:
    """Factories of one-epoch PyTorch loaders over ``X`` ``(n, 1, length)``, ``y`` ``(n,)``.

    ``order`` is the epoch's sample order (every loader follows it, batched the same
    way, except that worker loaders interleave their workers' output by batch, which
    keeps the order). ``x_path``/``y_path`` (the same data as ``.npy``) add the
    memory-mapped loader.
    """
    import torch
    from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset

    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    order_list = order.tolist()

    class PerIndex(Dataset):  # the textbook map-style dataset: one sample per call
        def __len__(self) -> int:
            return len(X_t)

        def __getitem__(self, i: int):
            work()
            return X_t[i], y_t[i]

    class PerBatch(Dataset):  # __getitem__ takes a whole list of indices
        def __len__(self) -> int:
            return len(X_t)

        def __getitem__(self, idx: list[int]):
            for _ in idx:
                work()
            return X_t[idx], y_t[idx]

    class SamplesStream(IterableDataset):  # a generator of single samples
        def __iter__(self):
            for i in order_list:
                work()
                yield X_t[i], y_t[i]

    class BatchesStream(IterableDataset):  # a generator of whole batches
        def __iter__(self):
            for idx in batch_orders(order, batch_size):
                for _ in idx:
                    work()
                yield X_t[idx], y_t[idx]

    def batch_sampler() -> BatchSampler:
        return BatchSampler(order_list, batch_size, drop_last=False)

    loaders: dict[str, Callable[[], Iterable[Any]]] = {
        "DataLoader, per-index (default)": lambda: DataLoader(
            PerIndex(), batch_size=batch_size, sampler=order_list
        ),
        f"DataLoader, per-index, {num_workers} workers": lambda: DataLoader(
            PerIndex(), batch_size=batch_size, sampler=order_list, num_workers=num_workers
        ),
        "DataLoader, batched sampler": lambda: DataLoader(
            PerBatch(), sampler=batch_sampler(), batch_size=None
        ),
        f"DataLoader, batched sampler, {num_workers} workers": lambda: DataLoader(
            PerBatch(), sampler=batch_sampler(), batch_size=None, num_workers=num_workers
        ),
        "IterableDataset, per-sample": lambda: DataLoader(SamplesStream(), batch_size=batch_size),
        "IterableDataset, batched": lambda: DataLoader(BatchesStream(), batch_size=None),
    }
    if x_path is not None and y_path is not None:
        x_file, y_file = str(x_path), str(y_path)

        class MemoryMapped(Dataset):  # opened lazily, so workers open their own map
            def __init__(self) -> None:
                self.X = self.y = None

            def __len__(self) -> int:
                return len(X_t)

            def __getitem__(self, idx: list[int]):
                if self.X is None:
                    self.X = np.load(x_file, mmap_mode="r")
                    self.y = np.load(y_file, mmap_mode="r")
                for _ in idx:
                    work()
                # Sorted reads are sequential on disk; then restore the batch order.
                idx = np.asarray(idx)
                rank = np.argsort(idx)
                xs = np.empty((len(idx), *self.X.shape[1:]), dtype=self.X.dtype)
                xs[rank] = self.X[idx[rank]]  # fancy indexing copies: a writable array
                ys = np.asarray(self.y[idx])
                return torch.from_numpy(xs), torch.from_numpy(ys)

        loaders["memory-mapped .npy, batched sampler"] = lambda: DataLoader(
            MemoryMapped(), sampler=batch_sampler(), batch_size=None
        )
    return loaders


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
    for _ in range(repeats):
        for technique, make in loaders.items():

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
def keras_pipelines(
    X: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    work: SampleWork,
    *,
    num_parallel: int = 2,
) -> dict[str, Callable[[], Any]]:
    """Factories of one-epoch Keras inputs over channels-last ``X`` ``(n, length, 1)``.

    Every pipeline calls ``work()`` once per sample and delivers each sample once.
    ``from_tensor_slices`` runs the work through ``tf.py_function`` in a parallel map
    (that is how Python work gets into a tensor pipeline); the generator pipelines
    run it in the generator; the ``PyDataset`` runs it in ``__getitem__``.
    """
    from .keras_cnn import keras, tf

    autotune = tf.data.AUTOTUNE
    length = X.shape[1]
    x_spec = tf.TensorSpec((length, 1), tf.float32)
    xb_spec = tf.TensorSpec((None, length, 1), tf.float32)
    y_spec, yb_spec = tf.TensorSpec((), tf.int64), tf.TensorSpec((None,), tf.int64)
    batches = batch_orders(order, batch_size)
    Xo, yo = X[order], y[order]

    def batch_work(xb, yb):
        for _ in range(int(tf.shape(xb)[0])):
            work()
        return xb, yb

    def tensor_slices():
        ds = tf.data.Dataset.from_tensor_slices((Xo, yo)).batch(batch_size)
        if work.kind != "none":
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

    def samples():
        for i in order:
            work()
            yield X[i], y[i]

    def whole_batches():
        for idx in batches:
            for _ in idx:
                work()
            yield X[idx], y[idx]

    def shard(k):  # shard k of num_parallel: every num_parallel-th batch
        for idx in batches[int(k) :: num_parallel]:
            for _ in idx:
                work()
            yield X[idx], y[idx]

    class SignalBatches(keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            idx = batches[i]
            for _ in idx:
                work()
            return X[idx], y[idx]

    # A generator's length is unknown to tf.data; without assert_cardinality Keras warns
    # "Your input ran out of data" at the end of every epoch.
    known_length = tf.data.experimental.assert_cardinality(len(batches))

    def per_sample_generator():
        ds = tf.data.Dataset.from_generator(samples, output_signature=(x_spec, y_spec))
        return ds.batch(batch_size).apply(known_length).prefetch(autotune)

    def batched_generator():
        ds = tf.data.Dataset.from_generator(whole_batches, output_signature=(xb_spec, yb_spec))
        return ds.apply(known_length).prefetch(autotune)

    def interleaved_shards():
        ds = tf.data.Dataset.range(num_parallel).interleave(
            lambda k: tf.data.Dataset.from_generator(
                shard, args=(k,), output_signature=(xb_spec, yb_spec)
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
        f"PyDataset, {num_parallel} worker threads": lambda: SignalBatches(
            workers=num_parallel, use_multiprocessing=False
        ),
    }


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
) -> list[Row]:
    """``model.fit`` a fresh Keras CNN (same seed) on each pipeline, ``repeats`` times
    interleaved; one row per pipeline. ``control`` is a
    :class:`helpers.keras_cnn.ZeroWaitControl` for the data-wait estimate."""
    from .keras_cnn import build_cnn, fit
    from .memory import MemorySampler

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    runs: dict[str, list[Row]] = {technique: [] for technique in pipelines}
    for _ in range(repeats):
        for technique, make in pipelines.items():
            model = build_cnn(num_classes, length, seed=seed)
            with MemorySampler(0.1) as mem:
                run = fit(
                    model,
                    make(),
                    batch_size=batch_size,
                    epochs=epochs,
                    control=control,
                    label=technique,
                    live=live,
                )
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


def plot_matrix(rows: list[Row], *, title: str = "") -> Any:
    """One panel per framework x scenario: samples/s of each technique (median, with
    the range of the repeats as a whisker); the best, and any tied with it, in orange."""
    import matplotlib.pyplot as plt

    from .plots import comparison_bars

    frameworks = list(dict.fromkeys(r.framework for r in rows))
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    fig, axes = plt.subplots(
        len(frameworks),
        len(scenarios),
        figsize=(5 * len(scenarios), 3.6 * len(frameworks)),
        squeeze=False,
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
                title=f"{framework}: {scenario}",
                ax=ax,
            )
            if scenario != scenarios[0]:
                ax.tick_params(labelleft=False)
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
