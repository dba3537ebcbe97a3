"""Data for the notebooks: synthetic signals, per-sample work, files on disk, real datasets.

Everything here is deterministic given a seed, and nothing is downloaded. Files are
written only under ``data/generated/`` (or a directory you pass), atomically: a temp
file in the same folder, then a rename, so an interrupted run never leaves a
half-written file that a later run would trust.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DIR = REPO_ROOT / "data" / "real"
#: Where generated files go; override with the LOADER_LAB_GENERATED environment variable.
GENERATED_DIR = Path(os.environ.get("LOADER_LAB_GENERATED", REPO_ROOT / "data" / "generated"))

#: Waveform families of the synthetic signals, in label order.
CLASS_NAMES = ("sine", "square", "sawtooth", "triangle", "chirp", "pulse")
#: Shapes drawn in the synthetic image folders, in label order.
SHAPE_NAMES = ("circle", "square", "triangle")

_CHUNK = 8192  # samples generated per random-number stream; fixes the data for a seed


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_num_classes(num_classes: object) -> int:
    k = _check_positive_int("num_classes", num_classes)
    if not 2 <= k <= len(CLASS_NAMES):
        raise ValueError(
            f"num_classes must be between 2 and {len(CLASS_NAMES)} "
            f"({', '.join(CLASS_NAMES)}), got {k}"
        )
    return k


# --------------------------------------------------------------------------- signals
def _signal_chunk(
    start: int, count: int, length: int, num_classes: int, seed: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``start .. start+count`` (within one chunk) as ``(count, length)`` float32."""
    chunk_index, offset = divmod(start, _CHUNK)
    rng = np.random.default_rng([seed, chunk_index])
    # Draw the whole chunk so that any slice of it is the same, whatever the caller asks.
    size = _CHUNK
    labels = rng.integers(0, num_classes, size=size)
    freq = rng.uniform(2.0, 6.0, size=(size, 1))  # cycles per window
    phase = rng.uniform(0.0, 1.0, size=(size, 1))
    amp = rng.uniform(0.6, 1.4, size=(size, 1))
    sl = slice(offset, offset + count)
    labels, freq, phase, amp = labels[sl], freq[sl], phase[sl], amp[sl]
    t = np.linspace(0.0, 1.0, length, endpoint=False)
    cycles = freq * t + phase  # (count, length)
    frac = cycles % 1.0
    waves = np.empty((count, length))
    for label, name in enumerate(CLASS_NAMES[:num_classes]):
        m = labels == label
        c, f = cycles[m], frac[m]
        if name == "sine":
            w = np.sin(2 * np.pi * c)
        elif name == "square":
            w = np.where(f < 0.5, 1.0, -1.0)
        elif name == "sawtooth":
            w = 2.0 * f - 1.0
        elif name == "triangle":
            w = 1.0 - 4.0 * np.abs(f - 0.5)
        elif name == "chirp":  # frequency rises threefold across the window
            w = np.sin(2 * np.pi * (freq[m] * (t + t**2) + phase[m]))
        else:  # pulse: a narrow bump once per cycle
            w = 2.0 * np.exp(-(((f - 0.5) / 0.08) ** 2)) - 1.0
        waves[m] = w
    noise_rng = np.random.default_rng([seed, chunk_index, 1])
    noise_all = noise_rng.standard_normal((size, length))[sl]
    x = (amp * waves + noise * noise_all).astype(np.float32)
    return x, labels.astype(np.int64)


def _iter_signal_chunks(
    n: int, length: int, num_classes: int, seed: int, noise: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    for start in range(0, n, _CHUNK):
        count = min(_CHUNK, n - start)
        x, y = _signal_chunk(start, count, length, num_classes, seed, noise)
        yield start, x, y


def make_signals(
    n: int,
    length: int = 128,
    num_classes: int = 4,
    *,
    seed: int = 0,
    noise: float = 0.3,
    layout: Literal["channels_first", "channels_last"] = "channels_first",
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``n`` learnable 1D signals of ``num_classes`` waveform families.

    Each sample is a waveform from :data:`CLASS_NAMES` with a random frequency (2-6
    cycles per window), phase and amplitude, plus Gaussian noise of std ``noise``.

    Returns ``(X, y)``: ``X`` float32 of shape ``(n, 1, length)`` (PyTorch,
    ``layout="channels_first"``) or ``(n, length, 1)`` (Keras, ``"channels_last"``);
    ``y`` int64 of shape ``(n,)`` with labels ``0 .. num_classes-1``. The same
    arguments always give the same arrays, and the first ``m`` samples of a bigger
    dataset equal a dataset of size ``m``.
    """
    n = _check_positive_int("n", n)
    length = _check_positive_int("length", length)
    num_classes = _check_num_classes(num_classes)
    if layout not in ("channels_first", "channels_last"):
        raise ValueError(f"layout must be 'channels_first' or 'channels_last', got {layout!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    X = np.empty((n, length), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start, xs, ys in _iter_signal_chunks(n, length, num_classes, seed, noise):
        X[start : start + len(xs)] = xs
        y[start : start + len(ys)] = ys
    X = X[:, None, :] if layout == "channels_first" else X[:, :, None]
    return X, y


# --------------------------------------------------------------------------- work knob
def _spin(iterations: int) -> int:
    """Pure-Python busy work: holds the GIL for the whole loop."""
    acc = 0
    for i in range(iterations):
        acc ^= i
    return acc


@functools.cache
def cpu_loop_rate() -> float:
    """Iterations of :func:`_spin` per second on this machine (best of 5, measured once)."""
    iterations = 100_000
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        _spin(iterations)
        best = min(best, time.perf_counter() - t0)
    return iterations / best


@dataclass(frozen=True)
class SampleWork:
    """Extra work per sample, to make loading expensive on purpose.

    ``kind="cpu"``: a pure-Python loop calibrated to take ``seconds`` (holds the GIL,
    so threads cannot overlap it; processes can). ``kind="io"``: ``time.sleep(seconds)``,
    which releases the GIL like a disk or network read would. ``kind="none"``: nothing.

    Call the object once per sample: ``work = SampleWork("cpu", 50e-6); work()``.
    The calibrated iteration count travels with the object into worker processes.
    """

    kind: Literal["none", "cpu", "io"] = "none"
    seconds: float = 0.0
    iterations: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        if self.kind not in ("none", "cpu", "io"):
            raise ValueError(f"kind must be 'none', 'cpu' or 'io', got {self.kind!r}")
        if not self.seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds}")
        if self.kind == "cpu":
            object.__setattr__(self, "iterations", round(self.seconds * cpu_loop_rate()))

    def __call__(self) -> None:
        if self.kind == "cpu":
            _spin(self.iterations)
        elif self.kind == "io" and self.seconds > 0:
            time.sleep(self.seconds)


# --------------------------------------------------------------------------- .npy files
def _atomic_target(path: Path) -> Path:
    """A temp path in the same directory as ``path`` (so the final rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def load_npy(
    path: str | os.PathLike,
    *,
    shape: tuple[int | None, ...] | None = None,
    dtype: np.dtype | type | str | None = None,
    mmap_mode: Literal["r", "c"] | None = "r",
) -> np.ndarray:
    """Open a ``.npy`` file, checking it before anyone trusts it.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file
    when it is truncated, not a ``.npy`` file, holds Python objects, or its shape or
    dtype differ from ``shape`` / ``dtype`` (``None`` in ``shape`` matches any size).
    Memory-mapped (read-only) by default; never uses ``allow_pickle``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(f)  # (shape, fortran, dtype)
            else:
                header = np.lib.format.read_array_header_2_0(f)
            data_offset = f.tell()
    except ValueError as e:
        raise ValueError(f"{path}: not a valid .npy file ({e})") from None
    file_shape, _, file_dtype = header
    if file_dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects; refusing to load it (no pickles)")
    expected = data_offset + int(np.prod(file_shape, dtype=np.int64)) * file_dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise ValueError(
            f"{path}: truncated: header says shape {file_shape} {file_dtype} "
            f"({expected} bytes with header) but the file has {actual} bytes"
        )
    if dtype is not None and np.dtype(dtype) != file_dtype:
        raise ValueError(f"{path}: dtype is {file_dtype}, expected {np.dtype(dtype)}")
    if shape is not None and (
        len(shape) != len(file_shape)
        or any(s is not None and s != fs for s, fs in zip(shape, file_shape, strict=True))
    ):
        raise ValueError(f"{path}: shape is {file_shape}, expected {shape}")
    return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)


def _npy_is_valid(path: Path, shape: tuple[int, ...], dtype: type) -> bool:
    try:
        load_npy(path, shape=shape, dtype=dtype)
    except (OSError, ValueError):
        return False
    return True


def signals_on_disk(
    n: int,
    length: int = 128,
    num_classes: int = 4,
    *,
    seed: int = 0,
    noise: float = 0.3,
    directory: str | os.PathLike | None = None,
) -> tuple[Path, Path]:
    """Write the signals of :func:`make_signals` to ``.npy`` files once; reuse them after.

    Returns ``(x_path, y_path)``: ``X`` float32 ``(n, 1, length)`` and ``y`` int64
    ``(n,)``, identical to ``make_signals(n, length, num_classes, seed=seed,
    noise=noise)``. The file names encode every parameter, so different parameters
    never share a file. Files are written chunk by chunk through a memory map (any
    size fits in RAM) to a temp file, then renamed into place; valid existing files
    are reused without rewriting.
    """
    n = _check_positive_int("n", n)
    length = _check_positive_int("length", length)
    num_classes = _check_num_classes(num_classes)
    directory = Path(directory) if directory is not None else GENERATED_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"signals_n{n}_len{length}_k{num_classes}_seed{seed}_noise{noise:g}"
    x_path, y_path = directory / f"{stem}_X.npy", directory / f"{stem}_y.npy"
    x_shape, y_shape = (n, 1, length), (n,)
    if _npy_is_valid(x_path, x_shape, np.float32) and _npy_is_valid(y_path, y_shape, np.int64):
        return x_path, y_path
    x_tmp, y_tmp = _atomic_target(x_path), _atomic_target(y_path)
    try:
        X = np.lib.format.open_memmap(x_tmp, mode="w+", dtype=np.float32, shape=x_shape)
        y = np.lib.format.open_memmap(y_tmp, mode="w+", dtype=np.int64, shape=y_shape)
        for start, xs, ys in _iter_signal_chunks(n, length, num_classes, seed, noise):
            X[start : start + len(xs), 0] = xs
            y[start : start + len(ys)] = ys
        X.flush()
        y.flush()
        del X, y
        os.replace(y_tmp, y_path)
        os.replace(x_tmp, x_path)
    finally:
        for tmp in (x_tmp, y_tmp):
            tmp.unlink(missing_ok=True)
    return x_path, y_path


# --------------------------------------------------------------------------- image folders
def _draw_shape(shape: str, size: int, rng: np.random.Generator):  # -> PIL.Image.Image
    from PIL import Image, ImageDraw  # Pillow only where images are made

    bg = tuple(int(v) for v in rng.integers(170, 256, size=3))
    fg = tuple(int(v) for v in rng.integers(0, 140, size=3))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    r = rng.uniform(0.18, 0.34) * size
    cx, cy = rng.uniform(r, size - r, size=2)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif shape == "square":
        draw.regular_polygon((cx, cy, r), 4, rotation=float(rng.uniform(0, 90)), fill=fg)
    else:
        draw.regular_polygon((cx, cy, r), 3, rotation=float(rng.uniform(0, 120)), fill=fg)
    pixels = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, size=(size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def image_folder(
    per_class: int = 40,
    size: int = 64,
    *,
    seed: int = 0,
    fmt: Literal["png", "jpeg"] = "png",
    directory: str | os.PathLike | None = None,
) -> Path:
    """A class-per-folder image dataset of drawn shapes, written once and reused.

    Layout: ``<root>/<class>/<class>_0000.<ext>`` for each class in
    :data:`SHAPE_NAMES`: ``per_class`` RGB images of ``size`` x ``size`` pixels, a
    filled circle, square or triangle of random size, position, rotation and colour
    on a noisy background. The folder is built in a temp directory and renamed into
    place, so it is either complete or absent. Returns the root folder.
    """
    per_class = _check_positive_int("per_class", per_class)
    size = _check_positive_int("size", size)
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    parent = Path(directory) if directory is not None else GENERATED_DIR
    parent.mkdir(parents=True, exist_ok=True)
    root = parent / f"shapes_{size}px_{per_class}per_class_seed{seed}_{fmt}"
    manifest = root / "manifest.json"
    if manifest.is_file():
        return root
    ext = "jpg" if fmt == "jpeg" else "png"
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=parent))
    try:
        for label, shape in enumerate(SHAPE_NAMES):
            (tmp / shape).mkdir()
            rng = np.random.default_rng([seed, label])
            for i in range(per_class):
                _draw_shape(shape, size, rng).save(tmp / shape / f"{shape}_{i:04d}.{ext}")
        info = {"classes": list(SHAPE_NAMES), "per_class": per_class, "size": size, "fmt": fmt}
        (tmp / "manifest.json").write_text(json.dumps(info, indent=1))
        try:
            os.replace(tmp, root)
        except OSError:  # another process finished first (or a stale partial folder)
            if not manifest.is_file():
                shutil.rmtree(root, ignore_errors=True)
                os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


# --------------------------------------------------------------------------- real datasets
@dataclass(frozen=True)
class ClassificationData:
    """A train/test classification dataset.

    Fixed-length sets have ``X_*`` float32 of shape ``(n, 1, length)``; variable-length
    sets have ``X_*`` as a list of 1-D float32 arrays. Labels are int64, ``0 .. K-1``,
    naming ``class_names[label]``.
    """

    X_train: np.ndarray | list[np.ndarray]
    y_train: np.ndarray
    X_test: np.ndarray | list[np.ndarray]
    y_test: np.ndarray
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class AnomalySeries:
    """One long series; ``series[:train_end]`` is anomaly-free; the anomaly spans
    ``series[anomaly_start:anomaly_end]`` (end exclusive)."""

    series: np.ndarray
    train_end: int
    anomaly_start: int
    anomaly_end: int


def load_npz(path: str | os.PathLike, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file, with errors that name the file and problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (see data/README.md to rebuild it)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or not an .npz file ({type(e).__name__}: {e})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}; found {sorted(arrays)}")
    return arrays


def _split_ragged(values: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(values.astype(np.float32, copy=False), np.cumsum(lengths)[:-1])


def load_gunpoint(directory: str | os.PathLike | None = None) -> ClassificationData:
    """GunPoint (UCR): 2 classes, 50 train / 150 test series of length 150, ``(n, 1, 150)``."""
    keys = ("X_train", "y_train", "X_test", "y_test", "class_names")
    a = load_npz(Path(directory or REAL_DIR) / "gunpoint.npz", keys)
    return ClassificationData(
        a["X_train"], a["y_train"], a["X_test"], a["y_test"], tuple(a["class_names"].tolist())
    )


def load_pickup_gesture(directory: str | os.PathLike | None = None) -> ClassificationData:
    """PickupGestureWiimoteZ (UCR): the same gesture by 10 people (the classes), 50 train
    and 50 test series of 29-361 steps, as lists of 1-D float32 arrays."""
    keys = (
        "X_train_values",
        "X_train_lengths",
        "y_train",
        "X_test_values",
        "X_test_lengths",
        "y_test",
        "class_names",
    )
    path = Path(directory or REAL_DIR) / "pickup_gesture_wiimote_z.npz"
    a = load_npz(path, keys)
    for split in ("train", "test"):
        if a[f"X_{split}_lengths"].sum() != len(a[f"X_{split}_values"]):
            raise ValueError(f"{path}: {split} lengths do not add up to the stored values")
    return ClassificationData(
        _split_ragged(a["X_train_values"], a["X_train_lengths"]),
        a["y_train"],
        _split_ragged(a["X_test_values"], a["X_test_lengths"]),
        a["y_test"],
        tuple(a["class_names"].tolist()),
    )


def load_internal_bleeding(directory: str | os.PathLike | None = None) -> AnomalySeries:
    """UCR anomaly set 135, InternalBleeding16: one long physiological series."""
    keys = ("series", "train_end", "anomaly_start", "anomaly_end")
    a = load_npz(Path(directory or REAL_DIR) / "internal_bleeding16.npz", keys)
    return AnomalySeries(
        a["series"].astype(np.float32, copy=False),
        int(a["train_end"]),
        int(a["anomaly_start"]),
        int(a["anomaly_end"]),
    )
