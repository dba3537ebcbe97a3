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


def dataloader_like(loader, num_workers):
    """A DataLoader over ``loader``'s dataset, batched the same way, with ``num_workers``
    workers started by spawn (what macOS and Windows do): the dataset must pickle."""
    from torch.utils.data import DataLoader, IterableDataset

    ds = loader.dataset
    spawn = {"multiprocessing_context": "spawn"} if num_workers else {}
    if isinstance(ds, IterableDataset):
        return DataLoader(ds, batch_size=loader.batch_size, num_workers=num_workers, **spawn)
    return DataLoader(
        ds,
        batch_size=loader.batch_size,
        sampler=loader.sampler,
        num_workers=num_workers,
        **spawn,
    )


def test_every_torch_dataset_pickles_and_delivers_once_with_0_and_2_spawned_workers(tmp_path):
    import pickle

    import torch

    n, batch_size = 60, 8
    X, y = id_signals(n)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    order = np.random.default_rng(3).permutation(n)
    loaders = showdown.torch_loaders(
        X,
        y,
        order,
        batch_size,
        data.SampleWork("cpu", 1e-6),
        x_path=tmp_path / "X.npy",
        y_path=tmp_path / "y.npy",
    )
    datasets = {type(make().dataset).__name__ for make in loaders.values()}
    assert datasets == {"PerIndex", "PerBatch", "SampleStream", "BatchStream", "MemoryMapped"}
    seen = set()
    for name, make in loaders.items():
        loader = make()
        if type(loader.dataset) in seen:  # the worker variants share their dataset class
            continue
        seen.add(type(loader.dataset))
        copy = pickle.loads(pickle.dumps(loader.dataset))
        assert type(copy) is type(loader.dataset), name
        for num_workers in (0, 2):
            batches = list(dataloader_like(loader, num_workers))
            ids = torch.cat([xb[:, 0, 0] for xb, _ in batches]).long().tolist()
            labels = torch.cat([yb for _, yb in batches]).tolist()
            assert sorted(ids) == list(range(n)), (name, num_workers)  # each sample once
            assert labels == y[ids].tolist(), (name, num_workers)  # with its own label
            if "per-sample" not in name:  # a sample stream's workers mix the batches
                assert ids == order.tolist(), (name, num_workers)


def test_keras_sources_pickle_and_split_into_shards_exactly_once():
    import pickle

    X, y = id_signals(50)
    order = np.random.default_rng(4).permutation(50)
    work = data.SampleWork("cpu", 1e-6)
    samples = pickle.loads(pickle.dumps(showdown.SampleGenerator(X, y, order, work)))
    assert [int(x[0, 0]) for x, _ in samples()] == order.tolist()
    batches = pickle.loads(pickle.dumps(showdown.Batches(X, y, order, 8, work, num_shards=2)))
    assert len(batches) == 7
    shard0, shard1 = list(batches(0)), list(batches(1))
    assert (len(shard0), len(shard1)) == (4, 3)
    turns = [b for pair in zip(shard0, [*shard1, None], strict=True) for b in pair if b is not None]
    ids = np.concatenate([xb[:, 0, 0] for xb, _ in turns]).astype(int)
    assert ids.tolist() == order.tolist()  # the shards taken in turn: the epoch's order


def test_fit_keeps_every_pipelines_order_so_the_losses_agree():
    pytest.importorskip("tensorflow")
    from helpers.keras_cnn import build_cnn, zero_wait_control

    X, y = data.make_signals(256, 32, 3, seed=0, layout="channels_last")
    order = np.random.default_rng(5).permutation(256)
    pipelines = showdown.keras_pipelines(X, y, order, 32, data.SampleWork())
    control = zero_wait_control(build_cnn(3, 32), X, y, 32, steps=10, runs=2)
    curves = {}
    rows = showdown.run_keras(
        pipelines,
        scenario="s",
        num_classes=3,
        length=32,
        batch_size=32,
        epochs=1,
        control=control,
        curves=curves,
    )
    assert len(rows) == len(curves) == len(pipelines) == 5
    first = next(iter(curves.values()))
    for name, losses in curves.items():  # fit(shuffle=True) would reorder the PyDataset
        np.testing.assert_allclose(losses, first, rtol=1e-5, err_msg=name)


def test_decision_guide_prints_each_questions_verdict_and_ties_as_ties():
    cheap, cpu, io = showdown.SCENARIOS

    def row(fw, scenario, technique, runs):
        return showdown.Row(fw, scenario, technique, runs[0], 0.1, 1.0, 1.0, 0.5, False, runs)

    rows = [
        row("PyTorch", cpu, "DataLoader, per-index (default)", [100.0, 105.0, 110.0]),
        row("PyTorch", cpu, "DataLoader, per-index, 2 workers", [104.0, 108.0, 112.0]),
        row("PyTorch", cpu, "DataLoader, batched sampler", [100.0, 101.0, 102.0]),
        row("PyTorch", cpu, "DataLoader, batched sampler, 2 workers", [200.0, 210.0, 220.0]),
        row("PyTorch", io, "DataLoader, batched sampler", [100.0, 110.0, 120.0]),
        row("PyTorch", io, "DataLoader, batched sampler, 2 workers", [115.0, 125.0, 130.0]),
        row("Keras", io, "from_generator, batched", [5.0]),
        row("Keras", io, "PyDataset, 2 worker threads", [9.0]),
    ]
    guide = showdown.decision_guide(rows).splitlines()
    assert len(guide) == 2 + len(showdown.guide_questions())
    lines = {line.split(" | ")[0].lstrip("| "): line for line in guide[2:]}
    # Worker processes get one row per sampler, and here the two pairs disagree.
    assert (
        "2 workers is 2.1x faster than DataLoader, batched sampler (range 2.0-2.2x)"
        in (lines["CPU-bound work: worker processes (batched sampler)?"])
    )
    assert "tie: their ranges overlap" in lines["CPU-bound work: worker processes (per-index)?"]
    assert (
        "tie: their ranges overlap"
        in (lines["Waiting on I/O: worker processes (batched sampler)?"])
    )
    assert lines["Waiting on I/O: worker processes (per-index)?"].endswith("| not in this run |")
    assert "ran once: no verdict" in lines["Waiting on I/O: worker threads?"]
    assert lines["Cheap samples: index whole batches?"].endswith("| not in this run |")
    pairs = {q: (base, cand) for q, _, _, base, cand in showdown.guide_questions(4)}
    assert pairs["CPU-bound work: worker processes (per-index)?"] == (
        "DataLoader, per-index (default)",
        "DataLoader, per-index, 4 workers",
    )
    assert pairs["CPU-bound work: worker processes (batched sampler)?"][1].endswith("4 workers")


def test_plot_matrix_marks_the_leaders_in_a_neutral_colour_with_a_legend():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex

    from helpers.plots import WAIT_COLOR

    def row(technique, runs):
        return showdown.Row("PyTorch", "s", technique, runs[1], 0.1, 1.0, 1.0, 0.5, False, runs)

    rows = [row("slow", [10.0, 11.0, 12.0]), row("fast", [50.0, 52.0, 54.0])]
    rows.append(row("close", [45.0, 49.0, 51.0]))
    fig = showdown.plot_matrix(rows)
    colors = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert colors.count(showdown.LEADER_COLOR.lower()) == 2  # fast, and close (tied)
    assert WAIT_COLOR.lower() not in colors  # orange means "waiting for data" elsewhere
    (legend,) = fig.legends
    assert "tied with it" in legend.get_texts()[0].get_text()


def test_repeats_start_new_lines_in_the_live_plot():
    class Recorder:
        panels = ("samples/s",)

        def __init__(self):
            self.calls = []

        def update(self, label, x, y, **kwargs):
            self.calls.append(("update", label))

        def new_run(self, label):
            self.calls.append(("new_run", label))

    X, y = data.make_signals(256, 32, 3, seed=0)
    order = np.arange(256)
    loaders = showdown.torch_loaders(X, y, order, 16, data.SampleWork(), num_workers=0)
    loaders = {k: loaders[k] for k in ["DataLoader, per-index (default)"]}
    live = Recorder()
    showdown.run_torch(loaders, scenario="s", num_classes=3, epochs=1, repeats=3, live=live)
    assert [c for c in live.calls if c[0] == "new_run"] == [
        ("new_run", "DataLoader, per-index (default)")
    ] * 2
