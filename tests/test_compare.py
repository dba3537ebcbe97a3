"""helpers.compare with fixed numbers: verdicts, ties, ranges, ranking, the ratio formatter."""

import pytest

from helpers import compare


def rates(**values):
    return compare.from_values(values)


def test_a_clear_win_reads_with_its_range():
    c = rates(A=[100, 95, 105], B=[420, 400, 440])
    assert c.verdict("A", "B") == "B is 4.2x faster than A (range 3.8-4.6x)"
    assert c.verdict("B", "A") == "A is 4.2x slower than B (range 3.8-4.6x)"
    assert c.better("A", "B") and not c.better("B", "A")


def test_overlapping_ranges_are_a_tie_whatever_the_medians():
    c = rates(A=[100, 90, 120], B=[115, 110, 130])
    assert c.verdict("A", "B") == "A and B tie: their ranges overlap"
    assert not c.better("A", "B") and not c.better("B", "A")


def test_lower_is_better_for_times():
    c = compare.from_values(
        {"copy": [2.0, 2.2, 2.1], "view": [0.5, 0.55, 0.52]},
        unit="s",
        higher_is_better=False,
    )
    assert c.ranking() == ["view", "copy"]
    assert c.verdict("copy", "view") == "view is 4.0x faster than copy (range 3.6-4.4x)"


def test_one_run_is_not_enough_for_a_verdict():
    c = rates(A=[100], B=[200, 210])
    with pytest.raises(ValueError, match="at least 2 repeats"):
        c.verdict("A", "B")


def test_ranking_best_and_describe():
    c = rates(slow=[10, 11, 12], mid=[50, 52, 55], fast=[54, 60, 61])
    assert c.ranking() == ["fast", "mid", "slow"]
    assert c.best() == ["fast", "mid"]  # mid's range reaches fast's: tied at the top
    assert c.leader_sentence() == "Tied for best (ranges overlap the leader's): fast; mid"
    assert rates(a=[1, 3], b=[2, 4]).leader_sentence() == "No winner: the ranges of all 2 overlap"
    # b and c each overlap the leader a, but not each other: no "all overlap" claim.
    chain = rates(a=[3, 10, 12], b=[8, 9], c=[4, 5])
    assert chain.leader_sentence() == (
        "No clear leader: every range overlaps that of a, the best median"
    )
    assert c.describe("slow") == "11 samples/s (range 10-12, 3 runs)"
    alone = rates(a=[1, 2], b=[5, 6])
    assert alone.leader_sentence() == "Best: b, 6 samples/s (range 5-6, 2 runs)"
    assert c.table().splitlines()[0].startswith("fast")


def test_run_interleaved_alternates_and_records():
    calls = []
    counter = {"A": 0, "B": 0}

    def make(label, base):
        def run():
            calls.append(label)
            counter[label] += 1
            return base + counter[label]

        return run

    seen = []
    c = compare.run_interleaved(
        {"A": make("A", 10), "B": make("B", 100)},
        repeats=3,
        on_run=lambda label, i, v: seen.append((label, i, v)),
    )
    assert calls == ["A", "B", "A", "B", "A", "B"]
    assert c.order == calls
    assert c.values == {"A": [11, 12, 13], "B": [101, 102, 103]}
    assert seen[1] == ("B", 0, 101.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        compare.run_interleaved({"A": lambda: 1.0}, repeats=0)
    with pytest.raises(ValueError, match="runs is empty"):
        compare.run_interleaved({})
    with pytest.raises(ValueError, match="has no measurements"):
        rates(A=[])
    with pytest.raises(ValueError, match="nan measurement"):
        rates(A=[1.0, float("nan")])
    with pytest.raises(KeyError, match="no technique 'C'"):
        rates(A=[1.0]).median("C")


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (4.21, "4.2x faster"),
        (0.5, "2.0x slower"),
        (54.3, "54x faster"),
        (1.0, "1.00x faster"),
        (1.047, "1.05x faster"),
        (1 / 1.06, "1.06x slower"),
    ],
)
def test_times_formatter(ratio, text):
    assert compare.times(ratio) == text


def test_times_formatter_words_and_errors():
    assert compare.times(0.25, more="less memory", less="more memory") == "4.0x more memory"
    with pytest.raises(ValueError, match="positive finite"):
        compare.times(0)


def test_a_small_real_gain_does_not_read_as_one():
    c = rates(per_sample=[17116, 17440, 17494], whole_batch=[18141, 18260, 19361])
    assert c.verdict("per_sample", "whole_batch") == (
        "whole_batch is 1.05x faster than per_sample (range 1.04-1.13x)"
    )
