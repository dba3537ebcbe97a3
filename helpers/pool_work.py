"""What `multiprocessing.Pool` workers run in notebook 03, importable by any start method.

A pool sends each worker the *name* of the function to call (``module.function``),
not its code. Under ``fork`` (Linux up to Python 3.13) the worker is a copy of the
notebook's process and finds functions defined in the notebook; under ``spawn`` (macOS,
Windows) and ``forkserver`` (Linux from 3.14) it is a fresh interpreter that imports the
module by name, and a function defined in a notebook cannot be found there. The
functions below live in a module for that reason; the notebook shows their code with
:func:`helpers.source.show_source` where it teaches them.

Nothing here imports TensorFlow: a spawned worker imports this module (and NumPy) only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np


def data_generator(data_chunk: Iterable[Any]) -> Iterator[Any]:
    """The article's generator, as written: yields the items of ``data_chunk`` one by one.

    Calling it runs none of its body: it returns a *generator object*, which a pool
    cannot pickle to send back."""
    # Process a chunk of data
    for item in data_chunk:  # noqa: UP028 - the article's code, as written
        # Process individual items
        yield item


def process_chunk(chunk: Sequence[np.ndarray]) -> np.ndarray:
    """Runs in a worker: consume :func:`data_generator` there and send back one array,
    ``(len(chunk), *item_shape)`` with the items' dtype."""
    return np.stack(list(data_generator(chunk)))


def work_on_chunk(args: tuple[Callable[[], None], np.ndarray]) -> np.ndarray:
    """A pool task ``(work, chunk)``: call ``work()`` once per sample of ``chunk`` (an
    array of shape ``(n, ...)``), then return the chunk unchanged."""
    work, chunk = args
    for _ in range(len(chunk)):
        work()
    return chunk


@contextlib.contextmanager
def capture_worker_stderr() -> Iterator[Callable[[], str]]:
    """Send what processes started inside the block write to stderr to a temporary file.

    Yields a function returning the last non-empty line written so far (``""`` if none):
    a worker that dies on an exception prints a traceback there, and its last line names
    the error. The parent's own stderr is restored when the block ends. Workers inherit
    file descriptor 2 when they start, so start them inside the block."""
    with tempfile.TemporaryFile(mode="w+b") as log:

        def last_line() -> str:
            log.flush()
            log.seek(0)
            lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines()]
            return next((ln for ln in reversed(lines) if ln), "")

        try:
            saved = os.dup(2)
        except OSError:  # no usable stderr: nothing to redirect
            yield last_line
            return
        os.dup2(log.fileno(), 2)
        try:
            yield last_line
        finally:
            os.dup2(saved, 2)
            os.close(saved)
