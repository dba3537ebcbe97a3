"""The same 1D CNN in Keras, and a callback that records data wait vs compute.

Importing this module imports TensorFlow quietly: its C++ start-up log lines
(oneDNN, CUDA probing) are silenced so they do not fill notebook outputs. Notebooks
take ``tf`` and ``keras`` from here::

    from helpers.keras_cnn import tf, keras, build_cnn, StepTimer

Inside ``model.fit`` Keras fetches the next batch *inside* the training step, so a
callback cannot time ``next()`` on its own. :class:`StepTimer` therefore records the
wall time of every step, and the data wait is estimated as the part of each step
beyond the *compute-bound* step time, measured by :func:`compute_bound_step_s` on a
batch that costs nothing to fetch. This mirrors how the PyTorch notebooks measure the
compute bound, and is stated as an estimate wherever it is shown.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@contextlib.contextmanager
def _quiet_stderr_fd() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null (C++ logging writes there directly)."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with _quiet_stderr_fd():
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.list_physical_devices()  # probes devices now, while stderr is quiet

__all__ = ["tf", "keras", "build_cnn", "StepTimer", "compute_bound_step_s", "KerasRun", "fit"]


def build_cnn(
    num_classes: int = 4, length: int | None = None, *, seed: int = 0, lr: float = 1e-3
) -> keras.Model:
    """The Keras twin of ``torch_cnn.SignalCNN`` for inputs ``(batch, length, 1)``,
    compiled with Adam and sparse categorical cross-entropy on logits. ``length=None``
    accepts any length. Same seed, same initial weights."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=(length, 1)),
            layers.Conv1D(16, 7, padding="same", activation="relu"),
            layers.MaxPooling1D(2),
            layers.Conv1D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling1D(2),
            layers.Conv1D(64, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(num_classes),
        ],
        name="signal_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class StepTimer(keras.callbacks.Callback):
    """Records the wall time of every training step (``on_train_batch_begin`` to
    ``_end``), the loss Keras reports, and feeds an optional live plot. The live
    samples/s leave out the first ``warmup_steps`` steps (graph tracing), as
    :func:`fit`'s statistics do; its clock starts when they end."""

    def __init__(
        self,
        label: str = "",
        live: Any = None,
        batch_size: int | None = None,
        warmup_steps: int = 0,
    ) -> None:
        super().__init__()
        self.label = label
        self.live = live
        self.batch_size = batch_size
        self.warmup_steps = warmup_steps
        self.begin_s: list[float] = []  # perf_counter() at each step's start
        self.step_s: list[float] = []
        self.losses: list[float] = []
        self._t_begin = 0.0
        self._t0: float | None = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._t_begin = time.perf_counter()
        self.begin_s.append(self._t_begin)
        if self._t0 is None and len(self.begin_s) > self.warmup_steps:
            self._t0 = self._t_begin

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        self.step_s.append(now - self._t_begin)
        loss = (logs or {}).get("loss")
        self.losses.append(float(loss) if loss is not None else float("nan"))
        if self.live is not None and self.batch_size and self._t0 is not None and now > self._t0:
            rate = (len(self.step_s) - self.warmup_steps) * self.batch_size / (now - self._t0)
            self.live.update(self.label, now - self._t0, rate)


def compute_bound_step_s(
    model: keras.Model, x_batch: np.ndarray, y_batch: np.ndarray, steps: int = 30
) -> float:
    """Median seconds per training step when fetching a batch costs nothing.

    Trains a *copy* of ``model`` (same architecture and compile settings, weights
    copied) on one batch repeated ``steps`` times via ``Dataset.from_tensors``, so
    ``model`` itself is left untouched. The first 5 steps (tracing) are ignored.
    """
    if steps < 6:
        raise ValueError(f"steps must be >= 6 (5 are warm-up), got {steps}")
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=model.optimizer.__class__(), loss=model.loss, metrics=["accuracy"])
    data = tf.data.Dataset.from_tensors((x_batch, y_batch)).repeat(steps)
    timer = StepTimer()
    twin.fit(data, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    return float(np.median(timer.step_s[5:]))


@dataclass
class KerasRun:
    """A timed ``model.fit``: samples/s over the wall time of the measured steps (from
    the first one's start to the last one's end) and the estimated data-wait share."""

    label: str
    samples: int
    elapsed_s: float
    step_s: np.ndarray
    losses: np.ndarray
    compute_step_s: float | None

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.elapsed_s

    @property
    def data_wait_share(self) -> float:
        """Estimated share of step time spent on data: the time each step took beyond the
        compute-bound step time, over the total step time (``nan`` without a bound)."""
        if self.compute_step_s is None:
            return float("nan")
        extra = np.clip(self.step_s - self.compute_step_s, 0, None)
        return float(extra.sum() / self.step_s.sum())

    def summary(self) -> str:
        share = self.data_wait_share
        wait = "" if np.isnan(share) else f", data wait ~{share:.0%} of each step (estimate)"
        return (
            f"{self.label or 'fit'}: {self.samples_per_s:,.0f} samples/s{wait}, "
            f"final loss {np.nanmean(self.losses[-max(1, len(self.losses) // 10) :]):.3f}"
        )


def fit(
    model: keras.Model,
    data: Any,
    *,
    batch_size: int,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    compute_step_s: float | None = None,
    label: str = "",
    live: Any = None,
    warmup_steps: int = 2,
) -> KerasRun:
    """``model.fit(data, ...)`` with a :class:`StepTimer`; returns a :class:`KerasRun`.

    ``data`` is anything ``fit`` accepts (``tf.data.Dataset``, ``PyDataset``, ...)
    yielding batches of ``batch_size``. The first ``warmup_steps`` (graph tracing) are
    excluded from the statistics. Pass ``compute_step_s`` from
    :func:`compute_bound_step_s` to get the data-wait estimate.
    """
    timer = StepTimer(label, live, batch_size, warmup_steps)
    # A tf.data pipeline shuffles itself (or not): fit's shuffle would only warn.
    shuffle = not isinstance(data, tf.data.Dataset)
    model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=shuffle,
        verbose=0,
        callbacks=[timer],
    )
    steps = np.asarray(timer.step_s[warmup_steps:])
    if len(steps) == 0:
        raise ValueError(
            f"fit ran {len(timer.step_s)} step(s), not more than warmup_steps={warmup_steps}: "
            "is the dataset empty or too small?"
        )
    return KerasRun(
        label=label,
        samples=len(steps) * batch_size,
        elapsed_s=timer.begin_s[-1] + timer.step_s[-1] - timer.begin_s[warmup_steps],
        step_s=steps,
        losses=np.asarray(timer.losses[warmup_steps:]),
        compute_step_s=compute_step_s,
    )
