import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots, timing  # noqa: E402


def test_liveplot_throttles_by_interval_and_cost(clock):
    live = plots.LivePlot(
        "t",
        panels=("samples/s", "loss"),
        clock=clock,
        show=False,
        min_interval_s=1.0,
        max_overhead=0.02,
    )
    live.update("a", 0.0, 1.0)  # the first draw waits one interval
    assert live.draws == 0 and live.last_png is None
    for i in range(1, 10):
        clock.advance(0.25)
        live.update("a", i * 0.25, 2.0)
    # 2.25 s passed; a draw costs 0 s on the fake clock, so the 1 s interval rules:
    # draws at 1.0 s and 2.0 s.
    assert live.draws == 2 and live.last_png.startswith(b"\x89PNG")
    live.update("b", 3.0, 0.5, panel="loss")
    with pytest.raises(ValueError, match="no panel 'accuracy'"):
        live.update("b", 3.0, 0.5, panel="accuracy")
    fig = live.close()
    assert live.draws == 3
    assert len(fig.axes) == 2


def test_liveplot_backs_off_when_drawing_is_slow(clock):
    live = plots.LivePlot(clock=clock, show=False, min_interval_s=0.1, max_overhead=0.02)
    original = live.fig.savefig

    def slow_savefig(*args, **kwargs):
        clock.advance(0.05)  # pretend a draw costs 50 ms
        return original(*args, **kwargs)

    live.fig.savefig = slow_savefig
    for i in range(100):
        clock.advance(0.05)
        live.update("a", i, 1.0)
    # 5 s of updates + draw time: each draw buys 0.05/0.02 = 2.5 s of quiet.
    assert live.draw_s / clock.now <= 0.03
    assert 2 <= live.draws <= 3


def test_liveplot_colours_follow_labels_across_panels(clock):
    live = plots.LivePlot(panels=("a", "b"), clock=clock, show=False)
    live.update("x", 0, 1, panel="a")
    live.update("y", 0, 1, panel="a")
    live.update("y", 0, 1, panel="b")
    lines_a, lines_b = live.axes[0].get_lines(), live.axes[1].get_lines()
    assert lines_a[1].get_color() == lines_b[0].get_color() != lines_a[0].get_color()


def test_static_plots(clock):
    fig = plots.comparison_bars({"slow": 100.0, "fast": 1000.0}, highlight="slow")
    assert len(fig.axes[0].patches) == 2
    fig = plots.comparison_bars({"a": 1.0, "b": 2.0}, highlight="b", highlight_color="#009E73")
    from matplotlib.colors import to_hex

    assert [to_hex(p.get_facecolor()) for p in fig.axes[0].patches] == [
        plots.COMPUTE_COLOR.lower(),
        "#009e73",
    ]
    with pytest.raises(ValueError, match="nothing to compare"):
        plots.comparison_bars({})

    def loader():
        for _ in range(5):
            clock.advance(0.01)
            yield np.zeros((2, 1))

    m = timing.measure(
        loader(),
        lambda b: clock.advance(0.02),
        warmup=0,
        clock=clock,
        track_memory=False,
        label="demo",
    )
    fig = plots.wait_compute_timeline([m, m])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["demo", "demo"]
    X = np.random.default_rng(0).standard_normal((8, 1, 16))
    fig = plots.signal_examples(X, np.arange(8) % 4, ["a", "b", "c", "d"])
    assert len(fig.axes) == 4
    plt.close("all")


def test_liveplot_rescales_a_panel_that_was_empty_at_the_first_draw(clock):
    live = plots.LivePlot(panels=("samples/s", "loss"), clock=clock, show=False)
    live.update("a", 0.1, 1.4, panel="loss")
    clock.advance(1.0)
    live.update("a", 0.1, 1.5, panel="loss")  # draws now, while samples/s is empty
    assert live.draws == 1
    live.update("a", 0.2, 5000.0)
    live.close()
    assert live.axes[0].get_ylim()[1] >= 5000.0


def test_liveplot_update_without_redraw_only_records(clock):
    live = plots.LivePlot(clock=clock, show=False)
    live.update("a", 0.0, 1.0, redraw=False)
    assert live.draws == 0
    clock.advance(1.0)
    live.update("a", 1.0, 2.0)
    assert live.draws == 1
    assert live.axes[0].get_lines()[0].get_xydata().tolist() == [[0.0, 1.0], [1.0, 2.0]]


def test_liveplot_panel_view_routes_updates(clock):
    live = plots.LivePlot(panels=("cheap", "costly"), clock=clock, show=False)
    live.panel("costly").update("a", 0.0, 3.0)
    live.panel(0).update("a", 0.0, 1.0)
    live.close()
    assert list(live.axes[1].get_lines()[0].get_ydata()) == [3.0]
    assert list(live.axes[0].get_lines()[0].get_ydata()) == [1.0]
    with pytest.raises(ValueError, match="no panel 'nope'"):
        live.panel("nope")


def test_liveplot_panel_view_forwards_new_run(clock):
    live = plots.LivePlot(panels=("cheap", "costly"), clock=clock, show=False)
    view = live.panel("costly")
    view.update("a", 0.0, 1.0)
    view.update("a", 1.0, 2.0)
    view.new_run("a")  # a repeat: a second line from x = 0, not a zigzag back
    view.update("a", 0.0, 3.0)
    live.close()
    lines = live.axes[1].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 2.0], [3.0]]
    assert lines[0].get_color() == lines[1].get_color()
    dotted = plots.LivePlot(clock=clock, show=False, marker="o")
    dotted.update("short run", 0.1, 5.0)  # one point: visible only as a marker
    dotted.close()
    assert dotted.axes[0].get_lines()[0].get_marker() == "o"
    assert live.axes[0].get_lines() == [] and lines[0].get_marker() in ("None", "none", None)


def test_producer_consumer_timeline_draws_two_lanes_per_run(clock):
    def step(_):
        clock.advance(0.01)

    m = timing.measure(iter([np.zeros((2, 3))] * 6), step=step, label="demo", clock=clock)
    produced = np.array([[-0.005, 0.0], [0.001, 0.004], [0.012, 0.015]])  # seconds
    fig = plots.producer_consumer_timeline([(m, produced), (m, produced[:1])], max_batches=4)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["demo: producer", "consumer", "demo: producer", "consumer"]
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 0
    with pytest.raises(ValueError, match="nothing to draw"):
        plots.producer_consumer_timeline([])
    plt.close("all")
