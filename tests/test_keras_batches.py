"""The PyDataset classes of notebook 04: picklable (spawned workers need that), and every
sample exactly once per epoch, the last partial batch included, with 0 and 2 workers."""

import pickle

import numpy as np
import pytest
from PIL import Image

from helpers.data import SampleWork
from helpers.keras_batches import (
    CountingBatches,
    JpegBatches,
    JpegBatchesDropLast,
    SignalBatches,
    keras,
)

N_IMAGES, SIZE, BATCH = 10, 8, 4  # 10 images in batches of 4: the last batch holds 2


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    """N_IMAGES distinct JPEGs (flat colours far apart survive compression) and labels."""
    root = tmp_path_factory.mktemp("jpegs")
    paths = []
    for i in range(N_IMAGES):
        path = root / f"img_{i:02d}.jpg"
        Image.new("RGB", (SIZE, SIZE), (25 * i, 255 - 25 * i, 128)).save(path, quality=95)
        paths.append(str(path))
    return paths, np.eye(N_IMAGES, dtype=np.float32)  # label i identifies image i


def signals(n=10, length=6):
    X = np.arange(n * length, dtype=np.float32).reshape(n, length, 1)
    return X, np.arange(n, dtype=np.int64)


def make_all(jpegs):
    paths, labels = jpegs
    X, y = signals()
    return [
        JpegBatches(paths, labels, BATCH, size=SIZE),
        CountingBatches(paths, labels, BATCH, size=SIZE),
        JpegBatchesDropLast(paths, labels, BATCH, size=SIZE),
        SignalBatches(X, y, BATCH, work=SampleWork("io", 1e-4), workers=2),
    ]


def test_every_class_pickles(jpegs):
    for dataset in make_all(jpegs):
        clone = pickle.loads(pickle.dumps(dataset))
        assert type(clone) is type(dataset) and len(clone) == len(dataset)
        for a, b in zip(clone[len(clone) - 1], dataset[len(dataset) - 1], strict=True):
            np.testing.assert_array_equal(a, b)


def one_epoch_in_process(dataset):
    """Labels of one epoch read by index, then on_epoch_end (what Keras calls)."""
    ys = [dataset[i][1] for i in range(len(dataset))]
    dataset.on_epoch_end()
    return ys


@pytest.mark.parametrize("cls", [JpegBatches, CountingBatches, JpegBatchesDropLast])
def test_jpeg_batches_cover_every_image_once_per_epoch(jpegs, cls):
    paths, labels = jpegs
    dataset = cls(paths, labels, BATCH, size=SIZE, seed=3)
    orders = []
    for _ in range(2):
        ys = one_epoch_in_process(dataset)
        assert [len(b) for b in ys] == [4, 4, 2]  # the last batch is partial, not dropped
        ids = np.concatenate(ys).argmax(axis=1)
        assert sorted(ids) == list(range(N_IMAGES))
        orders.append(ids)
    assert not np.array_equal(*orders)  # reshuffled between epochs


def test_images_match_their_files(jpegs):
    paths, labels = jpegs
    x, y = JpegBatches(paths, labels, N_IMAGES, size=SIZE)[0]
    assert x.shape == (N_IMAGES, SIZE, SIZE, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    for img, label in zip(x, y, strict=True):
        i = int(label.argmax())
        assert abs(img[..., 0].mean() * 255 - 25 * i) < 3  # the colour of file i


def test_drop_last_says_what_it_leaves_out(jpegs, capsys):
    paths, labels = jpegs
    dropping = JpegBatchesDropLast(paths, labels, BATCH, size=SIZE, drop_last=True)
    assert len(dropping) == N_IMAGES // BATCH
    assert "2 of 10 images are left out" in capsys.readouterr().out
    assert len(JpegBatchesDropLast(paths, labels, BATCH, size=SIZE)) == 3


def test_counting_batches_counts_calls(jpegs):
    paths, labels = jpegs
    counting = CountingBatches(paths, labels, BATCH, size=SIZE)
    one_epoch_in_process(counting)
    assert counting.calls == len(counting) == 3


@pytest.mark.parametrize(
    "kwargs", [{}, {"workers": 2}, {"workers": 2, "use_multiprocessing": True}]
)
def test_signal_batches_deliver_each_sample_once_through_keras(kwargs):
    """Through Keras' own loader (predict of an identity model): in-process, 2 threads,
    2 processes. The outputs are the samples received, in order."""
    X, y = signals(n=10)
    echo = keras.Sequential([keras.Input((X.shape[1], 1)), keras.layers.Identity()])
    dataset = SignalBatches(X, y, BATCH, work=SampleWork("io", 1e-3), **kwargs)
    out = echo.predict(dataset, verbose=0)
    assert out.shape == X.shape
    assert sorted(out[:, 0, 0].tolist()) == sorted(X[:, 0, 0].tolist())  # all, once


def test_jpeg_batches_deliver_each_image_once_with_two_workers(jpegs):
    paths, labels = jpegs
    echo = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Identity()])
    for workers in (1, 2):  # 1: in-process; 2: a pool of two threads
        out = echo.predict(JpegBatches(paths, labels, BATCH, size=SIZE, workers=workers), verbose=0)
        assert len(out) == N_IMAGES
        assert len(np.unique(out.reshape(N_IMAGES, -1).round(3), axis=0)) == N_IMAGES


@pytest.mark.parametrize("bad", [{"image_paths": []}, {"labels": [1]}, {"batch_size": 0}])
def test_bad_input_names_the_problem(jpegs, bad):
    paths, labels = jpegs
    args = {"image_paths": paths, "labels": labels, "batch_size": BATCH, **bad}
    with pytest.raises(ValueError, match="empty|labels|batch_size"):
        JpegBatches(**args)
    X, y = signals()
    with pytest.raises(ValueError):
        SignalBatches(X, y[:3], BATCH)


def test_out_of_range_batch_raises_index_error(jpegs):
    paths, labels = jpegs
    with pytest.raises(IndexError, match="out of range"):
        JpegBatches(paths, labels, BATCH, size=SIZE)[3]
