"""Loader Lab helpers: the plumbing the notebooks share.

``import helpers`` stays light: it imports neither PyTorch nor TensorFlow, so a
PyTorch notebook never pays for TensorFlow (and the other way round). Import the
framework parts explicitly::

    from helpers import data, timing, plots        # NumPy + Matplotlib only
    from helpers.torch_cnn import build_cnn, train  # imports torch
    from helpers.keras_cnn import build_cnn         # imports tensorflow/keras

Modules
-------
data       synthetic 1D signals, per-sample work, .npy files, image folders, real datasets
timing     one harness that measures any iterable of batches: samples/s, wait, memory
memory     what a process tree holds (PSS: shared pages once), anonymous vs file-backed
compare    interleaved repeats, median and range, verdicts that read a tie as a tie
plots      house style, LivePlot, comparison bars, wait-vs-compute timelines
machine    a one-line description of the machine, printed next to every result
check_env  the environment check workshop attendees run before the day
torch_cnn  the 1D CNN in PyTorch and a training loop that records data wait vs compute
keras_cnn  the same 1D CNN in Keras and a callback that records the same
"""

import importlib
from types import ModuleType

__all__ = ["data", "timing", "memory", "compare", "plots", "machine", "check_env"]


def __getattr__(name: str) -> ModuleType:
    """Import a light submodule on first use (``helpers.data``), keeping import cheap."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
