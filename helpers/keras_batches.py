"""Keras ``PyDataset`` classes that worker processes run (notebook 04).

With ``use_multiprocessing=True`` Keras hands the dataset to a pool of worker
processes. Under ``spawn`` (the default on macOS and Windows, and ``forkserver`` on
Linux from Python 3.14) each worker imports the dataset's class afresh, by module and
name, so a class defined in a notebook cannot be found there. These classes live
here, at module level, and notebook 04 shows their code where it teaches them
(``helpers.source.show_source``).

Importing this module imports Keras (and TensorFlow) quietly, through
:mod:`helpers.keras_cnn`; a spawned worker pays that import once per pool.
"""

from __future__ import annotations

import math

import numpy as np

from .data import SampleWork
from .keras_cnn import keras

__all__ = ["JpegBatches", "JpegBatchesDropLast", "CountingBatches", "SignalBatches"]


class JpegBatches(keras.utils.PyDataset):
    """Batches of (images (b, size, size, 3) float32 in [0, 1], labels) from JPEG
    files; every image once per epoch, reshuffled after each epoch."""

    def __init__(self, image_paths, labels, batch_size, *, size=64, seed=0, **kwargs):
        super().__init__(**kwargs)  # workers, use_multiprocessing, max_queue_size
        if len(image_paths) == 0:
            raise ValueError("image_paths is empty: no images to load")
        if len(image_paths) != len(labels):
            raise ValueError(f"{len(image_paths)} image paths but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.image_paths, self.labels = [str(p) for p in image_paths], np.asarray(labels)
        self.batch_size, self.size = batch_size, size
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(self.image_paths))

    def __len__(self):
        return math.ceil(len(self.image_paths) / self.batch_size)  # keep the last batch

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise IndexError(f"batch {idx} out of range: {len(self)} batches")
        rows = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch = [self.load(self.image_paths[i]) for i in rows]
        return np.stack(batch), self.labels[rows]

    def load(self, path):
        from PIL import Image  # Pillow decodes; no TensorFlow op runs in a worker

        with Image.open(path) as img:
            img = img.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.float32) / 255.0

    def on_epoch_end(self):
        self.rng.shuffle(self.order)  # new batches next epoch


class CountingBatches(JpegBatches):
    """:class:`JpegBatches` that counts calls of ``__getitem__`` (in this process)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def __getitem__(self, idx):
        self.calls += 1
        return super().__getitem__(idx)


class JpegBatchesDropLast(JpegBatches):
    """:class:`JpegBatches` with ``drop_last``: when True, the last partial batch is
    left out of each epoch, and the constructor says how many images that is."""

    def __init__(self, *args, drop_last=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.drop_last = drop_last
        left_out = len(self.image_paths) % self.batch_size
        if drop_last and left_out:
            print(
                f"drop_last=True: {left_out} of {len(self.image_paths)} images are left "
                "out of each epoch (a different set each epoch, after reshuffling)"
            )

    def __len__(self):
        n, b = len(self.image_paths), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)


class SignalBatches(keras.utils.PyDataset):
    """Batches (x (b, length, 1) float32, y (b,) int64) of in-memory signals, reshuffled
    after each epoch, with ``work()`` called once per batch (a sleep or a busy loop)."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        work: SampleWork | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(X) == 0 or len(X) != len(y):
            raise ValueError(f"need as many labels as signals (> 0): {len(X)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.y, self.batch_size = X, y, batch_size
        self.work = work or SampleWork()
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(X))

    def __len__(self):
        return math.ceil(len(self.X) / self.batch_size)

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise IndexError(f"batch {idx} out of range: {len(self)} batches")
        rows = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
        self.work()  # the per-batch work: a sleep ("io") or a busy loop ("cpu")
        return self.X[rows], self.y[rows]

    def on_epoch_end(self):
        self.rng.shuffle(self.order)
