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
    hold = []  # kept past the loop, so the final poll sees it however often polls ran

    def loader():
        for _ in range(3):
            hold.append(np.ones(25_000_000 // 8 * 8, dtype=np.uint8))  # 25 MB, touched
            yield hold[-1][:10]

    m = timing.measure(loader(), warmup=0, poll_interval_s=0.0)
    assert m.added_anon_mb == m.peak_anon_mb - m.start_anon_mb
    assert m.added_anon_mb > 50
    assert "memory +" in m.summary()


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
    with_step = timing.measure(
        [np.zeros(2)] * 3, lambda b: clock.advance(1.0), warmup=0, clock=clock, track_memory=False
    )
    assert "data wait 0% of the loop" in with_step.summary()
    d = m.as_dict()
    assert d["samples"] == 6 and d["label"] == "x"


class CostlySink:
    """A live plot whose every update takes ``cost_s`` of (fake) time, like a slow draw."""

    def __init__(self, clock, cost_s):
        self.clock, self.cost_s, self.points = clock, cost_s, []

    def update(self, label, x, y):
        self.points.append((label, x, y))
        self.clock.advance(self.cost_s)


def test_drawing_time_never_counts_against_the_loader(clock):
    sink = CostlySink(clock, cost_s=0.3)  # each draw costs more than 5 batches

    def step(batch):
        clock.advance(0.04)

    m = timing.measure(
        make_batches(clock, [10] * 50, [0.01] * 50),
        step,
        warmup=0,
        live=sink,
        clock=clock,
        track_memory=False,
    )
    assert len(sink.points) >= 10  # it drew, often
    assert m.paused_s == pytest.approx(0.3 * (len(sink.points) - 1))  # the last is after the end
    assert m.elapsed_s == pytest.approx(50 * 0.05)
    assert m.samples_per_s == pytest.approx(10 / 0.05)  # 200 samples/s, as if never drawn
    assert m.data_wait_share == pytest.approx(0.2)
    np.testing.assert_allclose(m.start_s, np.arange(50) * 0.05, atol=1e-9)  # no gaps
    rates = [y for _, _, y in sink.points]
    assert rates == pytest.approx([200.0] * len(rates))  # the live line too


def test_steady_state_warmup_skips_the_prefetched_queue(clock):
    """A loader that made 8 batches before the clock started hands them over at once."""

    def queued_loader():
        clock.advance(8 * 1.0)  # start-up: the first batch and a full queue of 8 more
        for i in range(40):
            if i > 8:
                clock.advance(1.0)  # steady state: one batch a second
            yield np.zeros((4, 1))

    naive = timing.measure(queued_loader(), warmup=1, clock=clock, track_memory=False)
    assert naive.samples_per_s > 4.0  # counts the queued batches as if free: too fast
    warmup = timing.steady_state_warmup(8)
    steady = timing.measure(queued_loader(), warmup=warmup, clock=clock, track_memory=False)
    assert warmup == 9
    assert steady.samples_per_s == pytest.approx(4.0)  # 4 samples a second, the real rate
    with pytest.raises(ValueError, match="must be >= 0"):
        timing.steady_state_warmup(-1)


def test_before_timing_runs_after_warmup_and_outside_the_clock(clock):
    seen = []

    def loader():
        for i in range(6):
            seen.append(f"batch {i}")
            clock.advance(1.0)
            yield np.zeros((2, 1))

    def record():
        seen.append("before timing")
        clock.advance(100.0)  # costly: must not count

    m = timing.measure(loader(), warmup=2, before_timing=record, clock=clock, track_memory=False)
    assert seen[:3] == ["batch 0", "batch 1", "before timing"]
    # A queue may have refilled during record(): warmup - 1 = 1 more batch is drained.
    assert m.warmup_batches == 3 and m.redrained_batches == 0
    assert m.elapsed_s == pytest.approx(3.0) and m.batches == 3


class _Sink:
    """A live sink whose drawing costs 0.5 s of the fake clock."""

    def __init__(self, clock):
        self.clock, self.points = clock, []

    def update(self, label, t, rate):
        self.points.append((t, rate))
        self.clock.advance(0.5)


@pytest.mark.parametrize("warmup, refill, left_out", [(1, None, 0), (3, None, 2), (3, 0, 0)])
def test_batches_a_queue_made_while_the_harness_paused_are_left_out(
    clock, warmup, refill, left_out
):
    """After each pause (here: one live update), warmup - 1 batches are left out with
    their time: a prefetching loader would have made them off the clock."""

    def loader():
        for _ in range(20):
            clock.advance(1.0)
            yield np.zeros((4, 1))

    sink = _Sink(clock)
    m = timing.measure(
        loader(),
        warmup=warmup,
        refill_batches=refill,
        live=sink,
        poll_interval_s=5.5,
        clock=clock,
        track_memory=False,
    )
    polls = len(sink.points) - 1  # the last update comes after the end
    assert polls >= 1
    assert m.redrained_batches == left_out * polls
    assert m.batches == 20 - warmup - m.redrained_batches
    assert m.elapsed_s == pytest.approx(m.batches * 1.0)  # pauses and redrained time left out
    assert m.samples_per_s == pytest.approx(4.0)
    assert np.all(np.diff(m.start_s) == pytest.approx(1.0))  # the timeline has no gaps


def test_max_batches_counts_the_batches_left_out_too(clock):
    """A training run takes the same number of steps however often the harness paused."""
    steps = []

    def loader():
        for _ in range(50):
            clock.advance(1.0)
            yield np.zeros((4, 1))

    m = timing.measure(
        loader(),
        steps.append,
        warmup=3,
        max_batches=12,
        live=_Sink(clock),
        poll_interval_s=2.5,
        clock=clock,
        track_memory=False,
    )
    assert m.redrained_batches > 0
    assert len(steps) == 3 + 12 and m.batches == 12 - m.redrained_batches
