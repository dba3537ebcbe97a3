import math
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import memory, outofcore  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _on_tmpfs(path) -> bool:
    """tmpfs pages live only in memory: the kernel never drops them on advice."""
    try:
        import subprocess

        out = subprocess.run(
            ["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return True  # unknown: treat as not testable
    return out.stdout.strip() in ("tmpfs", "ramfs")


@linux_only
def test_sampler_sees_a_peak_inside_one_numpy_call():
    mb = 200
    with memory.MemorySampler(interval_s=0.002, include_children=False) as mem:
        mem.mark("fill")
        # One call that allocates, fills (releasing the GIL) and then frees 200 MB:
        # the peak exists only while the call runs.
        total = float(np.random.default_rng(0).random(mb * 2**20 // 8).sum())
        mem.mark("after")
        time.sleep(0.02)
    assert total > 0
    growth = mem.peak_anon_mb - mem.start_anon_mb
    assert growth > 0.8 * mb, growth
    after = mem.anon_mb[mem.between("after")]
    assert after.max() - mem.start_anon_mb < 0.5 * mb  # freed again
    assert np.all(np.diff(mem.times_s) >= 0)
    assert len(mem.times_s) == len(mem.anon_mb) == len(mem.file_mb) >= 4


def test_sampler_marks_and_errors():
    with pytest.raises(ValueError, match="interval_s must be > 0"):
        memory.MemorySampler(interval_s=0)
    mem = memory.MemorySampler(interval_s=0.01, include_children=False)
    with mem:
        mem.mark("a")
        time.sleep(0.03)
        mem.mark("b")
        time.sleep(0.03)
    in_a = mem.between("a", "b")
    in_b = mem.between("b")
    assert in_a.any() and in_b.any()
    assert mem.times_s[in_a].max() <= mem.times_s[in_b].min()
    with pytest.raises(KeyError, match="no mark 'c'"):
        mem.between("c")
    with pytest.raises(RuntimeError, match="records once"):
        with mem:
            pass


@linux_only
def test_cached_fraction_and_eviction(tmp_path):
    if _on_tmpfs(tmp_path):
        pytest.skip("tmp_path is on tmpfs, whose pages cannot be evicted")
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(32 * 2**20))
    path.read_bytes()  # now certainly cached
    assert outofcore.cached_fraction(path) == pytest.approx(1.0)
    assert outofcore.evict_from_page_cache(path) is True
    assert outofcore.cached_fraction(path) < 0.2
    with open(path, "rb") as f:  # read an eighth back in (plus the kernel's readahead)
        f.read(4 * 2**20)
    assert 0.1 < outofcore.cached_fraction(path) < 0.7


@linux_only
def test_mapped_pages_are_not_evicted(tmp_path):
    if _on_tmpfs(tmp_path):
        pytest.skip("tmp_path is on tmpfs")
    path = tmp_path / "a.npy"
    np.save(path, np.ones(2**20, np.float32))
    X = np.load(path, mmap_mode="r")
    float(X.sum())  # touch every page through the map
    outofcore.evict_from_page_cache(path)
    assert outofcore.cached_fraction(path) > 0.9  # still mapped, so still cached
    del X
    outofcore.evict_from_page_cache(path)
    assert outofcore.cached_fraction(path) < 0.2


def test_cached_fraction_edge_cases(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert outofcore.cached_fraction(empty) == 1.0
    with pytest.raises(FileNotFoundError):
        outofcore.cached_fraction(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        outofcore.evict_from_page_cache(tmp_path / "missing")


def test_plots():
    with memory.MemorySampler(interval_s=0.005, include_children=False) as mem:
        mem.mark("phase")
        time.sleep(0.02)
    fig = outofcore.plot_memory_trace(mem, title="t")
    ax = fig.axes[0]
    expected_lines = 1 if math.isnan(mem.file_mb[0]) else 2
    assert (
        len([line for line in ax.get_lines() if line.get_label() in ("anonymous", "file-backed")])
        == expected_lines
    )
    with pytest.raises(ValueError, match="no samples"):
        outofcore.plot_memory_trace(memory.MemorySampler())
    orders = {"seq": np.arange(100), "shuffled": np.random.default_rng(0).permutation(100)}
    fig = outofcore.plot_orders(orders, chunk_samples=25)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].collections[0].get_offsets()) == 100
    big = outofcore.plot_orders({"seq": np.arange(10_000)}, max_points=500)
    offsets = big.axes[0].collections[0].get_offsets()
    assert len(offsets) == 500
    np.testing.assert_array_equal(offsets[:, 0], offsets[:, 1])  # (k, order[k]) pairs kept
    with pytest.raises(ValueError, match="orders is empty"):
        outofcore.plot_orders({})
