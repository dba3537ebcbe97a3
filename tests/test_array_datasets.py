"""Notebook 01's worker-run datasets: picklable (a spawned worker unpickles them), and
every sample arrives exactly once per epoch with 0 and 2 workers, for several batch sizes
and drop_last settings."""

import math
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from helpers.array_datasets import (
    ArrayDataset,
    BatchedTensors,
    ListDataset,
    MyDataset,
    SlowDataset,
    already_collated,
    worker_messages,
)
from helpers.data import SampleWork

N = 100  # does not divide by the batch sizes below: a short last batch


def id_signals(n=N, length=8):
    """Signals whose first value is the sample id (exact in float32); labels = id."""
    X = np.zeros((n, 1, length), np.float32)
    X[:, 0, 0] = np.arange(n)
    return X, np.arange(n, dtype=np.int64)


def datasets():
    X, y = id_signals()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    return {
        "MyDataset": MyDataset(X, y),
        "SlowDataset": SlowDataset(X, y, SampleWork("cpu", 1e-6)),
        "ListDataset": ListDataset(X, y),
        "ArrayDataset": ArrayDataset(X, y),
        "BatchedTensors": BatchedTensors(X_t, y_t),
    }


def loader(name, ds, batch_size, drop_last, num_workers):
    """A shuffled DataLoader as notebook 01 builds it (BatchedTensors: no collating)."""
    sampler = RandomSampler(ds, generator=torch.Generator().manual_seed(0))
    extra = {"collate_fn": already_collated} if name == "BatchedTensors" else {}
    return DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        **extra,
    )


def ids_of(batches):
    """Sample ids delivered, checking each signal's id against its label."""
    ids = []
    for xb, yb in batches:
        x_ids = xb.reshape(len(xb), -1)[:, 0].long()
        assert torch.equal(x_ids, yb), "signal and label of a sample came apart"
        ids += yb.tolist()
    return ids


@pytest.mark.parametrize("name", list(datasets()))
def test_pickle_round_trip_keeps_every_sample(name):
    ds = datasets()[name]
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == len(ds) == N
    for i in (0, 37, N - 1):
        for a, b in zip(clone[i], ds[i], strict=True):
            assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))


def test_collate_fn_pickles_and_passes_the_batch_through():
    fn = pickle.loads(pickle.dumps(already_collated))
    batch = (torch.ones(3, 2), torch.zeros(3))
    assert fn(batch) is batch


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (7, False), (7, True), (32, True)])
@pytest.mark.parametrize("name", list(datasets()))
def test_each_sample_exactly_once_per_epoch(name, batch_size, drop_last, num_workers):
    ds = datasets()[name]
    dl = loader(name, ds, batch_size, drop_last, num_workers)
    kept = N - N % batch_size if drop_last else N
    epochs = [ids_of(dl) for _ in range(2)]
    for ids in epochs:
        assert len(dl) == (N // batch_size if drop_last else math.ceil(N / batch_size))
        assert len(ids) == len(set(ids)) == kept  # nothing doubled, nothing lost
        if not drop_last:
            assert sorted(ids) == list(range(N))
    assert epochs[0] != epochs[1]  # a new shuffle each epoch


def test_workers_deliver_the_in_process_order():
    ds = datasets()["BatchedTensors"]
    in_process = ids_of(loader("BatchedTensors", ds, 7, False, 0))
    assert ids_of(loader("BatchedTensors", ds, 7, False, 2)) == in_process


def test_spawned_workers_import_the_classes():
    """What macOS and Windows do: each worker is a fresh Python that imports helpers."""
    X, y = id_signals()
    dl = DataLoader(MyDataset(X, y), batch_size=16, num_workers=1, multiprocessing_context="spawn")
    assert sorted(ids_of(dl)) == list(range(N))


def test_batched_tensors_names_mismatched_lengths():
    with pytest.raises(ValueError, match="same number of samples, got \\[10, 9\\]"):
        BatchedTensors(torch.zeros(10, 1, 4), torch.zeros(9))


def test_batched_tensors_serves_a_sample_and_a_batch():
    X, y = id_signals()
    ds = BatchedTensors(torch.from_numpy(X), torch.from_numpy(y))
    x, label = ds[5]
    assert x.shape == (1, 8) and label.item() == 5
    xb, yb = ds.__getitems__([3, 1, 4])
    assert xb.shape == (3, 1, 8) and yb.tolist() == [3, 1, 4]


def test_my_dataset_copies_and_casts():
    X, y = id_signals()
    ds = MyDataset(X.astype(np.float64), y.astype(np.int32))
    assert ds.data.dtype == torch.float32 and ds.labels.dtype == torch.int64
    assert not np.shares_memory(ds.data.numpy(), X)


def test_slow_dataset_calls_the_work_once_per_sample():
    calls = []
    X, y = id_signals()
    ds = SlowDataset(X, y, lambda: calls.append(1))
    _ = [ds[i] for i in range(10)]
    assert len(calls) == 10


def test_worker_messages_prints_warnings_and_child_errors(capfd):
    import subprocess
    import sys
    import warnings

    with worker_messages():
        warnings.warn("careful", UserWarning, stacklevel=1)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.stderr.write('Traceback:\\n  x\\nValueError: boom\\n')",
            ],
            check=True,
        )
    out, err = capfd.readouterr()
    assert out.splitlines() == ["UserWarning: careful", "worker: ValueError: boom"]
    assert "Traceback" not in err


def test_worker_messages_lets_exceptions_through(capfd):
    with pytest.raises(KeyError), worker_messages():
        raise KeyError("x")
    assert capfd.readouterr().out == ""
