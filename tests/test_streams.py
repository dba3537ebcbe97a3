"""helpers.streams: what DataLoader workers run pickles, and sharded streams deliver each
sample exactly once per epoch with 0, 2 and 3 workers and several batch sizes."""

import collections
import pickle
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from helpers.data import SampleWork
from helpers.streams import (
    BatchStream,
    CheckedStream,
    FlawedStream,
    GeneratorDataset,
    NaiveStream,
    OneShot,
    PerSampleStream,
    ShardedStream,
    ShuffledShardedStream,
    WorkStream,
    shuffle_buffer,
)

N = 101  # not a multiple of any batch size or worker count below


def _signals(n=N, length=8):
    X = np.arange(n * length, dtype=np.float32).reshape(n, 1, length)
    return X, np.arange(n) % 4


def _ids(batches):
    return [int(i) for batch in batches for i in batch]


def _loader(dataset, **kwargs):
    with warnings.catch_warnings():  # 3 workers on a 2-core machine: PyTorch warns
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        return list(DataLoader(dataset, **kwargs))


def _count(n):
    yield from range(n)


def _streams():
    X, y = _signals()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    return [
        GeneratorDataset(_count, 5),
        PerSampleStream(Xt, yt),
        BatchStream(Xt, yt, 7),
        NaiveStream(N),
        ShardedStream(N),
        ShuffledShardedStream(N, 16, seed=3),
        WorkStream(Xt, yt, SampleWork("cpu", 1e-6)),
        FlawedStream(X, y, 5, "dtype"),
        CheckedStream(FlawedStream(X, y, -1, "none"), (1, 8), np.float32),
    ]


def _same(a, b):
    a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
    return all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("stream", _streams(), ids=lambda s: type(s).__name__)
def test_worker_objects_pickle_and_deliver_the_same_samples(stream):
    copy = pickle.loads(pickle.dumps(stream))
    assert type(copy) is type(stream)
    pairs = list(zip(copy, stream, strict=True))
    assert pairs and all(_same(a, b) for a, b in pairs)


def test_one_shot_cannot_be_pickled_and_runs_once():
    stream = OneShot(_count(3))
    with pytest.raises(TypeError):
        pickle.dumps(stream)
    assert list(stream) == [0, 1, 2] and list(stream) == []


@pytest.mark.parametrize("num_workers", [0, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 7, 13])
@pytest.mark.parametrize(
    "make", [ShardedStream, lambda n: ShuffledShardedStream(n, 16)], ids=["sharded", "shuffled"]
)
def test_sharded_streams_deliver_each_id_exactly_once(make, num_workers, batch_size):
    ids = _ids(_loader(make(N), batch_size=batch_size, num_workers=num_workers))
    assert sorted(ids) == list(range(N))


@pytest.mark.parametrize("num_workers", [0, 2, 3])
def test_exactly_once_every_epoch_with_persistent_workers(num_workers):
    kwargs = {"persistent_workers": True} if num_workers else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        loader = DataLoader(ShardedStream(N), batch_size=7, num_workers=num_workers, **kwargs)
        for _ in range(3):
            assert sorted(_ids(loader)) == list(range(N))


@pytest.mark.parametrize("num_workers", [0, 2, 3])
def test_drop_last_drops_each_workers_short_batch(num_workers):
    ids = _ids(_loader(ShardedStream(N), batch_size=7, num_workers=num_workers, drop_last=True))
    shards = [len(range(k, N, max(num_workers, 1))) for k in range(max(num_workers, 1))]
    assert len(ids) == N - sum(s % 7 for s in shards) and len(set(ids)) == len(ids)


def test_naive_stream_is_read_once_per_worker():
    ids = _ids(_loader(NaiveStream(20), batch_size=3, num_workers=2))
    assert collections.Counter(ids) == {i: 2 for i in range(20)}


@pytest.mark.parametrize("num_workers", [0, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_work_and_checked_streams_deliver_each_sample_once(num_workers, batch_size):
    X, y = _signals()
    work = WorkStream(torch.from_numpy(X), torch.from_numpy(y), SampleWork("io", 1e-5))
    rows = [int(xb[0, 0, 0]) // 8 for xb, _ in _loader(work, batch_size=1, num_workers=num_workers)]
    assert sorted(rows) == list(range(N))
    checked = CheckedStream(FlawedStream(X, y, -1, "none"), (1, 8), np.float32)
    batches = _loader(checked, batch_size=batch_size, num_workers=num_workers)
    assert sorted(_ids(batch[0] for batch in batches)) == list(range(N))


def test_batch_and_per_sample_streams_cover_the_data_in_order():
    X, y = _signals()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    whole = _loader(BatchStream(Xt, yt, 13), batch_size=None)
    per_sample = _loader(PerSampleStream(Xt, yt), batch_size=13)
    assert [len(xb) for xb, _ in whole] == [13] * 7 + [10]
    for (xa, ya), (xb, yb) in zip(whole, per_sample, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(Xt, yt, 0)


def test_checked_stream_names_the_bad_sample_also_in_a_worker():
    X, y = _signals()
    for flaw, found in [("shape", r"\(1, 7\) float32"), ("dtype", r"\(1, 8\) float64")]:
        checked = CheckedStream(FlawedStream(X, y, 57, flaw), (1, 8), np.float32)
        for num_workers in (0, 2):
            with pytest.raises(ValueError, match=rf"sample 57: shape {found}"):
                _loader(checked, batch_size=4, num_workers=num_workers)


def test_shuffle_buffer_keeps_every_item_and_is_seeded():
    out = list(shuffle_buffer(range(50), 8, np.random.default_rng(0)))
    assert sorted(out) == list(range(50)) and out != list(range(50))
    assert out == list(shuffle_buffer(range(50), 8, np.random.default_rng(0)))
    assert list(shuffle_buffer(range(5), 1, np.random.default_rng(0))) == list(range(5))
    with pytest.raises(ValueError):
        list(shuffle_buffer(range(5), 0, np.random.default_rng(0)))


def test_sharded_stream_runs_in_spawned_workers():
    """The reason these classes live in a module: spawned workers can import them."""
    loader = DataLoader(
        ShardedStream(N), batch_size=7, num_workers=2, multiprocessing_context="spawn"
    )
    assert sorted(_ids(loader)) == list(range(N))
