"""The same 1D CNN in Keras, and a callback that records data wait vs compute.

Importing this module imports TensorFlow quietly: its C++ start-up log lines
(oneDNN, CUDA probing) are silenced so they do not fill notebook outputs. Notebooks
take ``tf`` and ``keras`` from here::

    from helpers.keras_cnn import tf, keras, build_cnn, StepTimer

Inside ``model.fit`` Keras fetches the next batch *inside* the training step, so a
callback cannot time ``next()`` on its own. :class:`StepTimer` therefore records the
wall time of every step, and the data wait is *estimated*: the mean step time beyond
that of a **zero-wait control**, the same model trained on the same kind of batches
from a cached, prefetched, in-memory ``tf.data`` pipeline (:func:`zero_wait_control`).
The control runs a second time; how far that run differs from the first is printed
next to every estimate (``noise floor ±2%``): what the estimate can read when the
data wait is zero.
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

__all__ = [
    "tf",
    "keras",
    "build_cnn",
    "StepTimer",
    "ZeroWaitControl",
    "zero_wait_control",
    "KerasRun",
    "fit",
]


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
    :func:`fit`'s statistics do; its clock starts when they end. The time spent feeding
    the live plot (drawing included) is measured as ``paused_s`` and left out of the
    run's wall time by :func:`fit`."""

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
        self.paused_s = 0.0  # time spent on the live plot after warm-up

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
        if self.live is not None and self.batch_size and self._t0 is not None:
            timed_s = now - self._t0 - self.paused_s
            if timed_s > 0:
                rate = (len(self.step_s) - self.warmup_steps) * self.batch_size / timed_s
                self.live.update(self.label, timed_s, rate)
                self.paused_s += time.perf_counter() - now


@dataclass
class ZeroWaitControl:
    """The zero-wait control: what a training step costs when fetching data costs nothing.

    ``step_s``: the median over the control runs of their mean seconds per step.
    ``own_wait_share``: the estimate applied to each control run,
    ``1 - step_s / (its mean step)``, signed, the one furthest from zero. Their true
    wait is zero, so this is the estimate's noise on this machine, now: an estimate
    within ``abs(own_wait_share)`` of zero means no measurable wait.
    """

    step_s: float
    own_wait_share: float
    batch_size: int

    @property
    def samples_per_s(self) -> float:
        """Samples/s the model trains at when data costs nothing: the compute bound."""
        return self.batch_size / self.step_s

    def summary(self) -> str:
        return (
            f"zero-wait control: {self.step_s * 1e3:.2f} ms per step "
            f"({self.samples_per_s:,.0f} samples/s, median of its runs); its runs differ by up to "
            f"{abs(self.own_wait_share):.1%}: the wait estimate's noise floor is "
            f"±{abs(self.own_wait_share):.1%}"
        )


def _mean_step_s(model: keras.Model, ds: Any, skip: int) -> float:
    timer = StepTimer()
    model.fit(ds, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    return float(np.mean(timer.step_s[skip:]))


def estimated_wait_share(step_s: float, control_step_s: float) -> float:
    """The share of a mean step of ``step_s`` seconds beyond the control's, at least 0."""
    if step_s <= 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    return max(0.0, 1.0 - control_step_s / step_s)


def zero_wait_control(
    model: keras.Model,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    steps: int = 40,
    runs: int = 4,
) -> ZeroWaitControl:
    """Measure the zero-wait control for ``model`` on batches of ``batch_size`` from ``X``.

    Trains a *copy* of ``model`` (same architecture, compile settings and weights; the
    model itself is left untouched) on ``steps`` batches from a ``tf.data`` pipeline
    that is cached in memory, filled before the clock starts, and prefetched: fetching
    a batch costs nothing measurable. After a warm-up run (tracing, first-touch costs)
    it runs ``runs`` times: the reference step is their median, and their largest
    difference from it is the estimate's noise floor; the first 5 steps of each are
    left out. See :class:`ZeroWaitControl`.
    """
    if steps < 10:
        raise ValueError(f"steps must be >= 10 (5 are warm-up), got {steps}")
    if runs < 2:
        raise ValueError(f"runs must be >= 2 (their spread is the noise floor), got {runs}")
    if batch_size < 1 or len(X) < batch_size:
        raise ValueError(f"need 1 <= batch_size <= len(X), got {batch_size} and {len(X)}")
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=model.optimizer.__class__(), loss=model.loss, metrics=["accuracy"])
    n = min(len(X), steps * batch_size) // batch_size * batch_size
    cached = tf.data.Dataset.from_tensor_slices((X[:n], y[:n])).batch(batch_size).cache()
    for _ in cached:  # fill the cache now, outside the timed runs
        pass
    ds = cached.repeat().take(steps).prefetch(tf.data.AUTOTUNE)
    _mean_step_s(twin, ds, skip=5)  # warm-up: the first run is slower, whatever its data
    runs = [_mean_step_s(twin, ds, skip=5) for _ in range(runs)]
    reference = float(np.median(runs))
    return ZeroWaitControl(reference, max((1.0 - reference / r for r in runs), key=abs), batch_size)


@dataclass
class KerasRun:
    """A timed ``model.fit``: samples/s over the wall time of the measured steps (from
    the first one's start to the last one's end, live-plot time left out) and the
    estimated data-wait share against a :class:`ZeroWaitControl`."""

    label: str
    samples: int
    elapsed_s: float
    step_s: np.ndarray
    losses: np.ndarray
    control: ZeroWaitControl | None

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.elapsed_s

    @property
    def data_wait_share(self) -> float:
        """Estimated share of a step spent on data: the mean step time beyond the
        zero-wait control's, over the mean step time (``nan`` without a control)."""
        if self.control is None:
            return float("nan")
        return estimated_wait_share(float(self.step_s.mean()), self.control.step_s)

    @property
    def wait_within_noise(self) -> bool:
        """True when the estimate is no further from zero than the control's own noise:
        the data wait is then too small for this estimate to see."""
        return self.control is not None and self.data_wait_share <= abs(self.control.own_wait_share)

    def summary(self) -> str:
        share = self.data_wait_share
        if np.isnan(share):
            wait = ""
        else:
            floor = abs(self.control.own_wait_share)
            shown = "within the noise" if self.wait_within_noise else f"~{share:.0%}"
            wait = (
                f", data wait {shown} of each step (estimate; noise floor ±{floor:.1%}, "
                "from the zero-wait control)"
            )
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
    control: ZeroWaitControl | None = None,
    label: str = "",
    live: Any = None,
    warmup_steps: int = 2,
    shuffle: bool | None = None,
) -> KerasRun:
    """``model.fit(data, ...)`` with a :class:`StepTimer`; returns a :class:`KerasRun`.

    ``data`` is anything ``fit`` accepts (``tf.data.Dataset``, ``PyDataset``, ...)
    yielding batches of ``batch_size``. The first ``warmup_steps`` (graph tracing) are
    excluded from the statistics. Pass ``control`` from :func:`zero_wait_control`
    to get the data-wait estimate. ``shuffle=None`` (the default) lets ``fit`` shuffle
    the batch order of anything but a ``tf.data.Dataset``; pass ``False`` to keep the
    order the data comes in (e.g. a ``PyDataset`` that orders its epoch itself).
    """
    timer = StepTimer(label, live, batch_size, warmup_steps)
    # A tf.data pipeline shuffles itself (or not): fit's shuffle would only warn.
    if isinstance(data, tf.data.Dataset):
        shuffle = False
    elif shuffle is None:
        shuffle = True
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
        elapsed_s=timer.begin_s[-1]
        + timer.step_s[-1]
        - timer.begin_s[warmup_steps]
        - timer.paused_s,
        step_s=steps,
        losses=np.asarray(timer.losses[warmup_steps:]),
        control=control,
    )
