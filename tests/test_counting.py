"""The one counting definition notebooks 07, 08 and 09 share (helpers/counting.py)."""

import pytest

from helpers import counting, distributed, resume, shards


def test_duplicated_counts_deliveries_beyond_the_first():
    c = counting.counts([0, 1, 1, 2, 2, 2], 5)
    assert (c.delivered, c.unique, c.duplicated, c.missing) == (6, 3, 3, 2)
    assert not c.exactly_once
    assert counting.counts([2, 0, 1], 3).exactly_once


def test_one_part_has_no_missing_and_ids_outside_raise():
    c = counting.counts([4, 4])
    assert c.missing is None and not c.exactly_once
    assert "missing    -" in c.line()
    with pytest.raises(ValueError, match=r"outside 0\.\.2: \[3\]"):
        counting.counts([0, 3], 3)


def test_every_notebook_helper_counts_the_same_way():
    ids = {"a": [0, 1, 1], "b": [1, 2, 2, 2]}
    every = [i for part in ids.values() for i in part]
    c = counting.counts(every, 5)
    assert distributed.counts(every, 5) == c == resume.Counts.of(every, 5)
    total = shards.id_counts(ids, 5)["total"]
    assert (total["delivered"], total["unique"], total["duplicated"], total["missing"]) == (
        c.delivered,
        c.unique,
        c.duplicated,
        c.missing,
    )
    assert counting.times_delivered(every) == {1: 1, 3: 2}  # id 0 once; ids 1 and 2 three times
