"""Counting sample ids: did an epoch deliver every sample exactly once?

One definition for every notebook that counts (07, 08, 09): for the ids one reader (or
all readers) delivered in an epoch of ``n`` samples,

- ``delivered``: how many ids arrived;
- ``unique``: how many different ids arrived;
- ``duplicated``: deliveries beyond the first of an id (``delivered - unique``);
- ``missing``: ids of ``0 .. n-1`` that never arrived (``None`` when ``n`` is not given,
  e.g. for one rank's share, whose missing ids are another rank's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    """Sample ids one reader (or all) delivered in one epoch."""

    delivered: int
    unique: int
    duplicated: int  # deliveries beyond the first of an id
    missing: int | None  # ids never delivered (None: not defined for one part)

    @property
    def exactly_once(self) -> bool:
        return self.duplicated == 0 and self.missing == 0

    @classmethod
    def of(cls, ids: Iterable[int], n: int | None = None) -> Counts:
        """The same as :func:`counts`."""
        return counts(ids, n)

    def line(self, label: str = "") -> str:
        """One line: ``delivered  1088  unique  1024  duplicated   64  missing    0``."""
        missing = "-" if self.missing is None else f"{self.missing:4d}"
        return (
            f"{label}delivered {self.delivered:5d}  unique {self.unique:5d}  "
            f"duplicated {self.duplicated:4d}  missing {missing:>4}"
        )


def counts(ids: Iterable[int], n: int | None = None) -> Counts:
    """Count ``ids``: delivered, unique, duplicated and (given the dataset size ``n``)
    missing. Ids outside ``0..n-1`` raise ``ValueError`` naming them."""
    ids = [int(i) for i in ids]
    unique = set(ids)
    missing = None
    if n is not None:
        outside = sorted(i for i in unique if not 0 <= i < n)
        if outside:
            raise ValueError(f"ids outside 0..{n - 1}: {outside[:5]}")
        missing = n - len(unique)
    return Counts(len(ids), len(unique), len(ids) - len(unique), missing)


def count_table(parts: Mapping[str, Sequence[int]], n: int, title: str = "") -> str:
    """One line per part (a rank, a worker) and a total line: delivered, unique,
    duplicated; missing for the total (a part's missing ids are another part's)."""
    width = max([len(p) for p in parts] + [5])
    lines = [title] if title else []
    lines.append(f"{'':<{width}}  delivered  unique  duplicated  missing")
    for name, ids in parts.items():
        c = counts(ids, n)
        lines.append(
            f"{name:<{width}}  {c.delivered:9,}  {c.unique:6,}  {c.duplicated:10,}        -"
        )
    total = counts([i for ids in parts.values() for i in ids], n)
    lines.append(
        f"{'total':<{width}}  {total.delivered:9,}  {total.unique:6,}  "
        f"{total.duplicated:10,}  {total.missing:7,}"
    )
    return "\n".join(lines)


def times_delivered(ids: Iterable[int]) -> dict[int, int]:
    """How many ids were delivered how often: ``{1: 998, 2: 2}``."""
    return dict(sorted(Counter(Counter(ids).values()).items()))
