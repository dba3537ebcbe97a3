import os
import time

import numpy as np
import pytest

from helpers import data


def test_signals_shapes_dtypes_and_labels():
    X, y = data.make_signals(300, length=64, num_classes=5, seed=3)
    assert X.shape == (300, 1, 64) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(5))
    Xl, yl = data.make_signals(300, length=64, num_classes=5, seed=3, layout="channels_last")
    assert Xl.shape == (300, 64, 1)
    np.testing.assert_array_equal(Xl[:, :, 0], X[:, 0, :])
    np.testing.assert_array_equal(yl, y)


def test_signals_deterministic_and_prefix_stable():
    a, ya = data.make_signals(10_000, seed=1)  # spans two generation chunks
    b, yb = data.make_signals(10_000, seed=1)
    np.testing.assert_array_equal(a, b)
    small, ysmall = data.make_signals(9000, seed=1)
    np.testing.assert_array_equal(small, a[:9000])
    np.testing.assert_array_equal(ysmall, ya[:9000])
    c, _ = data.make_signals(10_000, seed=2)
    assert not np.array_equal(a, c)


def test_signals_are_learnable_by_a_simple_feature():
    # Without noise, the classes differ in a simple statistic: a nearest-centroid
    # classifier on |FFT| features beats chance by far. (The CNN test trains for real.)
    X, y = data.make_signals(2000, num_classes=4, noise=0.3, seed=0)
    feats = np.abs(np.fft.rfft(X[:, 0], axis=1))
    feats = np.concatenate([feats, np.sort(X[:, 0], axis=1)[:, ::8]], axis=1)
    train, test = slice(0, 1500), slice(1500, None)
    centroids = np.stack([feats[train][y[train] == k].mean(0) for k in range(4)])
    pred = np.argmin(((feats[test, None, :] - centroids) ** 2).sum(-1), axis=1)
    assert (pred == y[test]).mean() > 0.5  # chance is 0.25


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": 2.5}, TypeError, "n must be an int"),
        ({"n": 10, "num_classes": 9}, ValueError, "num_classes must be between 2 and 6"),
        ({"n": 10, "num_classes": 1}, ValueError, "num_classes must be between 2 and 6"),
        ({"n": 10, "length": 0}, ValueError, "length must be >= 1"),
        ({"n": 10, "noise": -1}, ValueError, "noise must be >= 0"),
        ({"n": 10, "layout": "NCW"}, ValueError, "layout must be"),
    ],
)
def test_signals_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_signals(**kwargs)


def test_sample_work_kinds():
    with pytest.raises(ValueError, match="kind must be"):
        data.SampleWork("gpu", 0.1)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        data.SampleWork("io", -1)
    io = data.SampleWork("io", 0.01)
    t0 = time.perf_counter()
    io()
    assert time.perf_counter() - t0 >= 0.009
    cpu = data.SampleWork("cpu", 0.005)
    assert cpu.iterations > 0
    data.SampleWork()()  # "none" does nothing and does not fail


def test_sample_work_cpu_is_calibrated():
    cpu = data.SampleWork("cpu", 0.02)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        cpu()
        times.append(time.perf_counter() - t0)
    # Calibrated once; generous bounds because CI machines are noisy.
    assert 0.005 < min(times) < 0.08


def test_signals_on_disk_written_once_and_equal_to_memory(tmp_path):
    x_path, y_path = data.signals_on_disk(500, 32, 3, seed=4, directory=tmp_path)
    X, y = data.make_signals(500, 32, 3, seed=4)
    np.testing.assert_array_equal(np.load(x_path), X)
    np.testing.assert_array_equal(np.load(y_path), y)
    mtime = os.stat(x_path).st_mtime_ns
    again = data.signals_on_disk(500, 32, 3, seed=4, directory=tmp_path)
    assert again == (x_path, y_path)
    assert os.stat(x_path).st_mtime_ns == mtime  # reused, not rewritten
    other, _ = data.signals_on_disk(500, 32, 3, seed=5, directory=tmp_path)
    assert other != x_path  # different parameters never share a file
    assert not list(tmp_path.glob("*.tmp"))  # no temp files left behind


def test_signals_on_disk_rewrites_a_truncated_file(tmp_path):
    x_path, _ = data.signals_on_disk(200, 16, directory=tmp_path)
    good = np.load(x_path)
    with open(x_path, "r+b") as f:
        f.truncate(os.path.getsize(x_path) - 100)
    x_path2, _ = data.signals_on_disk(200, 16, directory=tmp_path)
    np.testing.assert_array_equal(np.load(x_path2), good)


def test_load_npy_names_the_problem(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((10, 1, 8), np.float32))
    assert data.load_npy(path, shape=(None, 1, 8), dtype=np.float32).shape == (10, 1, 8)
    with pytest.raises(FileNotFoundError, match="missing.npy: no such file"):
        data.load_npy(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="dtype is float32, expected float64"):
        data.load_npy(path, dtype=np.float64)
    with pytest.raises(ValueError, match=r"shape is \(10, 1, 8\), expected \(None, 1, 9\)"):
        data.load_npy(path, shape=(None, 1, 9))
    with open(path, "r+b") as f:
        f.truncate(200)
    with pytest.raises(ValueError, match="a.npy: truncated"):
        data.load_npy(path)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"this is not numpy")
    with pytest.raises(ValueError, match="junk.npy: not a valid .npy file"):
        data.load_npy(junk)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="holds Python objects"):
        data.load_npy(objects)


def test_image_folder(tmp_path):
    from PIL import Image

    root = data.image_folder(per_class=4, size=24, seed=1, directory=tmp_path)
    for shape in data.SHAPE_NAMES:
        files = sorted((root / shape).glob("*.png"))
        assert len(files) == 4
        with Image.open(files[0]) as img:
            assert img.size == (24, 24) and img.mode == "RGB"
    first = (root / "circle" / "circle_0000.png").read_bytes()
    assert data.image_folder(per_class=4, size=24, seed=1, directory=tmp_path) == root
    assert (root / "circle" / "circle_0000.png").read_bytes() == first
    jpeg = data.image_folder(per_class=2, size=24, fmt="jpeg", directory=tmp_path)
    assert len(list(jpeg.rglob("*.jpg"))) == 2 * len(data.SHAPE_NAMES)
    with pytest.raises(ValueError, match="fmt must be"):
        data.image_folder(fmt="gif", directory=tmp_path)
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        data.image_folder(per_class=0, directory=tmp_path)


def test_real_datasets_load():
    gp = data.load_gunpoint()
    assert gp.X_train.shape == (50, 1, 150) and gp.X_train.dtype == np.float32
    assert gp.X_test.shape == (150, 1, 150)
    assert gp.y_train.dtype == np.int64 and set(gp.y_train) == {0, 1}
    assert len(gp.class_names) == 2
    pg = data.load_pickup_gesture()
    assert len(pg.X_train) == len(pg.y_train) == 50
    lengths = [len(s) for s in pg.X_train + pg.X_test]
    assert min(lengths) < max(lengths)  # really variable-length
    assert all(s.dtype == np.float32 and s.ndim == 1 for s in pg.X_train)
    ib = data.load_internal_bleeding()
    assert ib.series.ndim == 1 and len(ib.series) > 5000
    assert 0 < ib.train_end < ib.anomaly_start < ib.anomaly_end <= len(ib.series)


def test_real_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="gunpoint.npz: no such file"):
        data.load_gunpoint(tmp_path)
    (tmp_path / "gunpoint.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ValueError, match="gunpoint.npz: corrupt or not an .npz file"):
        data.load_gunpoint(tmp_path)
    np.savez(tmp_path / "internal_bleeding16.npz", series=np.zeros(10))
    with pytest.raises(ValueError, match=r"missing arrays \['train_end'"):
        data.load_internal_bleeding(tmp_path)
