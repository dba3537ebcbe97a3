"""The 1D CNN in PyTorch and a training loop that records data wait vs compute.

The loop is :func:`helpers.timing.measure` with a training step as the consumer, so
every number it reports (samples/s, data-wait share, per-step times) is measured
the same way as a bare loader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .timing import Measurement, measure

#: Name of a :class:`helpers.plots.LivePlot` panel that :func:`train` feeds with the
#: running data-wait share (percent of the measured steps so far).
WAIT_PANEL = "data wait %"


class SignalCNN(nn.Module):
    """Three Conv1d blocks and a linear classifier for signals ``(batch, channels, length)``.

    Works for any length (global average pooling at the end); returns logits
    ``(batch, num_classes)``. The Keras twin in ``keras_cnn.py`` has the same layers
    and the same number of parameters.
    """

    def __init__(self, num_classes: int = 4, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, 16, kernel_size=7, padding=3),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(16, 32, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_cnn(num_classes: int = 4, in_channels: int = 1, *, seed: int = 0) -> SignalCNN:
    """A freshly initialised :class:`SignalCNN`; the same seed gives the same weights."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SignalCNN(num_classes, in_channels)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TrainResult:
    """A training run: the timing :class:`Measurement` plus loss and accuracy per
    measured step (warm-up steps train too, but are not in these arrays)."""

    measurement: Measurement
    losses: np.ndarray
    accuracies: np.ndarray
    device: str

    @property
    def label(self) -> str:
        return self.measurement.label

    @property
    def samples_per_s(self) -> float:
        return self.measurement.samples_per_s

    @property
    def data_wait_share(self) -> float:
        return self.measurement.data_wait_share

    @property
    def final_loss(self) -> float:
        """Mean loss over the last 10% of measured steps (at least one)."""
        k = max(1, len(self.losses) // 10)
        return float(self.losses[-k:].mean())

    def summary(self) -> str:
        return (
            f"{self.measurement.summary()}, final loss {self.final_loss:.3f}, "
            f"accuracy {self.accuracies[-max(1, len(self.accuracies) // 10) :].mean():.0%} "
            f"({self.device})"
        )


def _repeat_epochs(batches: Iterable[Any], epochs: int) -> Iterator[Any]:
    for epoch in range(epochs):
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            hint = (
                " `batches` is a one-shot iterator (a generator object?) and was used up by "
                "the previous epoch; pass something re-iterable, such as a DataLoader or a "
                "list, or an IterableDataset whose __iter__ starts a fresh generator"
                if epoch > 0
                else " is the dataset empty, or did drop_last drop the only (partial) batch?"
            )
            raise ValueError(f"epoch {epoch + 1} yielded no batches:{hint}")


def _timed_next(batches: Iterable[Any], waits: list[float]) -> Iterator[Any]:
    """Yield from ``batches``, appending the seconds each ``next()`` took to ``waits``."""
    it = iter(batches)
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            return
        waits.append(time.perf_counter() - t0)
        yield batch


def train(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    epochs: int = 1,
    max_steps: int | None = None,
    lr: float = 1e-3,
    device: str | torch.device | None = None,
    non_blocking: bool = False,
    label: str = "",
    warmup: int = 1,
    live: Any = None,
    progress: bool | None = None,
    before_timing: Callable[[], Any] | None = None,
    refill_batches: int | None = None,
) -> TrainResult:
    """Train ``model`` with Adam and cross-entropy on ``(x, y)`` batches; time each step.

    ``batches`` is anything iterable that yields ``(x, y)``: a ``DataLoader``, a list,
    an ``IterableDataset``; ``x`` float32 ``(batch, channels, length)`` and ``y`` int64
    ``(batch,)``, as tensors or NumPy arrays. ``epochs`` passes over ``batches``,
    stopping early after ``max_steps`` measured steps. The first ``warmup`` steps train
    but are not timed. The data wait is the time spent in ``next()``; the step
    (compute) includes moving the batch to ``device`` (``non_blocking`` is passed to
    ``Tensor.to``), forward, backward and the optimiser. ``live`` (a
    :class:`helpers.plots.LivePlot`) gets samples/s, loss if it has a ``"loss"``
    panel, and the data-wait share so far (percent, against seconds of measured wait
    plus step) if it has a :data:`WAIT_PANEL` (``"data wait %"``) panel; like the
    loss, it is recorded during the step and drawn between steps, outside the timing.
    ``progress`` shows a tqdm bar (default: when there is no live plot).
    ``before_timing`` is passed to :func:`helpers.timing.measure`: called once, after
    the warm-up steps, right before the clock starts. ``refill_batches`` too (0 for a
    loader without a prefetch queue warmed up for several steps).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    dev = pick_device(device)
    model.to(dev)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    correct: list[float] = []
    steps_done = 0
    live_loss = live is not None and "loss" in getattr(live, "panels", ())
    live_wait = live is not None and WAIT_PANEL in getattr(live, "panels", ())
    waits: list[float] = []  # each next() as timed by _timed_next (only with live_wait)
    wait_total = step_total = 0.0  # seconds over measured steps, for the live share
    if progress is None:
        progress = live is None
    total = None
    if max_steps is not None:
        total = max_steps + warmup
    elif hasattr(batches, "__len__"):
        try:
            total = len(batches) * epochs
        except TypeError:  # a DataLoader over an IterableDataset that has no __len__
            total = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=label or "training", unit="step", leave=False)
    first_step_at: float | None = None  # x of the loss curve: seconds since then

    def step(batch: Any) -> None:
        nonlocal steps_done, first_step_at, wait_total, step_total
        t_in = time.perf_counter()
        x, y = batch[0], batch[1]
        if isinstance(x, np.ndarray):
            x, y = torch.from_numpy(x), torch.from_numpy(np.asarray(y))
        x = x.to(dev, non_blocking=non_blocking)
        y = y.to(dev, non_blocking=non_blocking)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        steps_done += 1
        if steps_done > warmup:  # warm-up steps train but are not recorded
            losses.append(loss.item())
            correct.append((logits.argmax(1) == y).float().mean().item())
            if live_loss:
                now = time.perf_counter()
                first_step_at = now if first_step_at is None else first_step_at
                # Record only: drawing here would be timed as compute. measure() redraws
                # between steps, outside the timed regions.
                live.update(label, now - first_step_at, losses[-1], panel="loss", redraw=False)
            if live_wait:
                wait_total += waits[-1]
                step_total += time.perf_counter() - t_in
                share = 100 * wait_total / (wait_total + step_total)
                live.update(label, wait_total + step_total, share, panel=WAIT_PANEL, redraw=False)
        if bar is not None:
            bar.update(1)

    try:
        repeated = _repeat_epochs(batches, epochs)
        measurement = measure(
            _timed_next(repeated, waits) if live_wait else repeated,
            step,
            label=label,
            warmup=warmup,
            max_batches=max_steps,
            live=live,
            before_timing=before_timing,
            refill_batches=refill_batches,
        )
    finally:
        if bar is not None:
            bar.close()
    measurement.extra["device"] = str(dev)
    return TrainResult(measurement, np.asarray(losses), np.asarray(correct), str(dev))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    batch_size: int = 512,
) -> float:
    """Accuracy of ``model`` on ``X`` ``(n, channels, length)`` with labels ``y``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    dev = next(model.parameters()).device
    model.eval()
    hits = 0
    for i in range(0, len(X), batch_size):
        logits = model(X[i : i + batch_size].to(dev))
        hits += int((logits.argmax(1).cpu() == y[i : i + batch_size]).sum())
    model.train()
    return hits / len(X)
