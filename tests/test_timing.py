import numpy as np
import pytest

from helpers import timing


def make_batches(clock, sizes, wait_s):
    """A loader whose next() takes wait_s[i] seconds on the fake clock."""
    for size, wait in zip(sizes, wait_s, strict=True):
        clock.advance(wait)
        yield np.zeros((size, 3))


def test_measure_arithmetic_with_fake_clock(clock):
    sizes = [10, 10, 10, 10, 4]
    waits = [5.0, 1.0, 1.0, 1.0, 1.0]  # first batch is slow: warm-up

    def step(batch):
        clock.advance(2.0)

    m = timing.measure(
        make_batches(clock, sizes, waits), step, warmup=1, clock=clock, track_memory=False
    )
    assert m.warmup_batches == 1 and m.warmup_samples == 10
    assert m.warmup_s == pytest.approx(7.0)
    assert m.batches == 4 and m.samples == 34
    np.testing.assert_allclose(m.wait_s, [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(m.step_s, [2.0, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(m.start_s, [0.0, 3.0, 6.0, 9.0])
    assert m.elapsed_s == pytest.approx(12.0)
    assert m.samples_per_s == pytest.approx(34 / 12)
    assert m.data_wait_share == pytest.approx(1 / 3)
    assert m.median_wait_ms == pytest.approx(1000.0)
    assert list(m.batch_sizes) == [10, 10, 10, 4]


def test_measure_without_step_is_all_wait(clock):
    m = timing.measure(
        make_batches(clock, [8] * 5, [0.5] * 5), warmup=0, clock=clock, track_memory=False
    )
    assert m.data_wait_share == 1.0
    assert m.samples_per_s == pytest.approx(16.0)


def test_max_batches_and_counts_tuples(clock):
    def loader():
        for _ in range(100):
            clock.advance(0.1)
            yield (np.zeros((4, 2)), np.zeros(4))

    m = timing.measure(loader(), warmup=2, max_batches=5, clock=clock, track_memory=False)
    assert m.batches == 5 and m.samples == 20


def test_count_dicts_and_custom_count(clock):
    batches = [{"x": np.zeros((3, 1)), "y": np.zeros(3)}] * 4
    assert timing.measure(batches, warmup=0, clock=clock, track_memory=False).samples == 12
    assert (
        timing.measure([object()] * 3, warmup=0, count=lambda b: 7, track_memory=False).samples
        == 21
    )
    with pytest.raises(TypeError, match="cannot count samples"):
        timing.measure([object()] * 3, warmup=0, track_memory=False)


def test_empty_loader_and_all_warmup_are_errors():
    with pytest.raises(ValueError, match="yielded no batches"):
        timing.measure([], label="empty")
    with pytest.raises(ValueError, match="all used for warm-up"):
        timing.measure([np.zeros((2, 2))], warmup=1)
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        timing.measure([np.zeros(1)], warmup=-1)
    with pytest.raises(ValueError, match="max_batches must be >= 1"):
        timing.measure([np.zeros(1)], max_batches=0)


def test_live_sink_gets_points(clock):
    class Sink:
        def __init__(self):
            self.points = []

        def update(self, label, x, y):
            self.points.append((label, x, y))

    sink = Sink()
    batches = make_batches(clock, [5] * 20, [0.05] * 20)
    m = timing.measure(batches, warmup=0, live=sink, label="L", clock=clock, track_memory=False)
    assert len(sink.points) >= 5  # one per 0.1 s poll, plus the final point
    assert sink.points[-1] == ("L", pytest.approx(m.elapsed_s), pytest.approx(m.samples_per_s))


def test_memory_is_tracked_and_sees_an_allocation():
    def loader():
        hold = []
        for _ in range(3):
            hold.append(np.ones(25_000_000 // 8 * 8, dtype=np.uint8))  # 25 MB, touched
            yield hold[-1][:10]

    m = timing.measure(loader(), warmup=0, poll_interval_s=0.0)
    assert m.peak_anon_mb - m.start_anon_mb > 50
    anon, file = timing.memory_mb()
    assert anon > 0 and file >= 0


def test_time_call():
    calls = []
    per_call = timing.time_call(lambda: calls.append(1), repeat=3, min_time_s=0.001)
    assert per_call > 0 and len(calls) > 3
    with pytest.raises(ValueError):
        timing.time_call(lambda: None, repeat=0)


def test_summary_and_dict(clock):
    m = timing.measure(
        make_batches(clock, [2] * 3, [1.0] * 3),
        warmup=0,
        label="x",
        clock=clock,
        track_memory=False,
    )
    assert m.summary().startswith("x: 2 samples/s, median wait 1000.00 ms/batch")
    with_step = timing.measure([np.zeros(2)] * 3, lambda b: clock.advance(1.0), warmup=0,
                               clock=clock, track_memory=False)
    assert "data wait 0% of the loop" in with_step.summary()
    d = m.as_dict()
    assert d["samples"] == 6 and d["label"] == "x"


def test_memory_sampler_sees_an_allocation_made_without_polling():
    import time

    with timing.MemorySampler(interval_s=0.01) as mem:
        block = np.ones(80_000_000, dtype=np.uint8)  # 80 MB, touched
        time.sleep(0.1)
        del block
    assert len(mem.anon_mb) >= 3
    assert mem.peak_anon_mb - mem.start_anon_mb > 60


def _hold_memory(mb, seconds):
    import time

    block = np.ones(mb * 1024 * 1024, dtype=np.uint8)
    time.sleep(seconds)
    return block.sum()


def test_memory_includes_worker_processes():
    import multiprocessing as mp
    import time

    ctx = mp.get_context("fork")
    child = ctx.Process(target=_hold_memory, args=(60, 3.0))
    child.start()
    try:
        deadline = time.perf_counter() + 2.5
        diff = 0.0
        while time.perf_counter() < deadline and diff < 50:
            time.sleep(0.05)
            diff = timing.memory_mb(True)[0] - timing.memory_mb(False)[0]
        assert diff >= 50, diff
    finally:
        child.terminate()
        child.join()
