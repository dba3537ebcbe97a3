"""What moving data costs: memory a conversion holds, its peak, and host-to-device copies.

:func:`memory_cost` runs a function once and reports how much anonymous memory its
result keeps alive and how high resident memory rose *during* the call (temporaries
included). :func:`children_private_mb` reads the private (unshared) memory of worker
processes, which is where copy-on-read growth shows. :func:`host_to_device_copy_times`
times pageable vs pinned host-to-device copies on a CUDA GPU; run it from a script on a
GPU machine with ``python -m helpers.transfer``.

Memory readings are Linux-first (``/proc``). The peak uses the kernel's high-water
mark (``VmHWM``), reset before the call through ``/proc/self/clear_refs``; where that
is not possible the peak is ``nan``. Allocations of a few MB or less may be served from
memory the allocator already holds and then show up as 0 MB: measure arrays of tens of
MB. This module imports PyTorch only inside :func:`host_to_device_copy_times`.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .timing import memory_mb

_MB = 1024 * 1024


# --------------------------------------------------------------------------- memory
def _status_mb(field_name: str) -> float:
    """A ``kB`` line of ``/proc/self/status`` in MB, or ``nan`` where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _reset_peak_rss() -> bool:
    """Reset this process's resident high-water mark to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _minor_faults() -> int:
    """Minor page faults of this process so far, or -1 where they are not counted."""
    try:
        import resource
    except ImportError:  # Windows
        return -1
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class MemoryCost:
    """What one call of a function cost in memory, in MB (1 MB = 2**20 bytes).

    ``held_mb``: anonymous resident memory still allocated after the call, while
    ``result`` is alive (0 for a zero-copy view, the array's size for a copy).
    ``peak_mb``: the highest resident memory during the call, above where it started
    (at least ``held_mb``; more when the call made temporaries). ``nan`` if unknown.
    ``page_faults``: minor page faults during the call: each is the kernel handing the
    process one fresh page (4 KiB, or 2 MiB for a transparent huge page) on first
    touch. ``-1`` where the platform does not count them.
    """

    result: Any
    held_mb: float
    peak_mb: float
    page_faults: int = -1


def memory_cost(fn: Callable[[], Any]) -> MemoryCost:
    """Call ``fn()`` once; return its result with the memory it held and its peak.

    The result is kept in the returned :class:`MemoryCost`, so the memory it holds is
    still counted when ``held_mb`` is read. Measures this process only (not workers).
    """
    gc.collect()
    start_anon, _ = memory_mb(include_children=False)
    start_rss = _status_mb("VmRSS")
    can_peak = _reset_peak_rss() and not math.isnan(start_rss)
    start_faults = _minor_faults()
    result = fn()
    faults = _minor_faults() - start_faults if start_faults >= 0 else -1
    peak_rss = _status_mb("VmHWM") if can_peak else math.nan
    end_anon, _ = memory_mb(include_children=False)
    held = max(0.0, end_anon - start_anon)
    peak = max(held, peak_rss - start_rss) if can_peak else math.nan
    return MemoryCost(result, held, peak, faults)


def children_private_mb() -> list[float]:
    """Private memory (USS: pages no other process shares) of each child process, in MB.

    A forked worker starts sharing every page with its parent; its private memory grows
    only as it writes to pages (copy-on-write), including the reference-count writes
    that merely *reading* Python objects causes. Order: psutil's child order.
    """
    import psutil

    sizes = []
    for child in psutil.Process().children(recursive=True):
        try:
            sizes.append(child.memory_full_info().uss / _MB)
        except (OSError, psutil.Error):  # a worker exited between listing and reading
            continue
    return sizes


# --------------------------------------------------------------------------- GPU copies
@dataclass
class CopyTiming:
    """Host-to-device copies of one kind. Times in seconds, medians over ``repeat``.

    ``copy_s``: from the call until the data is on the GPU (synchronised).
    ``returned_s``: from the call until Python got control back; much less than
    ``copy_s`` means the CPU was free to do other work while the copy ran.
    """

    label: str
    nbytes: int
    copy_s: float
    returned_s: float

    @property
    def gb_per_s(self) -> float:
        """Bandwidth in GB/s (10**9 bytes per second)."""
        return self.nbytes / self.copy_s / 1e9 if self.copy_s > 0 else math.inf


@dataclass
class CopyTimes:
    """Result of :func:`host_to_device_copy_times`: one :class:`CopyTiming` per kind."""

    device: str
    nbytes: int
    timings: dict[str, CopyTiming] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"{self.nbytes / _MB:.0f} MB host-to-device on {self.device}:"]
        for t in self.timings.values():
            lines.append(
                f"  {t.label:<30} {t.copy_s * 1e3:8.2f} ms  {t.gb_per_s:6.1f} GB/s  "
                f"(call returned after {t.returned_s * 1e3:.2f} ms)"
            )
        return "\n".join(lines)


def host_to_device_copy_times(
    size_mb: float = 64.0, *, repeat: int = 10, device: str = "cuda"
) -> CopyTimes:
    """Time copying a float32 tensor of ``size_mb`` MB from host memory to a CUDA GPU.

    Four kinds, each with one untimed warm-up copy and then ``repeat`` timed ones:
    pageable and pinned (page-locked) source memory, each with ``non_blocking`` False
    and True. ``torch.cuda.synchronize`` runs before each copy starts (nothing else
    queued) and after it (the data has arrived), so ``copy_s`` is the real transfer
    time; ``returned_s`` is when ``.to()`` handed control back to Python. Only a pinned
    source lets ``non_blocking=True`` return before the copy ends.

    Raises ``RuntimeError`` when CUDA is not available, ``ValueError`` for a size
    or repeat count below the minimum.
    """
    import torch

    if not size_mb > 0:
        raise ValueError(f"size_mb must be > 0, got {size_mb}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if not torch.cuda.is_available():
        raise RuntimeError(
            "no CUDA device: torch.cuda.is_available() is False, so there is no "
            "host-to-device copy to time on this machine"
        )
    dev = torch.device(device)
    if dev.type != "cuda":
        raise ValueError(f"device must be a CUDA device, got {device!r}")
    numel = max(1, int(size_mb * _MB) // 4)
    pageable = torch.randn(numel, dtype=torch.float32)
    pinned = pageable.pin_memory()
    assert pinned.is_pinned() and not pageable.is_pinned()
    result = CopyTimes(str(torch.cuda.get_device_name(dev)), numel * 4)
    sources = {"pageable": pageable, "pinned": pinned}
    for source_name, source in sources.items():
        for non_blocking in (False, True):
            copies, returns = [], []
            for i in range(repeat + 1):
                torch.cuda.synchronize(dev)
                t0 = time.perf_counter()
                on_gpu = source.to(dev, non_blocking=non_blocking)
                t1 = time.perf_counter()
                torch.cuda.synchronize(dev)
                t2 = time.perf_counter()
                if i == 0:  # warm-up: CUDA context, caching allocator
                    if not torch.equal(on_gpu[:1000].cpu(), source[:1000]):
                        raise RuntimeError("copied data differ from the source")
                    continue
                copies.append(t2 - t0)
                returns.append(t1 - t0)
                del on_gpu
            label = f"{source_name}, non_blocking={non_blocking}"
            result.timings[label] = CopyTiming(
                label, numel * 4, statistics.median(copies), statistics.median(returns)
            )
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.transfer [size_mb]``: print pageable vs pinned copy times."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("size_mb", nargs="?", type=float, default=64.0)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("No CUDA device here (torch.cuda.is_available() is False): nothing to time.")
        return 1
    print(host_to_device_copy_times(args.size_mb, repeat=args.repeat).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
