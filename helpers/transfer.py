"""Host-to-device copies: pageable vs pinned memory, blocking or not, on a CUDA GPU.

:func:`host_to_device_copy_times` times them with the GPU synchronised around each
copy; run it from a script on a GPU machine with ``python -m helpers.transfer``, or run
the whole GPU check, ``make gpu-check``. What a conversion costs in memory is
:func:`helpers.memory.memory_cost`. This module imports PyTorch only inside its
functions.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass, field

_MB = 1024 * 1024


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
