"""Many processes, one dataset: what ranks, DataLoader workers and child processes run
(notebook 07), and the plumbing around them (launch, clean-up, counting).

Everything a rank, a DataLoader worker or a child process runs lives here, at module
level, so that a process started by ``spawn`` (or by ``torchrun``) can import it. The
rank script itself is :mod:`helpers.distributed_ranks`; it imports its datasets and
samplers from here. Nothing here forces a start method.

- sharding: :func:`global_worker`, :class:`ShardedIds` (exactly once over ranks x
  workers), :class:`RankShardedIds` and :class:`AllIds` (the broken versions),
  :class:`UnpaddedSampler` (exactly-once evaluation);
- counting: :func:`counts`, :func:`count_table` (delivered / unique / duplicated / missing);
- launching: :func:`launch_torchrun` (timeout, process-group kill), :func:`leftover`;
- the tf.data service worker in a child process: :func:`tf_worker_main`,
  :func:`start_tf_worker`, :func:`stop_process`;
- on paper: :func:`plan` (samples per rank, padding or loss, shards per reader).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset, Sampler, get_worker_info

from .counting import Counts, count_table, counts, times_delivered  # noqa: F401 (used as distributed.*)
from .processes import leftover  # noqa: F401 (used as distributed.leftover)

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- datasets
class IdDataset(Dataset):
    """A map-style dataset whose sample ``i`` is its own id ``i``: counting made easy."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"a dataset needs at least one sample, got n={n}")
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(f"sample {i} is outside 0..{self.n - 1}")
        return i


def global_worker(rank: int, world_size: int) -> tuple[int, int]:
    """This reader's index among all readers, and how many there are.

    A reader is one DataLoader worker of one rank (or the rank itself with
    ``num_workers=0``): index ``rank * num_workers + worker_id`` of
    ``world_size * num_workers``."""
    info = get_worker_info()
    workers, worker_id = (1, 0) if info is None else (info.num_workers, info.id)
    return rank * workers + worker_id, world_size * workers


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """The given rank and world size, else the process group's, else (0, 1)."""
    if rank is not None and world_size is not None:
        return rank, world_size
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class ShardedIds(IterableDataset):
    """Ids ``0..n-1`` as ``(id, worker_id)``, sharded over every reader: each reader
    (one worker of one rank) takes every ``readers``-th id, from its global index.
    Every id arrives exactly once over all ranks and workers.

    The rank and world size are read when the dataset is *built*, in the rank's own
    process, and travel with it to the workers: a worker started by ``spawn`` has no
    process group to ask (see :class:`RankInWorkerIds`)."""

    def __init__(self, n: int, rank: int | None = None, world_size: int | None = None) -> None:
        if n < 1:
            raise ValueError(f"a dataset needs at least one sample, got n={n}")
        self.n = n
        self.rank, self.world_size = _rank_world(rank, world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        reader, readers = global_worker(self.rank, self.world_size)
        info = get_worker_info()
        worker_id = 0 if info is None else info.id
        for i in range(reader, self.n, readers):
            yield i, worker_id


class RankInWorkerIds(ShardedIds):
    """Broken under ``spawn``: asks the process group for the rank inside ``__iter__``,
    that is, in the worker. A forked worker inherits the rank's initialised group and
    gets the right answer; a spawned worker has none, falls back to rank 0 of 1, and
    every rank then delivers every id."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rank, world = _rank_world(None, None)  # in the worker: no group under spawn
        reader, readers = global_worker(rank, world)
        info = get_worker_info()
        worker_id = 0 if info is None else info.id
        for i in range(reader, self.n, readers):
            yield i, worker_id


class RankShardedIds(ShardedIds):
    """Broken with workers: shards by rank only, so every worker of a rank repeats
    that rank's shard (``num_workers`` copies of each id)."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        info = get_worker_info()
        worker_id = 0 if info is None else info.id
        for i in range(self.rank, self.n, self.world_size):
            yield i, worker_id


class AllIds(ShardedIds):
    """Broken: no sharding at all, every rank and every worker yields every id (what a
    plain generator-backed ``IterableDataset`` does under DDP)."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        info = get_worker_info()
        worker_id = 0 if info is None else info.id
        for i in range(self.n):
            yield i, worker_id


class UnpaddedSampler(Sampler[int]):
    """Rank ``rank``'s share of ``0..n-1`` for evaluation: every ``world_size``-th index,
    no padding, nothing dropped. Ranks may get one sample more than others, so sum
    metrics and counts, then ``all_reduce`` both (never average per-rank means)."""

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.n, self.rank, self.world_size = n, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))


# --------------------------------------------------------------------------- counting
# Counts, counts, count_table, times_delivered: one definition for notebooks 07-09 in
# helpers/counting.py, imported above and used here as ``distributed.counts`` etc.


# --------------------------------------------------------------------------- launching
def loopback_interface() -> str | None:
    """The name of the network interface holding 127.0.0.1 (``lo`` on Linux, ``lo0``
    on macOS), for ``GLOO_SOCKET_IFNAME``; None if psutil cannot tell."""
    import psutil

    for name, addrs in psutil.net_if_addrs().items():
        if any(a.address == "127.0.0.1" for a in addrs):
            return name
    return None


@dataclass
class Launch:
    """One finished ``torchrun`` launch: its command, exit code, wall time (s), output."""

    command: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    pid: int


def launch_torchrun(
    module: str,
    args: Sequence[str],
    *,
    nproc: int = 2,
    timeout_s: float = 120.0,
    threads_per_rank: int = 1,
) -> Launch:
    """Run ``python -m torch.distributed.run --standalone --nproc_per_node=nproc -m
    module *args`` with this Python, and wait for it.

    The launch is a new session (its own process group), so that on a timeout, an
    error or an interrupt the whole group (agent, ranks, their DataLoader workers) is
    killed in ``finally``. Ranks talk over loopback (``GLOO_SOCKET_IFNAME``), with
    ``OMP_NUM_THREADS=threads_per_rank`` (torchrun's default is 1, said here so it is
    not a surprise). A non-zero exit raises ``RuntimeError`` with the end of stderr.
    """
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        module,
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_rank))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.pop("MPLBACKEND", None)  # the kernel's inline backend means nothing to a rank
    if (lo := loopback_interface()) is not None:
        env["GLOO_SOCKET_IFNAME"] = lo
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"torchrun ran past {timeout_s} s; its process group was killed"
        ) from None
    finally:
        stop_process(proc)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun failed (exit {proc.returncode}):\n{err[-3000:]}")
    return Launch(command, proc.returncode, seconds, out, err, proc.pid)


def stop_process(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """End ``proc`` and everything in its process group (it must have been started
    with ``start_new_session=True``): SIGTERM, then SIGKILL after ``grace_s``; reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group, even if proc is gone
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait()


def listening(pids: Sequence[int]) -> list[dict[str, Any]]:
    """The TCP sockets these processes listen on: ``{"pid", "name", "ip", "port"}``."""
    import psutil

    rows = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            name = p.name()
            conns = p.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN:
                rows.append({"pid": pid, "name": name, "ip": c.laddr.ip, "port": c.laddr.port})
    return rows


def loopback_store(timeout_s: float = 30.0) -> torch.distributed.TCPStore:
    """A ``TCPStore`` server that listens on 127.0.0.1 only, on a port the OS picks.

    Given a host name, ``TCPStore`` still binds every interface (pytorch/pytorch#173909);
    given a socket already bound to loopback (``master_listen_fd``), it listens on that
    socket and takes it over. ``torchrun`` has no option to hand one over, so this is for
    launches that build their own store (``init_process_group(store=...)``)."""
    import socket
    from datetime import timedelta

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
    except BaseException:
        sock.close()
        raise
    fd = sock.detach()  # the store owns the descriptor from here on
    return torch.distributed.TCPStore(
        "127.0.0.1",
        port,
        is_master=True,
        wait_for_workers=False,
        timeout=timedelta(seconds=timeout_s),
        master_listen_fd=fd,
    )


def is_loopback(ip: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x; False for ``::``/``0.0.0.0`` (every
    interface) and for real interface addresses."""
    import ipaddress

    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def read_ranks(folder: Path) -> list[dict[str, Any]]:
    """The JSON every rank wrote to ``folder`` (``rank0.json``, ``rank1.json``, ...),
    in rank order. A missing file raises ``FileNotFoundError`` naming it."""
    files = sorted(Path(folder).glob("rank*.json"), key=lambda p: int(p.stem[4:]))
    if not files:
        raise FileNotFoundError(f"no rank*.json in {folder}: did the launch run?")
    return [json.loads(f.read_text()) for f in files]


# --------------------------------------------------------------------------- tf.data service
def tf_worker_main(dispatcher_address: str) -> None:
    """A child process: one tf.data service ``WorkerServer`` for ``dispatcher_address``
    (``host:port``) on a port the OS picks. Prints ``READY <pid>`` once it serves, then
    serves until it is killed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    service = tf.data.experimental.service
    worker = service.WorkerServer(
        service.WorkerConfig(dispatcher_address=dispatcher_address, port=0)
    )
    print("READY", os.getpid(), flush=True)
    worker.join()


_TF_CHILD = (
    "import sys; from helpers.distributed import tf_worker_main; tf_worker_main(sys.argv[1])"
)


def start_tf_worker(dispatcher_address: str, timeout_s: float = 60.0) -> subprocess.Popen:
    """Start :func:`tf_worker_main` in a child Python (its own process group) and wait
    until it serves. Stop it with :func:`stop_process` in a ``finally``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", _TF_CHILD, dispatcher_address],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        line = call_with_timeout(proc.stdout.readline, timeout_s)
        if not line.startswith("READY"):
            raise RuntimeError(f"the tf.data worker child did not start (exit {proc.poll()})")
    except BaseException:
        stop_process(proc)
        raise
    return proc


def call_with_timeout(fn: Callable[[], Any], timeout_s: float) -> Any:
    """``fn()`` in a daemon thread: its result, or the exception it raised; raises
    ``TimeoutError`` if it has not finished after ``timeout_s`` seconds (the caller must
    then stop what ``fn`` waits on, e.g. the server)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer after {timeout_s} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- on paper
@dataclass(frozen=True)
class Plan:
    """What one epoch looks like for a distributed run (see :func:`plan`)."""

    readers: int
    per_rank_padded: int  # DistributedSampler default (drop_last=False)
    padding: int  # repeated samples per epoch with the default
    per_rank_dropped: int  # DistributedSampler(drop_last=True)
    dropped: int  # samples never seen per epoch with drop_last=True
    per_rank_exact: tuple[int, int]  # exactly-once sharding: fewest, most per rank
    shards_per_reader: float
    enough_shards: bool  # at least 10 shards per reader (TFRecord guide)


def plan(dataset_size: int, world_size: int, workers_per_rank: int = 0, shards: int = 1) -> Plan:
    """Samples per rank, padding or loss per epoch, and shards per reader.

    ``workers_per_rank`` DataLoader workers per rank (0: the rank reads itself); a
    reader is one worker (or one rank). ``shards`` files the dataset is split into.
    ``DistributedSampler`` pads to ``ceil(n / world) * world`` by repeating samples
    (default) or drops to ``floor(n / world) * world`` (``drop_last=True``)."""
    for name, value in (("dataset_size", dataset_size), ("world_size", world_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if workers_per_rank < 0 or shards < 1:
        raise ValueError(
            f"need workers_per_rank >= 0 and shards >= 1, got {workers_per_rank}, {shards}"
        )
    readers = world_size * max(workers_per_rank, 1)
    padded = math.ceil(dataset_size / world_size)
    dropped = dataset_size // world_size
    return Plan(
        readers=readers,
        per_rank_padded=padded,
        padding=padded * world_size - dataset_size,
        per_rank_dropped=dropped,
        dropped=dataset_size - dropped * world_size,
        per_rank_exact=(dropped, padded),
        shards_per_reader=shards / readers,
        enough_shards=shards >= 10 * readers,
    )


def by_rank(ranks: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[int]]:
    """``{"rank 0": ids, "rank 1": ids}`` for one experiment of a counting launch."""
    parts = {}
    for r in ranks:
        got = r["results"][key]
        parts[f"rank {r['rank']}"] = got["ids"] if isinstance(got, dict) else got
    return parts


def by_reader(ranks: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[int]]:
    """``{"rank 0, worker 1": ids, ...}``: one stream experiment split by the DataLoader
    worker that produced each id (worker 0 when the rank read itself)."""
    parts: dict[str, list[int]] = {}
    for r in ranks:
        got = r["results"][key]
        for i, w in zip(got["ids"], got["workers"], strict=True):
            parts.setdefault(f"rank {r['rank']}, worker {w}", []).append(i)
    return dict(sorted(parts.items()))
