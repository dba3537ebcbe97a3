import multiprocessing
import sys

import numpy as np
import pytest

from helpers import transfer

MB = 1024 * 1024
ON_LINUX = sys.platform.startswith("linux")
# Big enough that the allocator maps fresh memory for it (glibc: above 32 MiB).
BIG = 64 * MB


def test_zero_copy_view_holds_nothing():
    base = np.ones(BIG // 8)
    cost = transfer.memory_cost(lambda: base[::2])
    assert np.shares_memory(cost.result, base)
    assert cost.held_mb < 1
    if ON_LINUX:
        assert cost.peak_mb < 2


def test_fresh_array_is_held_and_counted():
    cost = transfer.memory_cost(lambda: np.ones(BIG // 8))
    assert cost.result.nbytes == BIG
    assert cost.held_mb == pytest.approx(64, abs=4)
    if ON_LINUX:
        assert cost.peak_mb == pytest.approx(64, abs=4)
        assert cost.page_faults > 0


def test_temporary_shows_in_peak_not_in_held():
    n = BIG // 8
    # np.ones(n) is a temporary that lives until the copy is made. (Not `np.ones(n) * 2`:
    # NumPy may reuse a temporary's buffer for the result, "temporary elision".)
    cost = transfer.memory_cost(lambda: np.ones(n).copy())
    assert cost.held_mb == pytest.approx(64, abs=4)
    if not ON_LINUX:
        pytest.skip("peak needs /proc/self/clear_refs")
    assert cost.peak_mb == pytest.approx(128, abs=8)


def test_released_result_is_not_held():
    cost = transfer.memory_cost(lambda: float(np.ones(BIG // 8).sum()))
    assert cost.result == BIG // 8
    assert cost.held_mb < 2
    if ON_LINUX:
        assert cost.peak_mb == pytest.approx(64, abs=4)


def _touch_and_wait(ready, stop):
    block = bytearray(BIG)  # zero-filled: every page written, so private to this process
    ready.set()
    stop.wait(30)
    del block


@pytest.mark.skipif(not ON_LINUX, reason="uses fork and /proc")
def test_children_private_memory_sees_a_worker_write():
    assert transfer.children_private_mb() == []
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_touch_and_wait, args=(ready, stop))
    child.start()
    try:
        assert ready.wait(30)
        sizes = transfer.children_private_mb()
        assert len(sizes) >= 1
        assert max(sizes) > 60
    finally:
        stop.set()
        child.join(30)


def test_copy_timing_arithmetic_and_summary():
    t = transfer.CopyTiming("pinned, non_blocking=True", 10**9, copy_s=0.1, returned_s=0.001)
    assert t.gb_per_s == pytest.approx(10.0)
    times = transfer.CopyTimes("Fake GPU", 10**9, {t.label: t})
    text = times.summary()
    assert "Fake GPU" in text and "pinned, non_blocking=True" in text and "10.0 GB/s" in text


def test_host_to_device_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size_mb must be > 0"):
        transfer.host_to_device_copy_times(0)
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        transfer.host_to_device_copy_times(1, repeat=0)


def test_host_to_device_without_cuda_says_so(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        transfer.host_to_device_copy_times(1)
    assert transfer.main(["1"]) == 1
    assert "No CUDA device" in capsys.readouterr().out


def test_host_to_device_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    result = transfer.host_to_device_copy_times(8, repeat=3)
    assert set(result.timings) == {
        f"{src}, non_blocking={nb}" for src in ("pageable", "pinned") for nb in (False, True)
    }
    assert result.nbytes == 8 * MB
    for t in result.timings.values():
        assert 0 < t.returned_s <= t.copy_s
        assert t.gb_per_s > 0
    with pytest.raises(ValueError, match="must be a CUDA device"):
        transfer.host_to_device_copy_times(1, device="cpu")
