"""Compare techniques so that noise cannot flip the verdict.

One run of each technique says little on a busy laptop: the order they ran in, a
background process, the CPU's clock can each move a figure by 10% or more. So a
comparison here is always:

- **interleaved repeats**: A B C, A B C, A B C (:func:`run_interleaved`), so a slow
  spell of the machine hits every technique alike;
- **median and range** (min-max) per technique (:class:`Comparison`);
- **a verdict** that is a sentence, and says *tie* when the ranges overlap:
  ``"B is 4.2x faster than A (range 3.9-4.5x)"`` or ``"A and B tie: their ranges
  overlap"`` (:meth:`Comparison.verdict`).

Notebooks print rankings, speedups and "X helps / does not help" only through this
module, so a difference inside the noise always reads as a tie. :func:`times` formats
a single ratio ("4.2x faster", "1.3x slower") where a ratio is shown on its own.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


def times(ratio: float, more: str = "faster", less: str = "slower") -> str:
    """``4.2`` -> ``"4.2x faster"``, ``0.5`` -> ``"2.0x slower"`` (ratio = new / old,
    higher is better). Ratios of 10 or more lose their decimal (``"54x faster"``);
    ratios under 1.1 keep two (``"1.05x faster"``)."""
    if not ratio > 0 or math.isinf(ratio):
        raise ValueError(f"ratio must be a positive finite number, got {ratio}")
    word, r = (more, ratio) if ratio >= 1 else (less, 1 / ratio)
    return f"{_fmt_ratio(r)}x {word}"


def _fmt_ratio(r: float) -> str:
    """54, 4.2, 1.05: close to 1, two decimals, so a real 5% gain does not read "1.0x"."""
    if r >= 10:
        return f"{r:.0f}"
    return f"{r:.2f}" if r < 1.1 else f"{r:.1f}"


@dataclass
class Comparison:
    """Repeated measurements of several techniques, and verdicts drawn from them.

    ``values[label]`` holds one figure per repeat. ``higher_is_better`` is True for
    rates (samples/s) and False for times and memory; ``more``/``less`` are the words a
    verdict uses for "better"/"worse" (``"faster"``/``"slower"`` by default).
    """

    values: dict[str, list[float]]
    unit: str = "samples/s"
    higher_is_better: bool = True
    more: str = "faster"
    less: str = "slower"
    fmt: str = "{:,.0f}"
    order: list[str] = field(default_factory=list)  # run order, for the record

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a comparison needs at least one technique")
        for label, vals in self.values.items():
            if not vals:
                raise ValueError(f"{label!r} has no measurements")
            if any(math.isnan(v) for v in vals):
                raise ValueError(f"{label!r} has a nan measurement: {vals}")

    # ---------------------------------------------------------------- per technique
    def median(self, label: str) -> float:
        return statistics.median(self._get(label))

    def low(self, label: str) -> float:
        return min(self._get(label))

    def high(self, label: str) -> float:
        return max(self._get(label))

    def repeats(self, label: str) -> int:
        return len(self._get(label))

    def describe(self, label: str) -> str:
        """``"12,345 samples/s (range 11,900-12,800, 3 runs)"``."""
        f = self.fmt.format
        return (
            f"{f(self.median(label))} {self.unit} (range {f(self.low(label))}-"
            f"{f(self.high(label))}, {self.repeats(label)} runs)"
        )

    def _get(self, label: str) -> list[float]:
        try:
            return self.values[label]
        except KeyError:
            raise KeyError(f"no technique {label!r}; have {list(self.values)}") from None

    # ---------------------------------------------------------------- between two
    def overlap(self, a: str, b: str) -> bool:
        """True when the min-max ranges of ``a`` and ``b`` overlap: a tie."""
        return self.low(a) <= self.high(b) and self.low(b) <= self.high(a)

    def ratio(self, a: str, b: str) -> tuple[float, float, float]:
        """How many times better ``b`` is than ``a``: ``(median, lowest, highest)``.

        For rates, b / a; for times and memory, a / b. The range pairs each side's
        extremes, so it holds every ratio the repeats could support."""
        if self.higher_is_better:
            num, den = b, a
        else:
            num, den = a, b
        return (
            self.median(num) / self.median(den),
            self.low(num) / self.high(den),
            self.high(num) / self.low(den),
        )

    def verdict(self, a: str, b: str) -> str:
        """One sentence comparing ``b`` against ``a``: who is better and by how much,
        or that they tie (their ranges overlap). Needs at least 2 repeats each."""
        for label in (a, b):
            if self.repeats(label) < 2:
                raise ValueError(
                    f"{label!r} ran once: a verdict needs at least 2 repeats to know the noise"
                )
        if self.overlap(a, b):
            return f"{a} and {b} tie: their ranges overlap"
        mid, lo, hi = self.ratio(a, b)
        word, mid, lo, hi = (
            (self.more, mid, lo, hi) if mid >= 1 else (self.less, 1 / mid, 1 / hi, 1 / lo)
        )
        decimals = 2 if mid < 1.1 else (0 if mid >= 10 else 1)  # one precision for all three
        f = f"{{:.{decimals}f}}".format
        return f"{b} is {f(mid)}x {word} than {a} (range {f(lo)}-{f(hi)}x)"

    def better(self, a: str, b: str) -> bool:
        """True when ``b`` beats ``a`` beyond the noise (ranges apart, ``b`` ahead)."""
        return not self.overlap(a, b) and self.ratio(a, b)[0] > 1

    # ---------------------------------------------------------------- all of them
    def ranking(self) -> list[str]:
        """Labels from best to worst median."""
        return sorted(self.values, key=self.median, reverse=self.higher_is_better)

    def best(self) -> list[str]:
        """The leader and every technique that ties with it (ranges overlap)."""
        top = self.ranking()[0]
        return [label for label in self.ranking() if label == top or self.overlap(top, label)]

    def leader_sentence(self) -> str:
        """``"Fastest: X (12,345 samples/s ...)"``, or the tied group at the top."""
        top = self.best()
        if len(top) == 1:
            return f"Best: {top[0]}, {self.describe(top[0])}"
        if len(top) == len(self.values):
            labels = list(self.values)
            if all(self.overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]):
                return f"No winner: the ranges of all {len(top)} overlap"
            # Each range overlaps the leader's, though not always each other's.
            return f"No clear leader: every range overlaps that of {top[0]}, the best median"
        return f"Tied for best (ranges overlap the leader's): {'; '.join(top)}"

    def table(self) -> str:
        """One line per technique, best first: median, range and runs."""
        width = max(len(label) for label in self.values)
        return "\n".join(f"{label:<{width}}  {self.describe(label)}" for label in self.ranking())


def run_interleaved(
    runs: Mapping[str, Callable[[], float]],
    *,
    repeats: int = 3,
    unit: str = "samples/s",
    higher_is_better: bool = True,
    more: str = "faster",
    less: str = "slower",
    fmt: str = "{:,.0f}",
    on_run: Callable[[str, int, float], None] | None = None,
) -> Comparison:
    """Call every ``runs[label]()`` ``repeats`` times, interleaved (A B C A B C ...).

    Each call returns one figure (samples/s, seconds, MB). ``on_run(label, i, value)``
    is called after each, e.g. to feed a progress bar or keep the full result.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not runs:
        raise ValueError("nothing to compare: runs is empty")
    values: dict[str, list[float]] = {label: [] for label in runs}
    order: list[str] = []
    for i in range(repeats):
        for label, run in runs.items():
            value = float(run())
            values[label].append(value)
            order.append(label)
            if on_run is not None:
                on_run(label, i, value)
    return Comparison(values, unit, higher_is_better, more, less, fmt, order)


def from_values(values: Mapping[str, Sequence[float]], **kwargs: object) -> Comparison:
    """A :class:`Comparison` of figures measured elsewhere (already interleaved)."""
    return Comparison({k: [float(v) for v in vs] for k, vs in values.items()}, **kwargs)
