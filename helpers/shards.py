"""Files and shards for notebook 09: the same signals written as ``.npy``, HDF5,
TFRecord and WebDataset tar shards, the readers that workers run, and the checks.

Every reader here returns sample **ids** with the data, so a notebook can count what
arrived: delivered, unique, duplicated, missing. Every check raises an error that names
the file. Code that a ``DataLoader`` worker runs (datasets, pipeline stages, collate
functions) lives at module level, so a ``spawn`` worker can import it; notebook 09
shows it with ``helpers.source.show_source``.

TensorFlow is imported inside the TFRecord functions only: a PyTorch worker that
imports this module must not pay for TensorFlow.

Layout of every file (``n`` samples of ``length`` steps):

- ``.npy``: ``X`` float32 ``(n, 1, length)`` and ``y`` int64 ``(n,)``; the id is the row.
- HDF5: datasets ``x`` float32 ``(n, 1, length)``, ``y`` int64 ``(n,)``, ``id`` int64 ``(n,)``.
- WebDataset: tar shards; per sample ``<id:08d>.x.npy`` (the signal, ``np.save`` bytes)
  and ``<id:08d>.cls`` (the label as text); the key is the id.
- TFRecord: one record per sample, either a ``tf.train.Example`` (features ``id``,
  ``label``: int64; ``x``: ``length`` floats) or one serialized float32 tensor
  ``[id, label, x...]`` (``tf.io.serialize_tensor``; ids must stay below 2**24, where
  float32 holds every integer exactly).

Shard files come with a manifest (``manifest.json``: samples per shard), so a shard
that lost its tail at a record boundary, which neither ``tarfile`` nor TFRecord can
notice, is still caught.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import struct
import tarfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .counting import counts
from .streams import shuffle_buffer

MB = 2**20
FLOAT32_EXACT = 2**24  # every integer below this is exact in float32
MANIFEST = "manifest.json"


# --------------------------------------------------------------------------- writing
@dataclass
class Written:
    """Files written for one format: their paths, seconds taken, bytes on disk."""

    name: str
    paths: list[Path]
    write_s: float

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.paths)

    @property
    def mb(self) -> float:
        return self.bytes / MB


def _fresh_dir(directory: Path) -> Path:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def _write_manifest(directory: Path, counts: dict[str, int]) -> Path:
    path = directory / MANIFEST
    path.write_text(json.dumps(counts, indent=1))
    return path


def read_manifest(directory: str | os.PathLike) -> dict[str, int]:
    """``{shard file name: samples}`` as written next to the shards."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; cannot check the shards' sample counts")
    return json.loads(path.read_text())


def shard_ranges(n: int, num_shards: int) -> list[range]:
    """Split ids ``0 .. n-1`` into ``num_shards`` contiguous ranges of near-equal size."""
    if not 1 <= num_shards <= n:
        raise ValueError(f"need 1 <= num_shards <= n, got {num_shards} shards for {n} samples")
    bounds = np.linspace(0, n, num_shards + 1).round().astype(int)
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def write_npy(directory: str | os.PathLike, X: np.ndarray, y: np.ndarray) -> Written:
    """``X.npy`` and ``y.npy`` in a fresh ``directory``; the id of a sample is its row."""
    directory = _fresh_dir(Path(directory))
    t0 = time.perf_counter()
    paths = [directory / "X.npy", directory / "y.npy"]
    np.save(paths[0], X)
    np.save(paths[1], y)
    return Written("npy", paths, time.perf_counter() - t0)


def write_hdf5(
    path: str | os.PathLike,
    X: np.ndarray,
    y: np.ndarray,
    *,
    chunk_rows: int | None = None,
    compression: str | None = None,
) -> Written:
    """One HDF5 file with datasets ``x``, ``y``, ``id``. Contiguous by default; with
    ``chunk_rows``, ``x`` is stored in chunks of that many signals (``compression``,
    e.g. ``"gzip"``, applies to each chunk)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    chunks = None if chunk_rows is None else (min(chunk_rows, len(X)), *X.shape[1:])
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X, chunks=chunks, compression=compression)
        f.create_dataset("y", data=y)
        f.create_dataset("id", data=np.arange(len(X), dtype=np.int64))
    kind = "contiguous" if chunks is None else f"chunked {chunk_rows} rows, {compression}"
    return Written(f"HDF5 {kind}", [path], time.perf_counter() - t0)


def write_wds_shards(
    directory: str | os.PathLike, X: np.ndarray, y: np.ndarray, num_shards: int
) -> Written:
    """WebDataset tar shards ``shard-00000.tar ...`` plus ``manifest.json``."""
    import webdataset as wds

    directory = _fresh_dir(Path(directory))
    t0 = time.perf_counter()
    paths, counts = [], {}
    for s, ids in enumerate(shard_ranges(len(X), num_shards)):
        path = directory / f"shard-{s:05d}.tar"
        with wds.TarWriter(str(path)) as sink:
            for i in ids:
                sink.write({"__key__": f"{i:08d}", "x.npy": X[i], "cls": int(y[i])})
        paths.append(path)
        counts[path.name] = len(ids)
    paths.append(_write_manifest(directory, counts))
    return Written("WebDataset tar", paths, time.perf_counter() - t0)


def example_record(i: int, x: np.ndarray, label: int) -> bytes:
    """One ``tf.train.Example``: ``id`` and ``label`` int64, ``x`` the signal's floats."""
    import tensorflow as tf

    feature = {
        "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=x.ravel())),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def tensor_record(i: int, x: np.ndarray, label: int) -> bytes:
    """One serialized float32 tensor ``[id, label, x...]`` (``tf.io.serialize_tensor``)."""
    import tensorflow as tf

    if not 0 <= i < FLOAT32_EXACT:
        raise ValueError(f"id {i} is not exact in float32 (must be below {FLOAT32_EXACT})")
    row = np.concatenate([[i, label], x.ravel()]).astype(np.float32)
    return tf.io.serialize_tensor(row).numpy()


def write_tfrecords(
    directory: str | os.PathLike, X: np.ndarray, y: np.ndarray, num_shards: int, kind: str
) -> Written:
    """TFRecord shards ``shard-00000.tfrecord ...`` plus ``manifest.json``; ``kind`` is
    ``"example"`` (:func:`example_record`) or ``"tensor"`` (:func:`tensor_record`)."""
    import tensorflow as tf

    encode = {"example": example_record, "tensor": tensor_record}[kind]
    directory = _fresh_dir(Path(directory))
    t0 = time.perf_counter()
    paths, counts = [], {}
    for s, ids in enumerate(shard_ranges(len(X), num_shards)):
        path = directory / f"shard-{s:05d}.tfrecord"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in ids:
                writer.write(encode(i, X[i], int(y[i])))
        paths.append(path)
        counts[path.name] = len(ids)
    paths.append(_write_manifest(directory, counts))
    name = {"example": "TFRecord tf.train.Example", "tensor": "TFRecord serialized tensor"}[kind]
    return Written(name, paths, time.perf_counter() - t0)


def shard_paths(written: Written) -> list[Path]:
    """The shard files of a :class:`Written`, without its manifest."""
    return [p for p in written.paths if p.name != MANIFEST]


# --------------------------------------------------------------------------- HDF5 readers
def check_hdf5(path: str | os.PathLike) -> int:
    """Open ``path`` once and check it holds ``x``, ``y``, ``id`` of one length; returns
    that length. Raises ``ValueError`` naming the file if it cannot be read."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("x", "y", "id") if k not in f]
            if missing:
                raise ValueError(f"{path}: no dataset {', '.join(missing)} in the file")
            n = len(f["x"])
            if len(f["y"]) != n or len(f["id"]) != n:
                raise ValueError(f"{path}: x, y and id differ in length")
            f["x"][-1:]  # reads the last chunk: a file cut short fails here
            return n
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e})") from None


class H5Batches(Dataset):
    """Batches from an HDF5 file, opened **lazily**: once per process, on first use.

    ``__getitem__`` takes a list of indices (from a ``BatchSampler``; use
    ``batch_size=None``) and returns ``(x, y, ids)`` tensors, sorted by index: ``x``
    float32 ``(batch, 1, length)``. Only the path is pickled to a worker."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.n = check_hdf5(self.path)  # a bad file fails here, in the main process
        self.file = None

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict:
        return {**self.__dict__, "file": None}  # never pickle an open file

    def __getitem__(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        if self.file is None:
            import h5py

            self.file = h5py.File(self.path, "r")  # in the process that reads
        idx = np.sort(np.asarray(indices))
        try:
            x, y, ids = (self.file[k][idx] for k in ("x", "y", "id"))
        except OSError as e:  # corrupt data inside: say which file
            raise ValueError(f"{self.path.name}: cannot read rows {idx[0]}..{idx[-1]} ({e})") from e
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(ids)


class EagerH5Batches(H5Batches):
    """The common mistake: the file is opened in ``__init__``, before the workers start,
    and travels with the dataset (inherited by ``fork``, pickled by ``spawn``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        import h5py

        super().__init__(path)
        self.file = h5py.File(self.path, "r")

    def __getstate__(self) -> dict:
        return self.__dict__  # the open file too: h5py refuses to pickle it


class NpyBatches(Dataset):
    """Batches from ``X.npy`` / ``y.npy``, memory-mapped lazily once per process;
    ``(x, y, ids)`` like :class:`H5Batches` (the id is the row)."""

    def __init__(self, x_path: str | os.PathLike, y_path: str | os.PathLike) -> None:
        from .data import load_npy

        self.x_path, self.y_path = Path(x_path), Path(y_path)
        self.n = len(load_npy(self.x_path, shape=(None, 1, None), dtype=np.float32))
        load_npy(self.y_path, shape=(self.n,), dtype=np.int64)
        self.X = self.y = None

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict:
        return {**self.__dict__, "X": None, "y": None}

    def __getitem__(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        if self.X is None:
            self.X = np.load(self.x_path, mmap_mode="r")
            self.y = np.load(self.y_path, mmap_mode="r")
        idx = np.sort(np.asarray(indices))
        return torch.from_numpy(self.X[idx]), torch.from_numpy(self.y[idx]), torch.from_numpy(idx)


class InMemoryBatches(Dataset):
    """The control: batches sliced from arrays already in memory, ``(x, y, ids)`` like
    :class:`H5Batches`. No file and next to no work, so through ``DataLoader`` workers
    its time per batch is what handing a batch to the main process costs."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        idx = np.sort(np.asarray(indices))
        return torch.from_numpy(self.X[idx]), torch.from_numpy(self.y[idx]), torch.from_numpy(idx)


class AnyFormat(Dataset):
    """Several map-style datasets behind one: ``dataset[(name, indices)]`` reads batch
    ``indices`` from ``datasets[name]``. One persistent ``DataLoader`` (workers started
    once) can then serve every format; :class:`EpochPlan` says which one per epoch."""

    def __init__(self, datasets: dict[str, Dataset]) -> None:
        self.datasets = datasets

    def __len__(self) -> int:
        return len(next(iter(self.datasets.values())))

    def __getitem__(self, key: tuple[str, Sequence[int]]) -> tuple[torch.Tensor, ...]:
        name, indices = key
        return self.datasets[name][indices]


class EpochPlan(Sampler):
    """Yields ``(name, batch indices)`` for one epoch of ``n`` samples: in file order
    (``shuffled=False``) or as random batches of a fresh permutation (seeded by
    ``seed`` and the epoch number). Set ``name`` and ``shuffled`` between epochs: the
    sampler runs in the main process, even with persistent workers."""

    def __init__(self, n: int, batch_size: int, seed: int = 0) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.name, self.shuffled, self.epoch = "", False, 0

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[str, list[int]]]:
        self.epoch += 1
        order = np.arange(self.n)
        if self.shuffled:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        for start in range(0, self.n, self.batch_size):
            yield self.name, order[start : start + self.batch_size].tolist()


# --------------------------------------------------------------------------- loaders, safely
@dataclass
class Outcome:
    """What one epoch through a loader gave: ids per worker, or the error it raised."""

    ids_by_worker: dict[int, np.ndarray]
    values_ok: bool
    error: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


def fork_available() -> bool:
    """True where ``fork`` can start processes (Linux, macOS; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def worker_id() -> int:
    """The id of the ``DataLoader`` worker running this code, ``-1`` in the main process."""
    info = get_worker_info()
    return -1 if info is None else info.id


def epoch_ids(loader: Iterable[Any], check: Callable[[Any], bool] | None = None) -> Outcome:
    """Run one epoch of ``loader`` (batches ``(x, y, ids, worker)``, or ``(x, y, ids)``).

    Returns the ids per worker and whether ``check(batch)`` held for every batch; an
    error (a worker that died, a pickling error, a ``DataLoader`` timeout) is caught and
    returned as ``"TypeName: message"``, warnings too. The workers are shut down before
    this returns, whatever happened."""
    ids: dict[int, list[np.ndarray]] = {}
    values_ok, error = True, ""
    it = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # webdataset leaves shards to the GC
        try:
            it = iter(loader)
            for batch in it:
                who = int(batch[3][0]) if len(batch) > 3 else -1
                ids.setdefault(who, []).append(np.asarray(batch[2]))
                if check is not None:
                    values_ok &= bool(check(batch))
        except Exception as e:  # shown, not hidden: the notebook prints it
            error = f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
        finally:
            shutdown = getattr(it, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
            del it
    messages = tuple(str(w.message).split("\n")[0] for w in caught)
    return Outcome({k: np.concatenate(v) for k, v in ids.items()}, values_ok, error, messages)


class WithWorker(Dataset):
    """A map-style batch dataset whose batches also carry the id of the worker that
    made them: ``(x, y, ids, worker)``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        return (*self.dataset[indices], torch.tensor([worker_id()]))


def h5_worker_epoch(
    dataset: H5Batches,
    *,
    num_workers: int,
    context: str | None,
    batch_size: int,
    timeout_s: float = 20.0,
) -> Outcome:
    """One epoch of ``dataset`` in random batches through a ``DataLoader`` with
    ``num_workers`` workers started by ``context`` (``None``: the default start
    method), each batch checked against the file read in this process. A worker that
    hangs raises after ``timeout_s`` (``DataLoader(timeout=...)``); nothing waits forever."""
    import h5py

    with h5py.File(dataset.path, "r") as f:  # the truth, read here
        x_all = f["x"][:]
    plan = EpochPlan(len(dataset), batch_size, seed=1)
    plan.shuffled = True
    plan_items = [idx for _, idx in plan]
    loader = DataLoader(
        WithWorker(dataset),
        sampler=plan_items,
        batch_size=None,
        num_workers=num_workers,
        multiprocessing_context=context if num_workers else None,
        timeout=timeout_s if num_workers else 0,
    )
    return epoch_ids(loader, lambda b: np.array_equal(b[0].numpy(), x_all[b[2].numpy()]))


# --------------------------------------------------------------------------- counting
def id_counts(ids_by_reader: dict[Any, np.ndarray], n: int) -> dict[Any, dict[str, int]]:
    """Per reader and ``"total"``: delivered, unique, duplicated (deliveries beyond the
    first of an id) and, for the total only, missing (ids ``0 .. n-1`` never delivered).
    The counting itself is :func:`helpers.counting.counts`, shared with notebooks 07-08."""
    rows: dict[Any, dict[str, int]] = {}
    for reader, ids in ids_by_reader.items():
        c = counts(np.asarray(ids, dtype=np.int64).tolist())
        rows[reader] = {"delivered": c.delivered, "unique": c.unique, "duplicated": c.duplicated}
    every = [int(i) for ids in ids_by_reader.values() for i in np.asarray(ids).ravel()]
    total = counts(every, n)
    rows["total"] = {
        "delivered": total.delivered,
        "unique": total.unique,
        "duplicated": total.duplicated,
        "missing": total.missing,
    }
    return rows


def counts_table(rows: dict[Any, dict[str, int]], reader: str = "reader") -> str:
    """:func:`id_counts` as aligned text, one line per reader and the total last."""
    head = f"{reader:<18} delivered  unique  duplicated  missing"
    lines = [head]
    for who, r in rows.items():
        missing = r.get("missing", "")
        counts = f"{r['delivered']:>9,} {r['unique']:>7,} {r['duplicated']:>11,}"
        lines.append(f"{who!s:<18} {counts} {missing!s:>8}")
    return "\n".join(lines)


def exactly_once(rows: dict[Any, dict[str, int]], n: int) -> bool:
    """True when the total delivered every id ``0 .. n-1`` once."""
    t = rows["total"]
    return t["delivered"] == n and t["unique"] == n and t["duplicated"] == 0 and t["missing"] == 0


# --------------------------------------------------------------------------- WebDataset
def decode_sample(sample: dict) -> tuple[np.ndarray, int, int]:
    """A tar sample -> ``(x, label, id)``: the signal read with ``np.load`` (never
    pickles), the label from text, the id from the key. A sample missing a member (its
    shard was cut inside it) raises ``ValueError`` naming the shard."""
    missing = sorted({"x.npy", "cls"} - sample.keys())
    if missing:
        shard, key = Path(sample.get("__url__", "?")).name, sample.get("__key__")
        raise ValueError(f"{shard}: sample {key} has no {', '.join(missing)}: truncated?")
    x = np.load(io.BytesIO(sample["x.npy"]), allow_pickle=False)
    return x, int(sample["cls"]), int(sample["__key__"])


def collate(samples: list[tuple[np.ndarray, int, int]]) -> tuple[torch.Tensor, ...]:
    """Samples from :func:`decode_sample` -> ``(x, y, ids, worker)`` tensors."""
    x = torch.from_numpy(np.stack([s[0] for s in samples]))
    y = torch.tensor([s[1] for s in samples])
    ids = torch.tensor([s[2] for s in samples])
    return x, y, ids, torch.tensor([worker_id()])


def check_counts(expected: dict[str, int]) -> Callable[[Iterable[dict]], Iterator[dict]]:
    """A pipeline stage: passes samples through and raises ``ValueError`` naming the
    shard if a shard ends with fewer (or more) samples than ``expected`` says.
    A tar cut exactly between two members looks complete to ``tarfile``; this does not."""
    return _CountChecker(expected)


class _CountChecker:
    def __init__(self, expected: dict[str, int]) -> None:
        self.expected = expected

    def _check(self, url: str | None, seen: int) -> None:
        if url is None:
            return
        name = Path(url).name
        want = self.expected.get(name)
        if want is None:
            raise ValueError(f"{name}: not in the manifest")
        if seen != want:
            raise ValueError(f"{name}: {seen} samples, the manifest says {want}: truncated?")

    def __call__(self, samples: Iterable[dict]) -> Iterator[dict]:
        url, seen = None, 0
        for sample in samples:
            if sample["__url__"] != url:
                self._check(url, seen)
                url, seen = sample["__url__"], 0
            seen += 1
            yield sample
        self._check(url, seen)


def wds_dataset(
    shards: Sequence[str | os.PathLike],
    *,
    batch_size: int,
    shuffle_shards: bool = False,
    buffer: int = 0,
    seed: int = 0,
    nodesplitter: Callable | None | str = "split_by_node",
    expected: dict[str, int] | None = None,
    handler: Callable[[Exception], bool] | None = None,
) -> Any:
    """A WebDataset over tar ``shards`` yielding ``(x, y, ids, worker)`` batches.

    Shards are split by rank (``nodesplitter``: ``"split_by_node"``, ``"default"`` for
    WebDataset's own default, which refuses to run on several ranks, or ``None``: no
    split at all), then by ``DataLoader`` worker. ``shuffle_shards`` shuffles the shard
    order (per epoch, seeded); ``buffer`` > 1 shuffles samples through a buffer of that
    many. Errors re-raise (``handler=wds.reraise_exception``, unless another
    ``handler`` is given: it then handles reading and decoding errors alike);
    ``expected`` (the manifest) checks each shard's sample count."""
    import webdataset as wds

    urls = [str(s) for s in shards]
    splitter = {"split_by_node": wds.split_by_node, "default": wds.single_node_only}.get(
        nodesplitter, nodesplitter
    )
    ds = wds.WebDataset(
        urls,
        shardshuffle=len(urls) if shuffle_shards else False,
        detshuffle=True,  # seeded and different every epoch
        seed=seed,
        nodesplitter=splitter,
        workersplitter=wds.split_by_worker,
        handler=handler or wds.reraise_exception,
        empty_check=False,
    )
    if expected is not None:
        ds = ds.compose(check_counts(expected))
    if buffer > 1:
        ds = ds.shuffle(buffer, initial=buffer, seed=seed)
    ds = ds.map(decode_sample, handler=handler or wds.reraise_exception)
    return ds.batched(batch_size, collation_fn=collate, partial=True)


@contextlib.contextmanager
def simulated_rank(rank: int, world_size: int) -> Iterator[None]:
    """Set ``RANK`` and ``WORLD_SIZE`` as a launcher would (WebDataset reads them before
    asking ``torch.distributed``), and restore the environment afterwards. Workers
    started inside inherit them (``fork`` and ``spawn`` both copy the environment)."""
    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")}
    os.environ["RANK"], os.environ["WORLD_SIZE"] = str(rank), str(world_size)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- TFRecord
def tfrecord_count(path: str | os.PathLike) -> int:
    """Count the records of a TFRecord file by walking its length headers (no payload
    is read). Raises ``ValueError`` naming the file where a record runs past its end.

    Each record: ``uint64`` length, ``uint32`` CRC of the length, the data, ``uint32``
    CRC of the data (the CRCs are checked by TensorFlow when it reads)."""
    path = Path(path)
    size, count, offset = path.stat().st_size, 0, 0
    with open(path, "rb") as f:
        while offset < size:
            header = f.read(12)
            if len(header) < 12:
                raise ValueError(f"{path.name}: truncated: record {count}'s header cut short")
            (length,) = struct.unpack("<Q", header[:8])
            end = offset + 12 + length + 4
            if end > size:
                raise ValueError(
                    f"{path.name}: truncated: record {count} needs bytes up to {end:,}, "
                    f"the file has {size:,}"
                )
            f.seek(end)
            offset, count = end, count + 1
    return count


def check_tfrecords(paths: Sequence[str | os.PathLike], expected: dict[str, int]) -> int:
    """Check every shard's record count against the manifest; total records. Raises
    ``ValueError`` naming the first shard that is cut short or holds the wrong count."""
    total = 0
    for p in paths:
        got, want = tfrecord_count(p), expected.get(Path(p).name)
        if got != want:
            raise ValueError(f"{Path(p).name}: {got} records, the manifest says {want}: truncated?")
        total += got
    return total


def tf_dataset(
    paths: Sequence[str | os.PathLike],
    kind: str,
    *,
    batch_size: int,
    length: int,
    shuffle_shards: bool = False,
    buffer: int = 0,
    parallel: int = 0,
    seed: int = 0,
) -> Any:
    """A ``tf.data`` pipeline over TFRecord shards yielding ``(x, y, ids)`` batches,
    ``x`` float32 ``(batch, 1, length)``.

    ``shuffle_shards`` shuffles the file order every epoch; ``buffer`` > 1 shuffles
    records through a buffer; ``parallel`` files are read at once and records decoded
    on as many threads (0: one file after another, decoded in line). ``kind``:
    ``"example"`` is parsed a whole batch at a time (``tf.io.parse_example``);
    ``"tensor"`` record by record (``tf.io.parse_tensor``)."""
    import tensorflow as tf

    files = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    if shuffle_shards:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=parallel or None)
    if buffer > 1:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    calls = parallel or None
    if kind == "example":
        spec = {
            "id": tf.io.FixedLenFeature([], tf.int64),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "x": tf.io.FixedLenFeature([length], tf.float32),
        }

        def parse_batch(records):
            f = tf.io.parse_example(records, spec)
            return tf.reshape(f["x"], (-1, 1, length)), f["label"], f["id"]

        ds = ds.batch(batch_size).map(parse_batch, num_parallel_calls=calls)
    elif kind == "tensor":

        def parse_one(record):
            row = tf.io.parse_tensor(record, tf.float32)
            row = tf.ensure_shape(row, (length + 2,))
            label, ids = tf.cast(row[1], tf.int64), tf.cast(row[0], tf.int64)
            return tf.reshape(row[2:], (1, length)), label, ids

        ds = ds.map(parse_one, num_parallel_calls=calls).batch(batch_size)
    else:
        raise ValueError(f"kind must be 'example' or 'tensor', got {kind!r}")
    return ds.prefetch(2)


def files_per_reader(paths: Sequence[str | os.PathLike], readers: int) -> dict[int, list[str]]:
    """Which files each of ``readers`` gets when a file list is sharded by reader
    (``files.shard(readers, i)``: file ``k`` goes to reader ``k % readers``)."""
    return {r: [Path(p).name for p in paths[r::readers]] for r in range(readers)}


# --------------------------------------------------------------------------- shuffling
def shard_shuffle_order(n: int, num_shards: int, buffer_size: int, seed: int = 0) -> np.ndarray:
    """The order ids ``0 .. n-1`` come out of a sharded stream: shards (contiguous id
    ranges) read in a random order, samples then mixed by a shuffle buffer of
    ``buffer_size`` (``helpers.streams.shuffle_buffer``, notebook 02's)."""
    rng = np.random.default_rng(seed)
    ranges = shard_ranges(n, num_shards)
    stream = (i for s in rng.permutation(num_shards) for i in ranges[s])
    return np.fromiter(shuffle_buffer(stream, buffer_size, rng), dtype=np.int64, count=n)


def mixing_stats(order: np.ndarray, batch_size: int, num_shards: int = 1) -> dict[str, float]:
    """Notebook 02's measures of how well an epoch ``order`` (a permutation of ids) is
    mixed: correlation of id with position (1: file order; near 0: mixed), mean
    distance moved, how far into the file the first batch reaches (share of ``n``),
    and how many of ``num_shards`` contiguous shards a batch draws from, on average."""
    order = np.asarray(order)
    n = len(order)
    if not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("order must hold every id 0 .. n-1 exactly once")
    positions = np.arange(n)
    shard_of = np.searchsorted([r.stop for r in shard_ranges(n, num_shards)], order, side="right")
    batches = [shard_of[i : i + batch_size] for i in range(0, n, batch_size)]
    return {
        "correlation": float(np.corrcoef(positions, order)[0, 1]) if n > 1 else 1.0,
        "moved": float(np.abs(order - positions).mean()),
        "first batch reaches": float((order[:batch_size].max() + 1) / n),
        "shards per batch": float(np.mean([len(np.unique(b)) for b in batches])),
    }


# --------------------------------------------------------------------------- sizing
@dataclass
class ShardPlan:
    """How to cut ``dataset_mb`` into shards for ``readers`` readers."""

    dataset_mb: float
    readers: int
    target_mb: float
    shards: int
    mb_per_shard: float
    shards_per_reader: float
    notes: tuple[str, ...]

    def summary(self) -> str:
        line = (
            f"{self.dataset_mb:,.0f} MB, {self.readers} readers, target {self.target_mb:g} MB: "
            f"{self.shards:,} shards of {self.mb_per_shard:,.1f} MB, "
            f"{self.shards_per_reader:g} per reader"
        )
        return line + "".join(f"\n    - {n}" for n in self.notes)


def shard_plan(
    dataset_mb: float,
    readers: int,
    target_mb: float = 100.0,
    *,
    min_per_reader: int = 10,
    min_shard_mb: float = 10.0,
) -> ShardPlan:
    """Shard count for ``dataset_mb`` MB read by ``readers`` readers (hosts, or
    ranks x workers), aiming at shards of ``target_mb`` MB.

    The count is the dataset over the target, rounded up to a multiple of ``readers``
    (every reader gets the same number of shards) and raised to ``min_per_reader`` per
    reader as long as shards stay at least ``min_shard_mb``. Notes say which rule of
    thumb (TensorFlow's TFRecord guide: 10+ files per host, 10 MB+ each, ideally
    100 MB+) the plan breaks, if any: a small dataset cannot satisfy both."""
    if dataset_mb <= 0 or target_mb <= 0 or readers < 1:
        raise ValueError(
            "need dataset_mb > 0, target_mb > 0, readers >= 1; "
            f"got {dataset_mb}, {target_mb}, {readers}"
        )
    shards = max(1, math.ceil(dataset_mb / target_mb))
    shards = math.ceil(shards / readers) * readers
    wanted = readers * min_per_reader
    if shards < wanted and dataset_mb / wanted >= min_shard_mb:
        shards = wanted
    per_shard = dataset_mb / shards
    notes = []
    if shards < wanted:
        notes.append(
            f"{shards // readers} shard(s) per reader, under {min_per_reader}: "
            f"{wanted} shards would be {dataset_mb / wanted:.1f} MB each, under {min_shard_mb:g} MB"
        )
    if per_shard < min_shard_mb:
        notes.append(f"{per_shard:.1f} MB per shard, under {min_shard_mb:g} MB")
    per_reader = shards / readers
    return ShardPlan(dataset_mb, readers, target_mb, shards, per_shard, per_reader, tuple(notes))


# --------------------------------------------------------------------------- bad files
def truncate_copy(src: str | os.PathLike, dst: str | os.PathLike, keep: int) -> Path:
    """Copy the first ``keep`` bytes of ``src`` to ``dst`` (an interrupted copy); makes
    ``dst``'s folder if needed."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(Path(src).read_bytes()[:keep])
    return dst


def tar_member_boundary(path: str | os.PathLike, member: int) -> int:
    """The byte offset where member ``member`` of a tar file starts (cut there, the tar
    still reads as a complete, shorter archive)."""
    with tarfile.open(path) as tar:
        return tar.getmembers()[member].offset


def tfrecord_boundary(path: str | os.PathLike, record: int) -> int:
    """The byte offset where record ``record`` of a TFRecord file starts, from its length
    headers (cut there, the file still reads as complete, with ``record`` records)."""
    offset = 0
    with open(path, "rb") as f:
        for k in range(record):
            header = f.read(12)
            if len(header) < 12:
                raise ValueError(f"{Path(path).name}: has {k} records, not {record}")
            offset += 12 + struct.unpack("<Q", header[:8])[0] + 4
            f.seek(offset)
    return offset


def corrupt_copy(src: str | os.PathLike, dst: str | os.PathLike, at: int, size: int = 64) -> Path:
    """Copy ``src`` to ``dst`` with ``size`` bytes from ``at`` overwritten (bit rot)."""
    blob = bytearray(Path(src).read_bytes())
    blob[at : at + size] = bytes(size)
    dst = Path(dst)
    dst.write_bytes(bytes(blob))
    return dst


def step_bases(run: Any, control: Any) -> str:
    """Put a Keras run (``helpers.keras_cnn.KerasRun``) and its zero-wait control on
    the same two bases, in ms per step and samples/s: the **mean step** (what the
    data-wait estimate compares; the control's samples/s uses it too) and the **wall
    time per step** (what the run's samples/s divides by: the mean step plus the time
    outside the timed steps). Two lines of text."""
    if len(run.step_s) == 0 or control.step_s <= 0:
        raise ValueError("need a run with steps and a control with a mean step > 0")
    batch = control.batch_size
    mean_ms, ctrl_ms = float(np.mean(run.step_s)) * 1e3, control.step_s * 1e3
    wall_ms = run.elapsed_s / len(run.step_s) * 1e3
    share = max(0.0, 1.0 - ctrl_ms / mean_ms)
    return (
        f"mean step (the wait estimate's basis): {mean_ms:.2f} ms ({batch / mean_ms * 1e3:,.0f}"
        f" samples/s) vs control {ctrl_ms:.2f} ms ({batch / ctrl_ms * 1e3:,.0f} samples/s): "
        f"share beyond the control {share:.1%}, noise floor ±{abs(control.own_wait_share):.1%}\n"
        f"wall time per step (the samples/s basis): {wall_ms:.2f} ms "
        f"({batch / wall_ms * 1e3:,.0f} samples/s) = mean step + {wall_ms - mean_ms:.2f} ms "
        "outside the timed steps"
    )


def error_text(e: BaseException, *folders: str | os.PathLike) -> str:
    """``"TypeName: message"``, first line only, with ``folders`` cut from any path (so
    the text is the same on every machine)."""
    message = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    for folder in folders:
        message = message.replace(f"{Path(folder)}{os.sep}", "")
    return message


def tf_error_text(e: BaseException) -> str:
    """``"TypeName: message"`` for a TensorFlow error, first line only, without the
    ``{{function_node ...}}`` prefix eager iteration adds, the empty trailing ``name:``,
    and the unmatched quote of TensorFlow's "truncated record at N' failed with"."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*name:\s*$", "", text)
    if text.count("'") == 1:  # a lone quote pairs with nothing: drop it
        text = text.replace("'", "")
    return f"{type(e).__name__}: {text}"


def verify_batches(batches: Iterable[Sequence[Any]], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Check batches ``(x, y, ids, ...)`` against the arrays that were written: every
    signal and label equal to ``X[ids]`` and ``y[ids]``. Returns all ids, in order;
    raises ``AssertionError`` naming the first batch that differs."""
    ids = []
    for k, batch in enumerate(batches):
        xb, yb, ib = (np.asarray(b) for b in batch[:3])
        if xb.shape != (len(ib), *X.shape[1:]):
            want = (len(ib), *X.shape[1:])
            raise AssertionError(f"batch {k}: x has shape {xb.shape}, expected {want}")
        if not (np.array_equal(xb, X[ib]) and np.array_equal(yb, y[ib])):
            raise AssertionError(f"batch {k}: values differ from what was written")
        ids.append(ib)
    return np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
