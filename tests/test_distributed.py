"""Unit tests of helpers/distributed.py and the rank functions of helpers/distributed_ranks.py
(notebook 07). No timing assertions; the torchrun launch is tested on its error path."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from helpers import distributed
from helpers.distributed import (
    AllIds,
    IdDataset,
    RankShardedIds,
    ShardedIds,
    UnpaddedSampler,
    counts,
    plan,
)
from helpers.distributed_ranks import epoch_orders, exact_mean, join_training, sampler_ids


def stream(dataset, num_workers=0, context=None):
    loader = DataLoader(
        dataset, batch_size=7, num_workers=num_workers, multiprocessing_context=context
    )
    ids, workers = [], []
    for batch_ids, batch_workers in loader:
        ids += batch_ids.tolist()
        workers += batch_workers.tolist()
    return ids, workers


# --------------------------------------------------------------------------- counting
def test_counts_exactly_once_duplicates_and_missing():
    assert counts([0, 1, 2], 3).exactly_once
    c = counts([0, 0, 1], 4)
    assert (c.delivered, c.unique, c.duplicated, c.missing) == (3, 2, 1, 2)
    assert not c.exactly_once
    assert counts([5, 5]).missing is None


def test_counts_names_ids_outside_the_dataset():
    with pytest.raises(ValueError, match=r"outside 0..2: \[3, 7\]"):
        counts([0, 3, 7], 3)


def test_count_table_total_line():
    table = distributed.count_table({"rank 0": [0, 1], "rank 1": [1]}, 3, "demo")
    lines = table.splitlines()
    assert lines[0] == "demo"
    assert lines[-1].split() == ["total", "3", "2", "1", "1"]


def test_times_delivered():
    assert distributed.times_delivered([0, 0, 1, 1, 2]) == {1: 1, 2: 2}


# --------------------------------------------------------------------------- datasets
def test_id_dataset_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least one sample"):
        IdDataset(0)
    with pytest.raises(IndexError, match="outside 0..4"):
        IdDataset(5)[5]


@pytest.mark.parametrize("n", [1, 10, 101])
def test_sharded_ids_exactly_once_without_workers(n):
    ids = []
    for rank in range(2):
        got, workers = stream(ShardedIds(n, rank=rank, world_size=2))
        assert set(workers) <= {0}
        ids += got
    assert counts(ids, n).exactly_once


def test_sharded_ids_exactly_once_with_two_spawned_workers():
    """Spawn imports the dataset afresh in each worker: it must be importable."""
    spawn = multiprocessing.get_context("spawn")
    ids = []
    for rank in range(2):
        got, workers = stream(ShardedIds(101, rank=rank, world_size=2), 2, spawn)
        assert set(workers) == {0, 1}
        ids += got
    assert counts(ids, 101).exactly_once


def test_broken_streams_duplicate_with_two_workers():
    rank_only = [i for r in range(2) for i in stream(RankShardedIds(50, r, 2), 2)[0]]
    unsharded = [i for r in range(2) for i in stream(AllIds(50, r, 2), 2)[0]]
    assert distributed.times_delivered(rank_only) == {2: 50}
    assert distributed.times_delivered(unsharded) == {4: 50}


def test_global_worker_without_workers():
    assert distributed.global_worker(1, 2) == (1, 2)


@pytest.mark.parametrize("obj", [IdDataset(3), ShardedIds(3), RankShardedIds(3), AllIds(3)])
def test_what_workers_receive_pickles(obj):
    assert type(pickle.loads(pickle.dumps(obj))) is type(obj)


def test_unpadded_sampler_exactly_once():
    for n in (1, 7, 10):
        for world in (1, 2, 3, 4):
            ids = [i for rank in range(world) for i in UnpaddedSampler(n, rank, world)]
            assert counts(ids, n).exactly_once, (n, world)
    assert len(UnpaddedSampler(7, 0, 2)) == 4
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        UnpaddedSampler(7, 2, 2)
    assert isinstance(pickle.loads(pickle.dumps(UnpaddedSampler(7, 0, 2))), UnpaddedSampler)


# --------------------------------------------------------------------------- rank functions
def test_distributed_sampler_pads_or_drops():
    padded = sampler_ids(5, 0, 2) + sampler_ids(5, 1, 2)
    dropped = sampler_ids(5, 0, 2, drop_last=True) + sampler_ids(5, 1, 2, drop_last=True)
    assert (counts(padded, 5).duplicated, counts(padded, 5).missing) == (1, 0)
    assert (counts(dropped, 5).duplicated, counts(dropped, 5).missing) == (0, 1)


def test_epoch_orders_repeat_without_set_epoch():
    same = epoch_orders(12, 0, 2, 3, set_epoch=False)
    fresh = epoch_orders(12, 0, 2, 3, set_epoch=True)
    assert same[0] == same[1] == same[2]
    assert len({tuple(o) for o in fresh}) == 3


def test_exact_mean_on_a_one_rank_group(tmp_path):
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        values = torch.arange(10, dtype=torch.float64)
        assert exact_mean(values, [1, 2, 3]) == pytest.approx(2.0)
    finally:
        dist.destroy_process_group()


def test_join_training_trains_on_every_sample_once_on_a_one_rank_group(tmp_path):
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        out = join_training(11, 0, 1, batch=4)
    finally:
        dist.destroy_process_group()
    assert sorted(out["ids"]) == list(range(11)) and out["steps"] == 3
    assert len(out["weights"]) == 2


# --------------------------------------------------------------------------- processes
def test_stop_process_kills_the_whole_group():
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('up', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout.readline().strip() == "up"
    time.sleep(0.2)
    grandchildren = [p.pid for p in psutil.Process(proc.pid).children()]
    assert grandchildren
    distributed.stop_process(proc)
    assert proc.returncode is not None
    assert distributed.leftover([proc.pid, *grandchildren], children=False) == []


def test_leftover_finds_an_orphan_in_the_launch_session():
    # The child starts a grandchild and exits: the grandchild is no longer our child
    # (re-parented), but it is still in the session the launch started.
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(p.pid, flush=True)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    orphan = int(proc.stdout.readline())
    proc.wait()
    try:
        assert distributed.leftover([proc.pid], children=False, wait_s=0.1) == []
        found = distributed.leftover(children=False, wait_s=0.1, sessions=[proc.pid])
        assert [line.split()[0] for line in found] == [str(orphan)]
    finally:
        os.kill(orphan, signal.SIGKILL)
    assert distributed.leftover(children=False, sessions=[proc.pid]) == []


def test_launch_torchrun_failure_names_the_exit_code():
    before = set(distributed.leftover())  # e.g. multiprocessing's resource tracker
    with pytest.raises(RuntimeError, match=r"torchrun failed \(exit \d+\)"):
        distributed.launch_torchrun("helpers.no_such_module", [], nproc=1, timeout_s=120)
    assert set(distributed.leftover()) <= before


def test_read_ranks_missing_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no rank"):
        distributed.read_ranks(tmp_path)


def test_call_with_timeout():
    assert distributed.call_with_timeout(lambda: 3, 5) == 3
    with pytest.raises(ZeroDivisionError):
        distributed.call_with_timeout(lambda: 1 / 0, 5)
    with pytest.raises(TimeoutError):
        distributed.call_with_timeout(lambda: time.sleep(2), 0.1)


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::", False),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_is_loopback(ip, loopback):
    assert distributed.is_loopback(ip) is loopback


def test_loopback_interface_holds_127_0_0_1():
    name = distributed.loopback_interface()
    if name is not None:
        addrs = psutil.net_if_addrs()[name]
        assert any(a.address == "127.0.0.1" for a in addrs)


def test_listening_sees_a_socket_of_this_process():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rows = distributed.listening([os.getpid()])
    assert {"pid": os.getpid(), "ip": "127.0.0.1", "port": port}.items() <= next(
        r for r in rows if r["port"] == port
    ).items()


# --------------------------------------------------------------------------- on paper
def test_plan_padding_loss_and_shards():
    p = plan(1001, 2, 2, 1)
    assert (p.readers, p.padding, p.dropped, p.per_rank_exact) == (4, 1, 1, (500, 501))
    p = plan(10, 4)
    assert (p.per_rank_padded, p.padding, p.per_rank_dropped, p.dropped) == (3, 2, 2, 2)
    assert plan(100, 2, 0, 20).enough_shards and not plan(100, 2, 0, 19).enough_shards
    assert plan(12, 4).padding == 0 and plan(12, 4).dropped == 0


def test_plan_rejects_bad_input():
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        plan(10, 0)
    with pytest.raises(ValueError, match="workers_per_rank >= 0"):
        plan(10, 2, -1)


def test_sharded_ids_read_the_rank_when_built_not_in_the_worker():
    built = ShardedIds(10, rank=1, world_size=2)
    assert (built.rank, built.world_size) == (1, 2)
    assert pickle.loads(pickle.dumps(built)).rank == 1
    assert (ShardedIds(10).rank, ShardedIds(10).world_size) == (0, 1)  # no process group
    # The broken one asks in __iter__: without a group it ignores the rank it was given.
    late = distributed.RankInWorkerIds(10, rank=1, world_size=2)
    assert sorted(stream(late)[0]) == list(range(10))


def test_loopback_store_listens_on_loopback_only_and_serves():
    from datetime import timedelta

    store = distributed.loopback_store()
    mine = [s for s in distributed.listening([os.getpid()]) if s["port"] == store.port]
    assert mine and all(distributed.is_loopback(s["ip"]) for s in mine), mine
    client = dist.TCPStore("127.0.0.1", store.port, timeout=timedelta(seconds=10))
    client.set("key", "value")
    assert store.get("key") == b"value"
