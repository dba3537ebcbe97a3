import pytest

from helpers import transfer

MB = 1024 * 1024


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
