"""LivePlot's fixed y ranges and repeated runs, and train() feeding a data-wait panel."""

import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import plots  # noqa: E402
from helpers.torch_cnn import WAIT_PANEL, build_cnn, train  # noqa: E402


def test_liveplot_ylims_fix_a_panel_and_leave_the_others(clock):
    live = plots.LivePlot(panels=("rate", "share %"), clock=clock, show=False, ylims={1: (0, 100)})
    live.update("a", 0.0, 5000.0, panel="rate")
    live.update("a", 1.0, 7.0, panel="share %")
    live.close()
    assert live.axes[1].get_ylim() == (0.0, 100.0)
    assert live.axes[0].get_ylim()[0] == 0.0 and live.axes[0].get_ylim()[1] >= 5000.0
    by_name = plots.LivePlot(panels=("rate", "share %"), show=False, ylims={"share %": (0, 50)})
    by_name.update("a", 0.0, 1.0, panel=1)
    by_name.close()
    assert by_name.axes[1].get_ylim() == (0.0, 50.0)
    with pytest.raises(ValueError, match="no panel 'nope'"):
        plots.LivePlot(panels=("rate",), show=False, ylims={"nope": (0, 1)})


def test_liveplot_new_run_draws_a_new_line_with_one_legend_entry(clock):
    live = plots.LivePlot(panels=("rate", "share"), clock=clock, show=False)
    for run in range(3):
        for x in range(4):
            live.update("a", float(x), 10.0 + run)
            live.update("a", float(x), 1.0 + run, panel="share")
        live.new_run("a")
    live.update("b", 0.0, 2.0)
    live.close()
    lines = live.axes[0].get_lines()
    assert len(lines) == 4  # three runs of "a", one of "b"
    assert [list(line.get_xdata()) for line in lines[:3]] == [[0.0, 1.0, 2.0, 3.0]] * 3
    assert (
        len({line.get_color() for line in lines[:3]})
        == 1
        != len({lines[0].get_color(), lines[3].get_color()})
    )
    assert live.axes[0].get_legend_handles_labels()[1] == ["a", "b"]
    assert len(live.axes[1].get_lines()) == 3


def test_liveplot_without_new_run_keeps_one_line_per_label(clock):
    live = plots.LivePlot(clock=clock, show=False)
    live.update("a", 0.0, 1.0)
    live.update("a", 0.0, 2.0)  # same label again: the same line, as before new_run existed
    live.close()
    assert len(live.axes[0].get_lines()) == 1


def _batches(n=24, batch_size=16, sleep_s=0.0):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n * batch_size, 1, 64, generator=gen)
    y = torch.randint(0, 4, (n * batch_size,), generator=gen)
    for i in range(n):
        time.sleep(sleep_s)  # a slow loader: the wait share is large
        yield X[i * batch_size : (i + 1) * batch_size], y[i * batch_size : (i + 1) * batch_size]


@pytest.mark.parametrize("sleep_s", [0.0, 0.01])
def test_train_feeds_the_running_wait_share(sleep_s):
    live = plots.LivePlot(
        panels=("samples/s", WAIT_PANEL), show=False, ylims={WAIT_PANEL: (0, 100)}
    )
    # An in-process generator has no queue: nothing to leave out after the plot's pauses.
    batches = _batches(sleep_s=sleep_s)
    result = train(build_cnn(4), batches, label="gen", warmup=2, refill_batches=0, live=live)
    xs, ys, _ = live._lines[(1, "gen", 0)]
    assert len(ys) == result.measurement.batches == 22  # one point per measured step
    assert np.all(np.diff(xs) > 0) and all(0 <= share <= 100 for share in ys)
    # The last point is the run's share, timed the same way the harness times it.
    assert ys[-1] / 100 == pytest.approx(result.data_wait_share, abs=0.05)
    if sleep_s:
        assert ys[-1] > 50


def test_train_without_the_wait_panel_records_no_share():
    live = plots.LivePlot(panels=("samples/s", "loss"), show=False)
    result = train(build_cnn(4), _batches(), label="gen", live=live)
    assert {key[0] for key in live._lines} == {0, 1}
    assert result.measurement.batches == 23
