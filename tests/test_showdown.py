"""Every showdown loader delivers every sample exactly once per epoch, in the epoch's
order, and runs the per-sample work exactly once per sample."""

import numpy as np
import pytest

from helpers import data, showdown


class CountingWork:
    kind = "cpu"  # like SampleWork: there is per-sample work to do

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def id_signals(n, length=16):
    """Signals whose first value is the sample id (exact in float32)."""
    X = np.zeros((n, 1, length), np.float32)
    X[:, 0, 0] = np.arange(n)
    return X, (np.arange(n) % 3).astype(np.int64)


@pytest.mark.parametrize("n, batch_size", [(100, 7), (64, 64), (65, 8)])
def test_torch_loaders_exactly_once_in_order(tmp_path, n, batch_size):
    X, y = id_signals(n)
    x_path, y_path = tmp_path / "X.npy", tmp_path / "y.npy"
    np.save(x_path, X)
    np.save(y_path, y)
    order = np.random.default_rng(1).permutation(n)
    work = CountingWork()
    loaders = showdown.torch_loaders(
        X, y, order, batch_size, work, x_path=x_path, y_path=y_path, num_workers=2
    )
    assert len(loaders) == 7
    for name, make in loaders.items():
        ids, labels = [], []
        for xb, yb in make():
            ids += xb[:, 0, 0].long().tolist()
            labels += yb.tolist()
        assert ids == order.tolist(), name  # everything, once, in the epoch's order
        assert labels == y[order].tolist(), name
    in_process = [k for k in loaders if "workers" not in k]
    assert work.calls == n * len(in_process)  # worker processes count in their own copy


@pytest.mark.parametrize("n, batch_size", [(100, 7), (64, 64)])
def test_keras_pipelines_exactly_once_in_order(n, batch_size):
    pytest.importorskip("tensorflow")
    X, y = id_signals(n)
    Xc = np.ascontiguousarray(X.transpose(0, 2, 1))  # channels-last
    order = np.random.default_rng(2).permutation(n)
    work = CountingWork()
    pipelines = showdown.keras_pipelines(Xc, y, order, batch_size, work)
    for name, make in pipelines.items():
        source = make()
        if hasattr(source, "__getitem__") and hasattr(source, "__len__"):  # PyDataset
            batches = [source[i] for i in range(len(source))]
        else:
            batches = [(xb.numpy(), yb.numpy()) for xb, yb in source]
        ids = np.concatenate([xb[:, 0, 0] for xb, _ in batches]).astype(int)
        assert sorted(ids.tolist()) == list(range(n)), name
        if "interleave" not in name:
            assert ids.tolist() == order.tolist(), name
        assert [len(xb) for xb, _ in batches][:-1] == [batch_size] * (len(batches) - 1)
    assert work.calls == n * len(pipelines)


def test_batch_orders_and_scenarios():
    parts = showdown.batch_orders(np.arange(10), 4)
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        showdown.batch_orders(np.arange(3), 0)
    assert {w.kind for w in showdown.SCENARIOS.values()} == {"none", "cpu", "io"}
    assert isinstance(showdown.SCENARIOS["cheap (in memory)"], data.SampleWork)


def test_best_and_markdown_table():
    rows = [
        showdown.Row("PyTorch", "s", "slow", 10.0, 0.5, 100.0, 1.0, 0.5),
        showdown.Row("PyTorch", "s", "fast", 99.0, 0.01, 100.0, 1.0, 0.5),
        showdown.Row("Keras", "s", "k", 50.0, 0.2, 300.0, 1.0, float("nan"), True),
    ]
    assert showdown.best(rows, "PyTorch", "s").technique == "fast"
    with pytest.raises(ValueError, match="no rows for 'Keras' in scenario 'x'"):
        showdown.best(rows, "Keras", "x")
    table = showdown.markdown_table(rows).splitlines()
    assert len(table) == 5
    assert "| PyTorch | s | fast | 99 | 1% | +100 |" in table[3]
    assert "20% (est.)" in table[4]


def test_repeats_become_medians_ranges_and_verdicts():
    def row(technique, rate):
        return showdown.Row("PyTorch", "s", technique, rate, 0.1, 5.0, 1.0, 0.5)

    merged = showdown._median_row([row("a", 10.0), row("a", 30.0), row("a", 12.0)])
    assert merged.samples_per_s == 12.0 and merged.samples_per_s_runs == [10.0, 30.0, 12.0]
    assert merged.samples_per_s_range == (10.0, 30.0) and merged.repeats == 3
    other = showdown._median_row([row("b", 40.0), row("b", 42.0), row("b", 41.0)])
    c = showdown.comparison([merged, other], "PyTorch", "s")
    assert c.verdict("a", "b") == "b is 3.4x faster than a (range 1.3-4.2x)"
    slower = showdown._median_row([row("c", 25.0), row("c", 27.0)])
    assert (
        showdown.comparison([merged, slower], "PyTorch", "s")
        .verdict("a", "c")
        .endswith("tie: their ranges overlap")
    )
    assert "| 12 (10-30) |" in showdown.markdown_table([merged])


def test_worker_loaders_warm_up_past_their_prefetch_queue():
    from torch.utils.data import DataLoader

    assert showdown._queue_depth([1, 2]) == 0  # a list has no workers
    assert showdown._queue_depth(DataLoader(range(8))) == 0
    assert showdown._queue_depth(DataLoader(range(8), num_workers=2)) == 4
    assert showdown._queue_depth(DataLoader(range(8), num_workers=2, prefetch_factor=5)) == 10


def test_estimates_inside_their_noise_floor_say_so():
    def keras_row(share, noise):
        return showdown.Row(
            "Keras", "s", "k", 50.0, share, 1.0, 1.0, float("nan"), True, [49.0, 51.0], noise
        )

    quiet = keras_row(0.03, 0.07)
    assert quiet.wait_within_noise and quiet.wait_text() == "≤ noise ±7% (est.)"
    assert quiet.meets_wait_target(0.05) is None  # 0.03 ± 0.07 straddles 5%: cannot tell
    assert keras_row(0.20, 0.02).meets_wait_target(0.05) is False
    assert keras_row(0.01, 0.02).meets_wait_target(0.05) is True
    torch_row = showdown.Row("PyTorch", "s", "t", 50.0, 0.03, 1.0, 1.0, 0.5)
    assert torch_row.wait_text() == "3%" and torch_row.meets_wait_target(0.05) is True
