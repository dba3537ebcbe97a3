"""helpers/shards.py (notebook 09): writers and readers of every format, exactly-once
delivery with 0 and 2 DataLoader workers and 2 simulated ranks, the errors that name the
file, the shuffle simulation and the shard calculator. TensorFlow tests come last."""

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from helpers import data, shards
from helpers.source import _where

N, LENGTH, SHARDS, BATCH = 512, 16, 4, 32


@pytest.fixture(scope="module")
def arrays():
    return data.make_signals(N, LENGTH, 3, seed=2)


@pytest.fixture(scope="module")
def files(arrays, tmp_path_factory):
    X, y = arrays
    root = tmp_path_factory.mktemp("shards")
    return {
        "root": root,
        "npy": shards.write_npy(root / "npy", X, y),
        "h5": shards.write_hdf5(root / "h5" / "c.h5", X, y),
        "h5z": shards.write_hdf5(root / "h5" / "z.h5", X, y, chunk_rows=16, compression="gzip"),
        "wds": shards.write_wds_shards(root / "wds", X, y, SHARDS),
    }


def _ids(outcome):
    assert outcome.ok, outcome.error
    return outcome.ids_by_worker


# --------------------------------------------------------------------------- writing
def test_writers_record_paths_sizes_and_manifest(files):
    assert [p.name for p in files["npy"].paths] == ["X.npy", "y.npy"]
    assert files["wds"].mb > 0 and files["h5z"].write_s >= 0
    assert shards.read_manifest(files["root"] / "wds") == {
        f"shard-{s:05d}.tar": N // SHARDS for s in range(SHARDS)
    }
    assert len(shards.shard_paths(files["wds"])) == SHARDS


def test_shard_ranges_cover_every_id_once():
    ranges = shards.shard_ranges(10, 3)
    assert [i for r in ranges for i in r] == list(range(10))
    with pytest.raises(ValueError, match="num_shards"):
        shards.shard_ranges(3, 4)


# --------------------------------------------------------------------------- map-style
@pytest.mark.parametrize("workers", [0, 2])
def test_any_format_loader_exactly_once_and_equal(files, arrays, workers):
    X, y = arrays
    root = files["root"]
    ds = shards.AnyFormat(
        {
            "npy": shards.NpyBatches(root / "npy" / "X.npy", root / "npy" / "y.npy"),
            "h5": shards.H5Batches(root / "h5" / "c.h5"),
            "h5z": shards.H5Batches(root / "h5" / "z.h5"),
            "memory": shards.InMemoryBatches(X, y),
        }
    )
    plan = shards.EpochPlan(N, BATCH, seed=0)
    loader = DataLoader(
        ds, sampler=plan, batch_size=None, num_workers=workers, persistent_workers=workers > 0
    )
    orders = []
    for name in ("npy", "h5", "h5z", "memory"):
        for shuffled in (False, True):
            plan.name, plan.shuffled = name, shuffled
            ids = shards.verify_batches(list(loader), X, y)
            assert np.array_equal(np.sort(ids), np.arange(N)), (name, shuffled)
            assert np.array_equal(ids, np.arange(N)) != shuffled  # file order iff sequential
            orders.append(ids)
    assert not np.array_equal(orders[1], orders[3])  # a fresh permutation every epoch


def test_lazy_h5_pickles_as_a_path_and_eager_does_not_pickle(files):
    path = files["root"] / "h5" / "z.h5"
    lazy = shards.H5Batches(path)
    _ = lazy[[0, 1]]  # opens the file
    assert lazy.file is not None
    copy = pickle.loads(pickle.dumps(lazy))
    assert copy.file is None and copy.n == N and len(pickle.dumps(lazy)) < 1000
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(shards.EagerH5Batches(path))


@pytest.mark.parametrize("workers", [0, 2])
def test_lazy_h5_exactly_once_with_workers(files, workers):
    outcome = shards.h5_worker_epoch(
        shards.H5Batches(files["root"] / "h5" / "z.h5"),
        num_workers=workers,
        context=None,
        batch_size=BATCH,
    )
    rows = shards.id_counts(_ids(outcome), N)
    assert outcome.values_ok and shards.exactly_once(rows, N)
    assert len(outcome.ids_by_worker) == max(workers, 1)


def test_lazy_h5_under_spawn_and_eager_h5_fails_there(files):
    path = files["root"] / "h5" / "c.h5"
    lazy = shards.h5_worker_epoch(
        shards.H5Batches(path), num_workers=2, context="spawn", batch_size=BATCH
    )
    assert shards.exactly_once(shards.id_counts(_ids(lazy), N), N)
    eager = shards.h5_worker_epoch(
        shards.EagerH5Batches(path), num_workers=2, context="spawn", batch_size=BATCH
    )
    assert not eager.ok and "cannot be pickled" in eager.error


# --------------------------------------------------------------------------- WebDataset
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("shuffled", [False, True])
def test_wds_exactly_once_and_equal(files, arrays, workers, shuffled):
    X, y = arrays
    ds = shards.wds_dataset(
        shards.shard_paths(files["wds"]),
        batch_size=BATCH,
        shuffle_shards=shuffled,
        buffer=100 if shuffled else 0,
        expected=shards.read_manifest(files["root"] / "wds"),
    )
    batches = list(DataLoader(ds, batch_size=None, num_workers=workers))
    ids = shards.verify_batches(batches, X, y)
    assert np.array_equal(np.sort(ids), np.arange(N))
    assert np.array_equal(ids, np.arange(N)) == (not shuffled and workers == 0)
    assert {int(b[3][0]) for b in batches} == ({-1} if workers == 0 else {0, 1})


def test_wds_pipeline_pickles(files):
    ds = shards.wds_dataset(shards.shard_paths(files["wds"]), batch_size=BATCH, buffer=10)
    assert pickle.loads(pickle.dumps(ds)) is not None


def _rank_counts(files, nodesplitter, workers):
    by_reader = {}
    for rank in range(2):
        with shards.simulated_rank(rank, 2):
            ds = shards.wds_dataset(
                shards.shard_paths(files["wds"]), batch_size=BATCH, nodesplitter=nodesplitter
            )
            outcome = shards.epoch_ids(DataLoader(ds, batch_size=None, num_workers=workers))
        for w, ids in _ids(outcome).items():
            by_reader[(rank, w)] = ids
    return shards.id_counts(by_reader, N)


def test_two_ranks_two_workers_split_exactly_once(files):
    rows = _rank_counts(files, "split_by_node", workers=2)
    assert shards.exactly_once(rows, N) and len(rows) == 5
    assert all(r["delivered"] == N // 4 for k, r in rows.items() if k != "total")


def test_two_ranks_without_a_splitter_raise_or_duplicate(files):
    with shards.simulated_rank(0, 2), pytest.raises(ValueError, match="nodesplitter"):
        next(iter(shards.wds_dataset(shards.shard_paths(files["wds"]), batch_size=BATCH,
                                     nodesplitter="default")))  # fmt: skip
    rows = _rank_counts(files, None, workers=0)
    assert rows["total"]["duplicated"] == N and rows["total"]["missing"] == 0


def test_simulated_rank_restores_the_environment():
    before = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")}
    with shards.simulated_rank(1, 2):
        assert os.environ["RANK"] == "1" and os.environ["WORLD_SIZE"] == "2"
    assert {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")} == before


# --------------------------------------------------------------------------- bad input
def test_truncated_tar_errors_name_the_shard(files, tmp_path):
    good = shards.shard_paths(files["wds"])[1]
    want = shards.read_manifest(files["root"] / "wds")[good.name]
    with tarfile.open(good) as tar:
        members = tar.getmembers()  # per sample: .cls, then .x.npy
    cases = {  # where the cut falls -> what WebDataset alone does
        "in data": (members[41].offset_data + 10, "ReadError"),
        "inside a sample": (members[41].offset, "ValueError"),  # .cls kept, .x.npy lost
        "between samples": (members[40].offset, None),  # a complete, shorter archive
    }
    for name, (cut, error) in cases.items():
        path = shards.truncate_copy(good, tmp_path / "cut.tar", cut)
        alone = shards.epoch_ids(shards.wds_dataset([path], batch_size=BATCH))
        if error is None:
            assert alone.ok and sum(len(v) for v in alone.ids_by_worker.values()) == 20, name
        else:
            assert alone.error.startswith(error) and "cut.tar" in alone.error, (name, alone.error)
        checked = shards.epoch_ids(
            shards.wds_dataset([path], batch_size=BATCH, expected={"cut.tar": want})
        )
        assert not checked.ok and "cut.tar" in checked.error, name


def test_count_check_passes_whole_shards_and_rejects_unknown_ones():
    check = shards.check_counts({"a.tar": 2})
    samples = [{"__url__": "/x/a.tar"}, {"__url__": "/x/a.tar"}]
    assert list(check(iter(samples))) == samples
    with pytest.raises(ValueError, match="b.tar: not in the manifest"):
        list(check(iter([{"__url__": "/x/b.tar"}])))


def test_bad_hdf5_files_are_named(files, tmp_path):
    src = files["root"] / "h5" / "z.h5"
    cut = shards.truncate_copy(src, tmp_path / "cut.h5", src.stat().st_size // 2)
    with pytest.raises(ValueError, match="cut.h5: not a readable HDF5 file"):
        shards.H5Batches(cut)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        shards.check_hdf5(tmp_path / "missing.h5")
    import h5py

    with h5py.File(src, "r") as f:
        offset = f["x"].id.get_chunk_info(3).byte_offset
    rot = shards.corrupt_copy(src, tmp_path / "rot.h5", offset + 8)
    ds = shards.H5Batches(rot)
    _ = ds[list(range(16))]  # chunk 0 is intact
    with pytest.raises(ValueError, match="rot.h5: cannot read rows 48..63"):
        ds[list(range(48, 64))]


def test_verify_batches_catches_wrong_values(arrays):
    X, y = arrays
    ids = np.array([3, 4])
    good = (X[ids], y[ids], ids)
    assert list(shards.verify_batches([good], X, y)) == [3, 4]
    with pytest.raises(AssertionError, match="batch 0: values differ"):
        shards.verify_batches([(X[ids] + 1, y[ids], ids)], X, y)


# --------------------------------------------------------------------------- counting
def test_id_counts_finds_duplicates_and_missing():
    rows = shards.id_counts({"a": np.array([0, 1, 1]), "b": np.array([1, 2])}, 5)
    assert rows["a"] == {"delivered": 3, "unique": 2, "duplicated": 1}
    assert rows["total"] == {"delivered": 5, "unique": 3, "duplicated": 2, "missing": 2}
    assert not shards.exactly_once(rows, 5)
    assert shards.exactly_once(shards.id_counts({"a": np.arange(4)}, 4), 4)
    assert "missing" in shards.counts_table(rows)


# --------------------------------------------------------------------------- shuffling
def test_shard_shuffle_order_is_a_permutation_and_one_shard_buffer_one_is_identity():
    order = shards.shard_shuffle_order(1000, 10, 50, seed=3)
    assert np.array_equal(np.sort(order), np.arange(1000))
    assert np.array_equal(shards.shard_shuffle_order(100, 1, 1), np.arange(100))
    # with a buffer of 1, shards come whole, in a shuffled order
    orders = [shards.shard_shuffle_order(100, 4, 1, seed=s) for s in range(5)]
    for order in orders:
        position = np.argsort(order)  # where each id was delivered
        for shard in shards.shard_ranges(100, 4):
            assert (np.diff(position[shard.start : shard.stop]) == 1).all()
    assert any(not np.array_equal(o, np.arange(100)) for o in orders)


def test_mixing_stats():
    same = shards.mixing_stats(np.arange(256), 32, num_shards=8)
    assert same == {
        "correlation": pytest.approx(1.0),
        "moved": 0.0,
        "first batch reaches": 32 / 256,
        "shards per batch": 1.0,
    }
    mixed = shards.mixing_stats(np.random.default_rng(0).permutation(256), 32, num_shards=8)
    assert abs(mixed["correlation"]) < 0.2 and mixed["shards per batch"] > 6
    with pytest.raises(ValueError, match="exactly once"):
        shards.mixing_stats(np.array([0, 0, 1]), 2)


# --------------------------------------------------------------------------- sizing
def test_shard_plan():
    big = shards.shard_plan(100_000, readers=8, target_mb=100)
    assert (big.shards, big.mb_per_shard, big.shards_per_reader, big.notes) == (1000, 100, 125, ())
    raised = shards.shard_plan(1_000, readers=4, target_mb=500)  # 2 shards -> 40 of 25 MB
    assert raised.shards == 40 and raised.shards_per_reader == 10 and not raised.notes
    small = shards.shard_plan(2_000, readers=64, target_mb=100)
    assert small.shards == 64 and small.shards_per_reader == 1 and "under 10" in small.notes[0]
    assert "per reader" in small.summary()
    with pytest.raises(ValueError, match="readers >= 1"):
        shards.shard_plan(10, readers=0)


# --------------------------------------------------------------------------- misc
def test_show_source_names_installed_packages_without_machine_paths():
    where = _where(Path("/any/env/lib/python3.11/site-packages/webdataset/utils.py"))
    assert where == Path("webdataset/utils.py")
    assert _where(Path("/elsewhere/mod.py")) == Path("mod.py")


def test_error_text_cuts_folders(tmp_path):
    e = ValueError(f"{tmp_path / 'x.tar'}: broken\nmore")
    assert shards.error_text(e, tmp_path) == "ValueError: x.tar: broken"


def test_tf_error_text_strips_prefix_suffix_and_lone_quote():
    class DataLossError(Exception):
        pass

    raw = (
        "{{function_node __wrapped__IteratorGetNext_output_types_1_device_/job:localhost/"
        "replica:0/task:0/device:CPU:0}} truncated record at 1160' failed with Read less "
        "bytes than requested [Op:IteratorGetNext] name: "
    )
    assert shards.tf_error_text(DataLossError(raw)) == (
        "DataLossError: truncated record at 1160 failed with Read less bytes than requested "
        "[Op:IteratorGetNext]"
    )
    kept = shards.tf_error_text(ValueError("name: 'x' is bad"))  # paired quotes stay
    assert kept == "ValueError: name: 'x' is bad"


# --------------------------------------------------------------------------- TFRecord (imports TF)
@pytest.fixture(scope="module")
def tfrecords(arrays, tmp_path_factory):
    X, y = arrays
    root = tmp_path_factory.mktemp("tfrecord")
    return {
        kind: shards.write_tfrecords(root / kind, X, y, SHARDS, kind)
        for kind in ("example", "tensor")
    }


@pytest.mark.parametrize("kind", ["example", "tensor"])
@pytest.mark.parametrize("parallel", [0, 2])
def test_tfrecord_exactly_once_and_equal(tfrecords, arrays, kind, parallel):
    X, y = arrays
    paths = shards.shard_paths(tfrecords[kind])
    assert shards.check_tfrecords(paths, shards.read_manifest(paths[0].parent)) == N
    for shuffled in (False, True):
        ds = shards.tf_dataset(
            paths,
            kind,
            batch_size=BATCH,
            length=LENGTH,
            shuffle_shards=shuffled,
            buffer=64 if shuffled else 0,
            parallel=parallel,
        )
        ids = shards.verify_batches([[t.numpy() for t in b] for b in ds], X, y)
        assert np.array_equal(np.sort(ids), np.arange(N))
        if not shuffled and parallel == 0:
            assert np.array_equal(ids, np.arange(N))


def test_truncated_tfrecord_is_named(tfrecords, tmp_path):
    src = shards.shard_paths(tfrecords["example"])[0]
    cut = shards.truncate_copy(src, tmp_path / "cut.tfrecord", src.stat().st_size - 10)
    with pytest.raises(ValueError, match="cut.tfrecord: truncated"):
        shards.tfrecord_count(cut)
    whole = shards.tfrecord_count(src)
    assert shards.tfrecord_boundary(src, 0) == 0
    assert shards.tfrecord_boundary(src, whole) == src.stat().st_size
    with pytest.raises(ValueError, match=f"has {whole} records, not {whole + 1}"):
        shards.tfrecord_boundary(src, whole + 1)
    at = shards.tfrecord_boundary(src, 3)
    boundary = shards.truncate_copy(src, tmp_path / "new" / "b.tfrecord", at)
    assert shards.tfrecord_count(boundary) == 3  # complete records: only a count can tell
    with pytest.raises(ValueError, match="b.tfrecord: 3 records, the manifest says"):
        shards.check_tfrecords([boundary], {"b.tfrecord": whole})


def test_tensor_record_refuses_ids_float32_cannot_hold():
    with pytest.raises(ValueError, match="not exact in float32"):
        shards.tensor_record(2**24, np.zeros(4, np.float32), 0)


def test_files_per_reader():
    got = shards.files_per_reader(["a", "b"], 4)
    assert got == {0: ["a"], 1: ["b"], 2: [], 3: []}


def test_step_bases_puts_run_and_control_on_one_basis():
    from types import SimpleNamespace

    run = SimpleNamespace(step_s=np.array([0.002, 0.003]), elapsed_s=0.006)
    control = SimpleNamespace(step_s=0.002, own_wait_share=-0.1, batch_size=64)
    text = shards.step_bases(run, control)
    assert "mean step (the wait estimate's basis): 2.50 ms (25,600 samples/s)" in text
    assert "vs control 2.00 ms (32,000 samples/s)" in text
    assert "share beyond the control 20.0%, noise floor ±10.0%" in text
    assert "3.00 ms (21,333 samples/s) = mean step + 0.50 ms outside" in text
    with pytest.raises(ValueError, match="need a run with steps"):
        shards.step_bases(SimpleNamespace(step_s=np.array([]), elapsed_s=1.0), control)
