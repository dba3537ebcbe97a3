"""StepTimer's live samples/s leave out the warm-up (tracing) steps, as fit's statistics do."""

import pytest

keras_cnn = pytest.importorskip("helpers.keras_cnn")


class Sink:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, float]] = []

    def update(self, label: str, x: float, y: float) -> None:
        self.points.append((label, x, y))


def run_steps(timer, durations, monkeypatch, clock):
    monkeypatch.setattr(keras_cnn.time, "perf_counter", clock)
    for i, seconds in enumerate(durations):
        timer.on_train_batch_begin(i)
        clock.advance(seconds)
        timer.on_train_batch_end(i, {"loss": 1.0})


def test_live_rate_skips_tracing_steps(monkeypatch, clock):
    sink = Sink()
    timer = keras_cnn.StepTimer("run", sink, batch_size=64, warmup_steps=2)
    run_steps(timer, [10.0, 5.0, 0.5, 0.5, 0.5], monkeypatch, clock)
    assert timer.step_s == [10.0, 5.0, 0.5, 0.5, 0.5]
    # No point during the two warm-up steps; afterwards 64 samples every 0.5 s.
    assert [round(x, 6) for _, x, _ in sink.points] == [0.5, 1.0, 1.5]
    assert all(y == pytest.approx(128.0) for _, _, y in sink.points)


def test_without_warmup_the_first_step_counts(monkeypatch, clock):
    sink = Sink()
    timer = keras_cnn.StepTimer("run", sink, batch_size=10)
    run_steps(timer, [4.0, 1.0], monkeypatch, clock)
    assert [y for _, _, y in sink.points] == [pytest.approx(2.5), pytest.approx(4.0)]


class CostlySink(Sink):
    """A live plot whose every update takes 2 s of (fake) time, like a slow draw."""

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock = clock

    def update(self, label: str, x: float, y: float) -> None:
        super().update(label, x, y)
        self.clock.advance(2.0)


def test_drawing_time_is_left_out_of_the_rate(monkeypatch, clock):
    sink = CostlySink(clock)
    timer = keras_cnn.StepTimer("run", sink, batch_size=64, warmup_steps=1)
    run_steps(timer, [10.0, 0.5, 0.5, 0.5], monkeypatch, clock)
    # Three measured steps of 0.5 s: 128 samples/s, however long each draw took.
    assert [round(x, 6) for _, x, _ in sink.points] == [0.5, 1.0, 1.5]
    assert all(y == pytest.approx(128.0) for _, _, y in sink.points)
    assert timer.paused_s == pytest.approx(6.0)
