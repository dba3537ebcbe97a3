"""One look for every figure: house style, a live plot, comparison bars, timelines.

``LivePlot`` redraws a figure *in place* while a measurement runs, through an IPython
display handle. Drawing is throttled so that it costs at most ``max_overhead`` (2%
by default) of the run: the first draw comes ``min_interval_s`` after the first point,
and after each draw it waits ``draw_time / max_overhead`` before drawing again.
Outside a Jupyter kernel (scripts, ``make bench``) it renders the PNG the same way but
keeps it in ``last_png`` instead of showing it, so its cost can be measured there too.
Static plots are ordinary pyplot figures: end the cell with ``plt.show()``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .timing import Measurement

#: Colours by role, used by every figure: the data wait is always orange.
WAIT_COLOR = "#E69F00"
COMPUTE_COLOR = "#0072B2"
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000"]

HOUSE_STYLE = {
    "figure.figsize": (6.4, 3.2),
    "figure.dpi": 90,
    "savefig.dpi": 90,
    "figure.autolayout": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
}


def use_house_style() -> None:
    """Apply the house style to every later figure (called on import)."""
    mpl.rcParams.update(HOUSE_STYLE)


use_house_style()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot:
    """A figure that updates in place while a loader or training run is measured.

    >>> live = LivePlot("Throughput", panels=("samples/s",))
    >>> live.update("default DataLoader", x=0.5, y=1234.0)   # usually called by measure()
    >>> live.close()                                          # final draw

    Each ``label`` is one line; ``panels`` are stacked axes sharing the x axis
    (seconds since the run started). Pass ``panel=`` to :meth:`update` to address
    one by name or index. ``marker`` (a Matplotlib marker such as ``"o"``) marks each
    point, so that a run too short for more than one point is still drawn.

    ``ylims`` fixes the y range of some panels, by name or index, e.g.
    ``{"data wait %": (0, 100)}`` for a share; the others scale to their data from 0.
    :meth:`new_run` starts a fresh line for a label that runs again (a repeat), in the
    same colour and without a second legend entry.
    """

    def __init__(
        self,
        title: str = "",
        panels: Sequence[str] = ("samples/s",),
        *,
        xlabel: str = "seconds since start",
        min_interval_s: float = 0.5,
        max_overhead: float = 0.02,
        clock: Callable[[], float] = time.perf_counter,
        show: bool | None = None,
        figsize: tuple[float, float] | None = None,
        ylims: Mapping[str | int, tuple[float, float]] | None = None,
        marker: str | None = None,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not panels:
            raise ValueError("panels must name at least one panel")
        if not 0 < max_overhead <= 1:
            raise ValueError(f"max_overhead must be in (0, 1], got {max_overhead}")
        self.panels = tuple(panels)
        self.min_interval_s = min_interval_s
        self.max_overhead = max_overhead
        self.marker = marker  # e.g. "o": a run short enough to give one point still shows
        self.clock = clock
        self.show = _in_kernel() if show is None else show
        height = 2.2 * len(self.panels) + 0.6
        self.fig = Figure(figsize=figsize or (6.4, height), layout="constrained")
        FigureCanvasAgg(self.fig)
        self.axes = self.fig.subplots(len(self.panels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(self.axes, self.panels, strict=True):
            ax.set_ylabel(name)
        self.axes[0].set_title(title)
        self.axes[-1].set_xlabel(xlabel)
        self._ylims = {self._panel_index(k): v for k, v in (ylims or {}).items()}
        # (panel, label, run) -> xs, ys, line; run counts new_run() calls for that label
        self._lines: dict[tuple[int, str, int], tuple[list[float], list[float], object]] = {}
        self._runs: dict[str, int] = {}
        self._colors: dict[str, str] = {}  # one colour per label, in every panel
        self._handle = None
        self._next_draw: float | None = None
        self.draws = 0
        self.draw_s = 0.0  # total time spent drawing
        self.last_png: bytes | None = None

    def _panel_index(self, panel: int | str) -> int:
        if isinstance(panel, str):
            try:
                return self.panels.index(panel)
            except ValueError:
                raise ValueError(f"no panel {panel!r}; panels are {self.panels}") from None
        return panel

    def update(
        self, label: str, x: float, y: float, panel: int | str = 0, *, redraw: bool = True
    ) -> None:
        """Add point ``(x, y)`` to line ``label`` of ``panel``; redraw if it is time
        (``redraw=False`` only records the point, for callers inside a timed region)."""
        index = self._panel_index(panel)
        key = (index, label, self._runs.get(label, 0))
        if key not in self._lines:
            color = self._colors.setdefault(label, PALETTE[len(self._colors) % len(PALETTE)])
            repeat = any(k[:2] == (index, label) for k in self._lines)
            legend = (f"_{label}" if repeat else label) or None  # "_": not in the legend
            (line,) = self.axes[index].plot(
                [], [], label=legend, color=color, lw=1.8, marker=self.marker, ms=4
            )
            self._lines[key] = ([], [], line)
        xs, ys, _ = self._lines[key]
        xs.append(x)
        ys.append(y)
        now = self.clock()
        if self._next_draw is None:  # first point: the first draw waits one interval, so a
            self._next_draw = now + self.min_interval_s  # short run costs only its final draw
        if redraw and now >= self._next_draw:
            self.draw()

    def new_run(self, label: str) -> None:
        """Later points of ``label`` start a new line in every panel: a repeat of the
        same run, drawn in the same colour, with one legend entry for all of them."""
        self._runs[label] = self._runs.get(label, 0) + 1

    def panel(self, panel: int | str) -> _PanelView:
        """A view that sends every ``update`` to one panel: pass it as ``live=`` to
        code that only knows ``update(label, x, y)`` (``timing.measure``, ``train``)."""
        return _PanelView(self, self._panel_index(panel))

    def draw(self) -> None:
        """Render now and show (or keep) the PNG; schedules the next allowed draw."""
        t0 = self.clock()
        for xs, ys, line in self._lines.values():
            line.set_data(xs, ys)
        first_labels = self.axes[0].get_legend_handles_labels()[1]
        for i, ax in enumerate(self.axes):
            ax.relim()
            ax.autoscale(enable=True)  # set_ylim below switches autoscaling off; undo that
            if i in self._ylims:
                ax.set_ylim(*self._ylims[i])
            elif ax.get_yscale() == "linear":  # rates start at 0; a log axis cannot
                ax.set_ylim(bottom=0)
            labels = ax.get_legend_handles_labels()[1]
            if i > 0 and labels == first_labels:  # the same lines as above: one legend will do
                if ax.get_legend() is not None:
                    ax.get_legend().remove()
                continue
            if len(labels) > 3:  # many lines: keep the legend off the data, to the right
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
            elif labels:
                ax.legend(loc="lower right")
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        self.last_png = buf.getvalue()
        if self.show:
            from IPython.display import Image, display

            image = Image(data=self.last_png, format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
        cost = self.clock() - t0
        self.draws += 1
        self.draw_s += cost
        self._next_draw = t0 + cost + max(self.min_interval_s, cost / self.max_overhead)

    def close(self) -> Figure:
        """Final draw with every point; returns the figure."""
        self.draw()
        return self.fig


class _PanelView:
    """One panel of a :class:`LivePlot`, with the same ``update`` signature."""

    def __init__(self, live: LivePlot, index: int) -> None:
        self.live, self.index = live, index
        self.panels = (live.panels[index],)

    def update(self, label: str, x: float, y: float, panel: int | str = 0, **kwargs) -> None:
        self.live.update(label, x, y, panel=self.index, **kwargs)

    def new_run(self, label: str) -> None:
        """Start a new line for ``label`` (a repeat): see :meth:`LivePlot.new_run`."""
        self.live.new_run(label)


def comparison_bars(
    values: Mapping[str, float],
    *,
    title: str = "",
    xlabel: str = "samples/s",
    fmt: str = "{:,.0f}",
    highlight: str | Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    ax=None,
    highlight_color: str = WAIT_COLOR,
) -> Figure:
    """Horizontal bars, one per label, with the value written at the end of each.

    ``highlight``: a label (or several, e.g. a tie for best) drawn in ``highlight_color``
    (default: the accent colour, orange).
    ``ranges``: ``label -> (low, high)`` of repeated runs, drawn as a whisker on the bar
    (the bar itself is the value, usually the median)."""
    import matplotlib.pyplot as plt

    if not values:
        raise ValueError("values is empty: nothing to compare")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(values) + 1.0))
    else:
        fig = ax.figure
    labels = list(values)
    data = np.array([values[k] for k in labels], dtype=float)
    marked = {highlight} if isinstance(highlight, str) else set(highlight or ())
    colors = [highlight_color if k in marked else COMPUTE_COLOR for k in labels]
    xerr = None
    top = data.max()
    if ranges:
        lo = np.array([ranges.get(k, (v, v))[0] for k, v in zip(labels, data, strict=True)])
        hi = np.array([ranges.get(k, (v, v))[1] for k, v in zip(labels, data, strict=True)])
        xerr = np.vstack([np.clip(data - lo, 0, None), np.clip(hi - data, 0, None)])
        top = max(top, hi.max())
    bars = ax.barh(labels, data, color=colors, xerr=xerr, ecolor="0.25", capsize=2)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[fmt.format(v) for v in data], padding=3, fontsize=9)
    ax.set_xlim(0, top * 1.25 if top > 0 else 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return fig


def wait_compute_timeline(
    measurements: Sequence[Measurement],
    *,
    max_batches: int = 25,
    title: str = "Where each step's time goes",
    ax=None,
) -> Figure:
    """One row per measurement: the first ``max_batches`` steps as bars over time,
    orange while waiting for data, blue while computing. Gaps are loop overhead."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if not measurements:
        raise ValueError("measurements is empty: nothing to draw")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(measurements) + 1.2))
    else:
        fig = ax.figure
    for row, m in enumerate(measurements):
        k = min(max_batches, m.batches)
        start, wait, step = m.start_s[:k] * 1e3, m.wait_s[:k] * 1e3, m.step_s[:k] * 1e3
        ax.broken_barh(list(zip(start, wait, strict=True)), (row - 0.35, 0.7), color=WAIT_COLOR)
        ax.broken_barh(
            list(zip(start + wait, step, strict=True)), (row - 0.35, 0.7), color=COMPUTE_COLOR
        )
    ax.set_yticks(range(len(measurements)), [m.label for m in measurements])
    ax.invert_yaxis()
    ax.set_xlabel(f"milliseconds (first {max_batches} measured steps)")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    ax.legend(
        handles=[
            Patch(color=WAIT_COLOR, label="waiting for data"),
            Patch(color=COMPUTE_COLOR, label="computing"),
        ],
        loc="lower center",  # below the axes, where it can never cover a row
        bbox_to_anchor=(0.5, 1.0),
        ncols=2,
    )
    ax.set_title(title, pad=22)
    return fig


def producer_consumer_timeline(
    runs: Sequence[tuple[Measurement, np.ndarray]],
    *,
    max_batches: int = 15,
    title: str = "Producer and consumer",
    ax=None,
) -> Figure:
    """Two lanes per run, on one clock: above, when the producer made each element
    (green); below, the consumer's steps, orange while waiting for data, blue while
    computing (as in :func:`wait_compute_timeline`).

    ``runs``: ``(measurement, produced)`` pairs. ``produced`` is an array ``(k, 2)`` of
    start and end times in seconds of each element the producer made, on the
    measurement's clock: 0 is the start of its first measured step (elements made
    earlier, during warm-up, start below 0 and are cut at the left edge; elements begun
    after a run's last drawn step are left out). The x axis covers the first
    ``max_batches`` measured steps of the longest run."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if not runs:
        raise ValueError("runs is empty: nothing to draw")
    if ax is None:
        fig, ax = plt.subplots(figsize=(9.0, 0.45 * 2 * len(runs) + 1.2))
    else:
        fig = ax.figure
    end_ms = 0.0
    ticks, names = [], []
    for i, (m, produced) in enumerate(runs):
        k = min(max_batches, m.batches)
        start, wait, step = m.start_s[:k] * 1e3, m.wait_s[:k] * 1e3, m.step_s[:k] * 1e3
        run_end_ms = float(start[-1] + wait[-1] + step[-1])
        end_ms = max(end_ms, run_end_ms)
        made = np.asarray(produced, dtype=float).reshape(-1, 2) * 1e3
        made = made[made[:, 0] < run_end_ms]  # what the producer did while these steps ran
        lane_p, lane_c = 2 * i, 2 * i + 1
        ax.broken_barh(
            [(a, b - a) for a, b in made], (lane_p - 0.35, 0.7), color=PALETTE[2], alpha=0.9
        )
        ax.broken_barh(list(zip(start, wait, strict=True)), (lane_c - 0.35, 0.7), color=WAIT_COLOR)
        ax.broken_barh(
            list(zip(start + wait, step, strict=True)), (lane_c - 0.35, 0.7), color=COMPUTE_COLOR
        )
        if i:
            ax.axhline(lane_p - 0.5, color="0.6", linewidth=0.8)
        ticks += [lane_p, lane_c]
        names += [f"{m.label}: producer", "consumer"]
    ax.set_yticks(ticks, names)
    ax.set_ylim(2 * len(runs) - 0.5, -0.5)
    ax.set_xlim(0, end_ms)
    ax.set_xlabel(f"milliseconds (first {max_batches} measured steps)")
    ax.grid(axis="y", visible=False)
    ax.legend(
        handles=[
            Patch(color=PALETTE[2], label="producer making an element"),
            Patch(color=WAIT_COLOR, label="consumer waiting"),
            Patch(color=COMPUTE_COLOR, label="consumer computing"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
    )
    ax.set_title(title, pad=22)
    return fig


def signal_examples(
    X: np.ndarray, y: np.ndarray, class_names: Sequence[str], *, per_class: int = 1
) -> Figure:
    """Plot ``per_class`` examples of each class from signals ``X`` ``(n, 1, length)``
    or ``(n, length, 1)`` with int labels ``y``."""
    import matplotlib.pyplot as plt

    signals = np.asarray(X).reshape(len(X), -1)
    k = len(class_names)
    fig, axes = plt.subplots(1, k, figsize=(1.9 * k, 1.9), sharey=True)
    for label, ax in enumerate(np.atleast_1d(axes)):
        for i in np.flatnonzero(y == label)[:per_class]:
            ax.plot(signals[i], lw=1)
        ax.set_title(class_names[label], fontsize=10)
        ax.set_xticks([])
    return fig
