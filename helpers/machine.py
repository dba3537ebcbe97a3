"""Describe the machine a measurement ran on, so every result is printed next to it."""

from __future__ import annotations

import os
import platform
import sys


def _memory_gib() -> float:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:  # pragma: no cover - psutil is a pinned dependency
        return float("nan")


def describe() -> str:
    """One line: OS, CPU cores, RAM, Python, and the versions of the array/ML libraries
    that are already imported (this never imports PyTorch or TensorFlow itself).

    >>> describe()  # doctest: +SKIP
    'Linux x86_64 · 2 CPU cores · 23.4 GiB RAM · Python 3.11.7 · numpy 2.4.6 · torch 2.13.0+cpu'
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        f"{platform.system()} {platform.machine()}",
        f"{usable} CPU cores",
        f"{_memory_gib():.1f} GiB RAM",
        f"Python {platform.python_version()}",
    ]
    for name in ("numpy", "torch", "tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            parts.append(f"{name} {getattr(module, '__version__', '?')}")
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"{torch.get_num_threads()} torch threads")
        if torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return " · ".join(parts)
