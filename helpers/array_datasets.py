"""The datasets and collate function that notebook 01 hands to ``DataLoader`` workers.

A ``DataLoader`` with ``num_workers > 0`` sends its dataset (and ``collate_fn``) to each
worker process. Under ``spawn`` (the default on macOS and Windows; Linux uses
``forkserver`` from Python 3.14) a worker is a fresh Python process: it unpickles the
dataset, which means importing the module that defines its class. A class defined in a
notebook lives in the kernel's ``__main__``, which a fresh process does not have, so it
cannot be found there. Everything a worker runs therefore lives here, at module level;
the notebook shows each piece with :func:`helpers.source.show_source` where it is taught.

Samples are ``(x, y)``: ``x`` float32 ``(1, length)`` (or ``(784,)`` for the article's
example) and ``y`` an int64 scalar tensor; batches stack them along a new first axis.

:func:`worker_messages` is plumbing for the notebook: it turns what worker processes
write to stderr (tracebacks full of machine paths) and the warnings a block raises into
one plain line each.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class MyDataset(Dataset):
    """The article's example 3, as written: arrays in, ``(data[idx], labels[idx])`` out.

    ``data``: float array ``(n, ...)``; ``labels``: integer array ``(n,)``. Note that
    ``astype`` copies even when the dtype already matches (notebook 01, Exercise 3).
    """

    def __init__(self, data, labels):
        self.data = torch.from_numpy(data.astype(np.float32))
        self.labels = torch.from_numpy(labels.astype(np.int64))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.data[idx], self.labels[idx]


class SlowDataset(MyDataset):
    """MyDataset plus ``work()`` per sample: stands in for decoding or augmenting.

    ``work`` is any picklable callable, e.g. ``helpers.data.SampleWork("cpu", 500e-6)``.
    """

    def __init__(self, data: np.ndarray, labels: np.ndarray, work: Callable[[], Any]) -> None:
        super().__init__(data, labels)
        self.work = work

    def __getitem__(self, idx):
        self.work()
        return super().__getitem__(idx)


class ListDataset(Dataset):
    """The pattern to avoid with workers: samples as Python lists of floats.

    ``X``: float32 ``(n, 1, length)``; ``y``: int64 ``(n,)``. Holds one Python ``float``
    object per value (about 32 bytes each instead of 4).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.signals = X.reshape(len(X), -1).tolist()  # a Python float object per value
        self.labels = y.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor(self.signals[i]).view(1, -1), self.labels[i]


class ArrayDataset(Dataset):
    """The alternative: the arrays themselves, shared with the tensors (zero-copy).

    ``X``: float32 ``(n, 1, length)``; ``y``: int64 ``(n,)``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.y[i]


class BatchedTensors(Dataset):
    """Tensors that share their first dimension; serves one sample or a whole batch.

    ``dataset[i]`` is one sample; ``dataset.__getitems__(indices)`` (what the
    ``DataLoader``'s fetcher calls when it exists) is the whole batch, one fancy index
    per tensor. Use it with ``collate_fn=already_collated``.
    """

    def __init__(self, *tensors: torch.Tensor) -> None:
        lengths = [len(t) for t in tensors]
        if len(set(lengths)) != 1:
            raise ValueError(f"all tensors need the same number of samples, got {lengths}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        idx = torch.as_tensor(indices)  # the DataLoader passes a list of indices
        return tuple(t[idx] for t in self.tensors)


def already_collated(batch: Any) -> Any:
    """A ``collate_fn`` that returns the batch unchanged (it is already one batch)."""
    return batch


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


@contextlib.contextmanager
def worker_messages() -> Iterator[None]:
    """Print, after the block, each distinct warning it raised and each distinct error
    line that child processes (``DataLoader`` workers) wrote to stderr, one line each.

    A failing worker prints its traceback straight to the process's stderr (file
    descriptor 2), where the kernel would show it whole, machine paths included. Here
    fd 2 points to a temporary file while the block runs; afterwards only the lines
    that name an error (``AttributeError: ...``) are printed, prefixed ``worker:``.
    Exceptions raised in the block still propagate.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            for message in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
                print(message)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            for line in dict.fromkeys(
                m.group(0) for m in map(_ERROR_LINE.match, text.splitlines()) if m
            ):
                print(f"worker: {line}")
