"""helpers.memory: a process tree's memory counted once, a worker's own cost, one call's cost.

The three tests the harness issue asked for: forked children that only read the
parent's array add about nothing; a child that writes its copy adds its size; a
DataLoader with 0 and 2 workers over the same in-memory data reports about the same.
"""

import multiprocessing
import sys
import time

import numpy as np
import pytest

from helpers import memory

MB = 1024 * 1024
ON_LINUX = sys.platform.startswith("linux")
# Big enough that the allocator maps fresh memory for it (glibc: above 32 MiB).
BIG = 64 * MB
linux_only = pytest.mark.skipif(not ON_LINUX, reason="uses fork and /proc")


# --------------------------------------------------------------------------- forked children
def _read_then_wait(shared, ready, stop):
    float(shared.sum())  # reads every page; writes none
    ready.set()
    stop.wait(30)


def _write_then_wait(shared, ready, stop):
    shared += 1  # writes every page: copy-on-write gives this child its own copy
    ready.set()
    stop.wait(30)


def _tree_anon_with_children(target, n_children, array):
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    children = []
    try:
        for _ in range(n_children):
            ready = ctx.Event()
            child = ctx.Process(target=target, args=(array, ready, stop))
            child.start()
            children.append((child, ready))
        for _, ready in children:
            assert ready.wait(30)
        return memory.memory_mb()[0], memory.worker_private_mb([c.pid for c, _ in children])
    finally:
        stop.set()
        for child, _ in children:
            child.join(30)


@linux_only
def test_forked_readers_count_the_parents_array_once():
    array = np.ones(200 * MB // 8)  # 200 MB, touched
    alone = memory.memory_mb()[0]
    with_readers, private = _tree_anon_with_children(_read_then_wait, 2, array)
    # Adding up RSS would say alone + 2 x 200 MB; each reader's own pages are a few MB.
    assert with_readers - alone < 0.25 * 200, (alone, with_readers)
    assert len(private) == 2 and max(private) < 40, private


@linux_only
def test_a_child_that_writes_its_copy_adds_its_size():
    array = np.ones(200 * MB // 8)
    alone = memory.memory_mb()[0]
    with_writer, private = _tree_anon_with_children(_write_then_wait, 1, array)
    assert with_writer - alone == pytest.approx(200, abs=40), (alone, with_writer)
    assert private[0] > 180, private


_DATALOADER_SCRIPT = """
import json, torch
from torch.utils.data import DataLoader, TensorDataset
from helpers import timing
X = torch.randn(200 * 2**20 // 4 // 128, 1, 128)  # 200 MB in the parent
dataset = TensorDataset(X, torch.zeros(len(X), dtype=torch.long))
out = {}
for workers in (0, 2):
    loader = DataLoader(dataset, batch_size=256, num_workers=workers)
    m = timing.measure(loader, max_batches=120, poll_interval_s=0.0)
    out[workers] = [m.peak_anon_mb, m.added_anon_mb]
print(json.dumps(out))
"""


@linux_only
def test_dataloader_with_and_without_workers_reports_about_one_copy():
    """In a fresh interpreter: in this one, whatever other tests imported (TensorFlow's
    Python objects) would be copied into each worker as its garbage collector touches
    them, which is real memory but not what this test is about."""
    import json
    import subprocess

    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, "-c", _DATALOADER_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    (peak0, _), (peak2, added2) = out["0"], out["2"]
    assert peak2 / peak0 < 1.5, out  # adding up RSS said 3x
    assert added2 < 150, out  # two workers: their own pages, not two more 200 MB copies


@linux_only
def test_a_lone_process_reads_the_same_either_way():
    """Without children memory_mb reads /proc/self/status; PSS of the same pages agrees.
    In a fresh interpreter: this one may hold a child another test left (under spawn,
    multiprocessing's resource tracker outlives the pool that started it)."""
    import json
    import subprocess

    script = (
        "import json; from helpers import memory; "
        "assert memory.child_pids() == []; "
        "print(json.dumps([*memory.memory_mb(), *memory._pss_mb('self')]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    status_anon, status_file, pss_anon, pss_file = json.loads(out.stdout)
    assert status_anon == pytest.approx(pss_anon, rel=0.05, abs=5)
    assert status_file >= pss_file * 0.9  # PSS divides libraries shared with other processes


def test_unavailable_is_printed_as_such():
    assert memory.format_mb(float("nan")) == "unavailable"
    assert memory.format_mb(1234.4) == "1,234 MB"
    assert memory.format_mb(12.0, signed=True) == "+12 MB"


# --------------------------------------------------------------------------- over time
def test_memory_sampler_sees_an_allocation_made_without_polling():
    # This process alone: with children (a multiprocessing helper left by another test)
    # each reading is a PSS walk of several ms, and the sampler spaces its readings out.
    with memory.MemorySampler(interval_s=0.01, include_children=False) as mem:
        block = np.ones(80_000_000, dtype=np.uint8)  # 80 MB, touched
        time.sleep(0.3)
        del block
    assert len(mem.anon_mb) >= 3
    assert mem.added_anon_mb > 60


def test_peak_memory_reports_what_was_added():
    with memory.PeakMemory() as peak:
        block = np.ones(BIG, dtype=np.uint8)
    assert peak.added_anon_mb == pytest.approx(64, abs=6)
    del block


# --------------------------------------------------------------------------- one call
def test_zero_copy_view_holds_nothing():
    base = np.ones(BIG // 8)
    cost = memory.memory_cost(lambda: base[::2])
    assert np.shares_memory(cost.result, base)
    assert cost.held_mb < 1
    if ON_LINUX:
        assert cost.peak_mb < 2


def test_fresh_array_is_held_and_counted():
    cost = memory.memory_cost(lambda: np.ones(BIG // 8))
    assert cost.result.nbytes == BIG
    assert cost.held_mb == pytest.approx(64, abs=4)
    if ON_LINUX:
        assert cost.peak_mb == pytest.approx(64, abs=4)
        assert cost.page_faults > 0


def test_temporary_shows_in_peak_not_in_held():
    n = BIG // 8
    # np.ones(n) is a temporary that lives until the copy is made. (Not `np.ones(n) * 2`:
    # NumPy may reuse a temporary's buffer for the result, "temporary elision".)
    cost = memory.memory_cost(lambda: np.ones(n).copy())
    assert cost.held_mb == pytest.approx(64, abs=4)
    if not ON_LINUX:
        pytest.skip("peak needs /proc/self/clear_refs")
    assert cost.peak_mb == pytest.approx(128, abs=8)


def test_released_result_is_not_held():
    cost = memory.memory_cost(lambda: float(np.ones(BIG // 8).sum()))
    assert cost.result == BIG // 8
    assert cost.held_mb < 2
    if ON_LINUX:
        assert cost.peak_mb == pytest.approx(64, abs=4)
