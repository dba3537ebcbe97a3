"""The worker-run code of notebook 05 (helpers/outofcore.py): pickling, exactly-once
delivery with 0 and 2 DataLoader workers (also under spawn), streaming, the data cap."""

import pickle
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from helpers import data, outofcore

N, LENGTH = 1000, 16


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return data.signals_on_disk(N, LENGTH, 3, seed=1, directory=tmp_path_factory.mktemp("sig"))


def _batch_loader(dataset, workers, batch_size, drop_last=False, **kwargs):
    sampler = BatchSampler(
        RandomSampler(dataset, generator=torch.Generator().manual_seed(0)), batch_size, drop_last
    )
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=workers, **kwargs)


def test_every_dataset_pickles(files):
    x_path, y_path = files
    for cls in (outofcore.MemmapBatches, outofcore.PerSampleMemmap):
        ds = cls(x_path, y_path)
        _ = ds[[0, 1]] if cls is outofcore.MemmapBatches else ds[0]  # opens the maps
        assert ds.X is not None
        copy = pickle.loads(pickle.dumps(ds))
        assert copy.X is None and copy.n == N  # the lazy ones travel as paths
        assert len(pickle.dumps(ds)) < 2000
    for cls in (outofcore.NaiveMemmapDataset, outofcore.EagerMemmapBatches):
        ds = cls(x_path, y_path)
        blob = pickle.dumps(ds)
        assert len(blob) > x_path.stat().st_size  # an open np.memmap pickles its content
        copy = pickle.loads(blob)
        assert np.array_equal(np.asarray(copy.X), np.asarray(ds.X))


def test_memmap_batches_returns_sorted_copies(files):
    ds = outofcore.MemmapBatches(*files)
    X, y = np.load(files[0]), np.load(files[1])
    xb, yb, idx = ds[[7, 3, 900]]
    assert idx.tolist() == [3, 7, 900]
    assert (
        torch.equal(xb, torch.from_numpy(X[[3, 7, 900]])) and yb.tolist() == y[[3, 7, 900]].tolist()
    )
    xb.mul_(2.0)  # the batch owns its memory: the file is unchanged
    assert np.array_equal(np.asarray(ds.X[[3, 7, 900]]), X[[3, 7, 900]])
    x0, y0 = outofcore.PerSampleMemmap(*files)[5]
    assert x0.shape == (1, LENGTH) and y0 == y[5]
    with pytest.warns(UserWarning, match="not writable"):
        outofcore.NaiveMemmapDataset(*files)[0]


def test_bad_files_fail_in_init(files, tmp_path):
    x_path, y_path = files
    short = tmp_path / "short_y.npy"
    np.save(short, np.zeros(N - 1, np.int64))
    with pytest.raises(ValueError, match="short_y.npy: shape"):
        outofcore.MemmapBatches(x_path, short)
    with pytest.raises(FileNotFoundError):
        outofcore.MemmapBatches(tmp_path / "missing.npy", y_path)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize(("batch_size", "drop_last"), [(64, False), (300, False), (300, True)])
def test_batches_exactly_once_per_epoch(files, workers, batch_size, drop_last):
    ds = outofcore.MemmapBatches(*files)
    X, y = np.load(files[0]), np.load(files[1])
    loader = _batch_loader(ds, workers, batch_size, drop_last, persistent_workers=workers > 0)
    orders = []
    for _ in range(2):  # two epochs through the same (persistent) workers
        seen = []
        for xb, yb, idx in loader:
            assert np.array_equal(yb.numpy(), y[idx.numpy()])
            assert torch.equal(xb, torch.from_numpy(X[idx.numpy()]))
            seen.append(idx.numpy())
        order = np.concatenate(seen)
        expected = N - N % batch_size if drop_last else N
        assert len(order) == len(np.unique(order)) == expected  # each sample at most once
        if not drop_last:
            assert np.array_equal(np.sort(order), np.arange(N))  # ... and exactly once
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # a new shuffle each epoch
    assert (ds.X is None) == (workers > 0)  # with workers, only they open the file


@pytest.mark.parametrize("workers", [0, 2])
def test_per_sample_exactly_once(files, workers):
    ds = outofcore.PerSampleMemmap(*files)
    loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers)
    y = np.concatenate([yb.numpy() for _, yb in loader])
    assert np.array_equal(np.sort(y), np.sort(np.load(files[1])))
    total = sum(float(xb.sum()) for xb, _ in loader)
    assert total == pytest.approx(float(np.load(files[0]).sum(dtype=np.float64)), rel=1e-4)


def test_two_spawned_workers_import_the_dataset(files):
    """What macOS and Windows do: the workers unpickle the dataset by importing it."""
    loader = _batch_loader(outofcore.MemmapBatches(*files), 2, 100, multiprocessing_context="spawn")
    order = np.concatenate([idx.numpy() for _, _, idx in loader])
    assert np.array_equal(np.sort(order), np.arange(N))


def test_streaming_stats_match_in_memory(files):
    X = np.load(files[0])
    chunks = list(outofcore.stream_chunks(files[0], 300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    assert all(c.flags.writeable and c.flags.owndata for c in chunks)  # copies, not views
    mean, std = outofcore.streamed_mean_std(chunks)
    np.testing.assert_allclose(
        [mean, std], [X.mean(dtype=np.float64), X.std(dtype=np.float64)], rtol=1e-5
    )
    counts = []
    outofcore.streamed_mean_std(iter(chunks), counts.append)
    assert counts == [300 * LENGTH, 600 * LENGTH, 900 * LENGTH, N * LENGTH]
    with pytest.raises(ValueError, match="no values"):
        outofcore.streamed_mean_std([])
    with pytest.raises(ValueError, match="chunk_samples"):
        next(outofcore.stream_chunks(files[0], 0))


def test_warm_page_cache(files):
    fraction = outofcore.warm_page_cache(files[0], block_bytes=4096)
    assert np.isnan(fraction) or fraction == pytest.approx(1.0)  # nan: mincore unavailable
    with pytest.raises(ValueError, match="block_bytes"):
        outofcore.warm_page_cache(files[0], block_bytes=0)


@pytest.mark.skipif(not outofcore.data_cap_supported(), reason="RLIMIT_DATA: Linux only")
def test_capped_child_streams_but_cannot_load_whole(tmp_path):
    x_path, _ = data.signals_on_disk(16384, 128, 2, seed=0, directory=tmp_path)  # 8 MB
    size = x_path.stat().st_size
    streamed = outofcore.run_with_data_cap(
        outofcore.stream_file_stats, x_path, 1024, headroom_bytes=size // 2
    )
    assert streamed["ok"], streamed
    assert streamed["cap_mb"] == pytest.approx(streamed["baseline_mb"] + size / 2 / 2**20)
    X = np.load(x_path)
    np.testing.assert_allclose(
        [streamed["result"]["mean"], streamed["result"]["std"]],
        [X.mean(dtype=np.float64), X.std(dtype=np.float64)],
        rtol=1e-5,
    )
    assert streamed["result"]["data_growth_mb"] < size / 2 / 2**20
    whole = outofcore.run_with_data_cap(
        outofcore.load_whole_file_stats, x_path, headroom_bytes=size // 2
    )
    assert not whole["ok"] and whole["error"].startswith("MemoryError: Unable to allocate")
    assert "result" not in whole


@pytest.mark.skipif(not outofcore.data_cap_supported(), reason="RLIMIT_DATA: Linux only")
def test_capped_child_errors():
    with pytest.raises(ValueError, match="headroom_bytes"):
        outofcore.run_with_data_cap(outofcore.load_whole_file_stats, "x", headroom_bytes=-1)
    with pytest.raises(RuntimeError, match="failed"):  # any other error is reported, not hidden
        outofcore.run_with_data_cap(
            outofcore.load_whole_file_stats, "/no/such.npy", headroom_bytes=0
        )
    with pytest.raises(RuntimeError, match="killed"):
        outofcore.run_with_data_cap(
            outofcore.load_whole_file_stats, "x", headroom_bytes=0, timeout_s=0.01
        )


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="Linux supports the cap")
def test_no_cap_outside_linux():
    assert not outofcore.data_cap_supported()
    with pytest.raises(RuntimeError, match="Linux only"):
        outofcore.run_with_data_cap(outofcore.load_whole_file_stats, "x", headroom_bytes=0)
