"""The rank script of notebook 07: what each of the ``torchrun`` ranks runs.

Launched as ``python -m torch.distributed.run --standalone --nproc_per_node=2 -m
helpers.distributed_ranks counting|training --out DIR ...`` (see
:func:`helpers.distributed.launch_torchrun`). Each launch runs several experiments
and every rank writes what it saw (sample ids per rank, worker and epoch; weights;
timings) to ``DIR/rank<R>.json`` (and ``.npz`` for weights); the notebook reads and
counts them. Ranks join a ``gloo`` process group over loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from helpers.data import make_signals
from helpers.distributed import (
    AllIds,
    IdDataset,
    RankInWorkerIds,
    RankShardedIds,
    ShardedIds,
    UnpaddedSampler,
    listening,
)
from helpers.torch_cnn import build_cnn


# --------------------------------------------------------------------------- counting
def sampler_ids(n: int, rank: int, world: int, **kwargs: Any) -> list[int]:
    """The ids one rank evaluates with ``DistributedSampler(**kwargs)``, in order."""
    sampler = DistributedSampler(
        IdDataset(n), num_replicas=world, rank=rank, shuffle=False, **kwargs
    )
    loader = DataLoader(IdDataset(n), batch_size=16, sampler=sampler)
    return [int(i) for batch in loader for i in batch]


def exact_mean(values: torch.Tensor, ids: list[int]) -> float:
    """Exactly-once evaluation: sum and count on every rank, ``all_reduce`` both, divide.

    ``values[i]`` is sample ``i``'s metric (a loss, a 0/1 hit). Ranks may hold one
    sample more than others: summing, not averaging per-rank means, keeps that exact."""
    totals = torch.tensor([values[ids].sum().item(), float(len(ids))], dtype=torch.float64)
    dist.all_reduce(totals)  # sum over ranks
    return (totals[0] / totals[1]).item()


def padded_mean(values: torch.Tensor, ids: list[int]) -> float:
    """The usual evaluation: every rank averages its own samples, then the ranks'
    means are averaged. With a padded sampler, the repeated samples count twice."""
    mean = torch.tensor([values[ids].mean().item()], dtype=torch.float64)
    dist.all_reduce(mean)
    return (mean / dist.get_world_size()).item()


def epoch_orders(n: int, rank: int, world: int, epochs: int, set_epoch: bool) -> list[list[int]]:
    """The ids one rank sees in each epoch with a shuffling ``DistributedSampler``."""
    sampler = DistributedSampler(IdDataset(n), num_replicas=world, rank=rank, shuffle=True, seed=0)
    orders = []
    for epoch in range(epochs):
        if set_epoch:
            sampler.set_epoch(epoch)  # a new shuffle for every epoch, the same on all ranks
        orders.append([int(i) for i in sampler])
    return orders


def stream_ids(dataset: Any, num_workers: int, start_method: str | None) -> dict[str, list[int]]:
    """Every ``(id, worker)`` an ``IterableDataset`` delivers through a DataLoader:
    ``{"ids": [...], "workers": [...]}``."""
    context = start_method if num_workers > 0 else None
    loader = DataLoader(
        dataset, batch_size=16, num_workers=num_workers, multiprocessing_context=context
    )
    ids: list[int] = []
    workers: list[int] = []
    for batch_ids, batch_workers in loader:
        ids += batch_ids.tolist()
        workers += batch_workers.tolist()
    return {"ids": ids, "workers": workers}


def join_training(n: int, rank: int, world: int, batch: int = 4) -> dict[str, Any]:
    """DDP training over uneven shards: :class:`UnpaddedSampler` gives the ranks 501
    and 500 of 1001 samples, so 126 and 125 batches of 4. Inside ``model.join()`` the
    rank that runs out first shadows the other's gradient ``all_reduce``; without it,
    the rank with the extra batch would wait forever. Returns the ids each rank trained
    on, its steps, and its final weights."""
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(1, 1))  # rank 0's weights, broadcast
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(IdDataset(n), batch_size=batch, sampler=UnpaddedSampler(n, rank, world))
    ids: list[int] = []
    with model.join():  # torch.distributed.algorithms.Join for DDP
        for batch_ids in loader:
            x = batch_ids.to(torch.float32).unsqueeze(1) / n
            optimizer.zero_grad()
            F.mse_loss(model(x), 2 * x).backward()  # all_reduce (shadowed once joined)
            optimizer.step()
            ids += batch_ids.tolist()
    return {"ids": ids, "steps": len(loader), "weights": flat_weights(model.module).tolist()}


def run_counting(args: argparse.Namespace, rank: int, world: int) -> dict[str, Any]:
    """Samplers (padding, drop_last, exactly once), set_epoch, IterableDataset sharding."""
    n = args.samples
    out: dict[str, Any] = {}
    for name, kwargs in {"default": {}, "drop_last=True": {"drop_last": True}}.items():
        out[f"sampler {name}"] = sampler_ids(n, rank, world, **kwargs)
    unpadded = list(UnpaddedSampler(n, rank, world))
    out["sampler unpadded"] = unpadded
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, unpadded)  # every rank learns every rank's ids
    out["gathered ids"] = sorted(i for ids in gathered for i in ids)
    values = torch.arange(n, dtype=torch.float64) % 7  # a per-sample metric, known exactly
    out["mean padded"] = padded_mean(values, out["sampler default"])
    out["mean exact"] = exact_mean(values, unpadded)
    out["join"] = join_training(n, rank, world)
    for set_epoch in (False, True):
        out[f"epochs set_epoch={set_epoch}"] = epoch_orders(
            args.shuffle_samples, rank, world, 3, set_epoch
        )
    for workers in (0, 1, 2):
        out[f"sharded {workers} workers"] = stream_ids(ShardedIds(n), workers, args.worker_start)
    out["rank read in worker, 2 workers"] = stream_ids(RankInWorkerIds(n), 2, args.worker_start)
    out["rank-sharded 2 workers"] = stream_ids(RankShardedIds(n), 2, args.worker_start)
    out["unsharded 2 workers"] = stream_ids(AllIds(n), 2, args.worker_start)
    return out


# --------------------------------------------------------------------------- training
def train_steps(
    model: torch.nn.Module, loader: DataLoader, steps: int, warmup: int, sync: bool = True
) -> tuple[float, float]:
    """Train ``warmup`` + ``steps`` steps with Adam. Returns the wall seconds and the
    CPU seconds of this process (all its threads) the ``steps`` took. ``sync=False``
    runs a DDP model inside ``no_sync()``: the same compute, no gradient ``all_reduce``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = iter(loader)
    no_sync = model.no_sync() if not sync else contextlib.nullcontext()
    start = cpu = 0.0
    with no_sync:
        for step in range(warmup + steps):
            if step == warmup:
                if dist.is_initialized() and isinstance(model, DistributedDataParallel):
                    dist.barrier()  # all ranks start the clock together
                start, cpu = time.perf_counter(), time.process_time()
            x, y = next(batches)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()  # DDP averages the gradients here
            optimizer.step()
    return time.perf_counter() - start, time.process_time() - cpu


def run_training(args: argparse.Namespace, rank: int, world: int, out_dir: Path) -> dict[str, Any]:
    """DDP vs one process, interleaved: ``repeats`` rounds of (one process with 1
    thread, one process with ``world`` threads, ``world`` DDP ranks with 1 thread each,
    the same ranks without gradient sync). One process trains on the global batch
    (``world * batch``), in the same order. Records samples/s and cores busy (CPU
    seconds of all ranks / wall seconds) per window."""
    batch, steps, warmup = args.batch, args.steps, 5
    n = world * batch * (steps + warmup)
    X, y = make_signals(n, 128, 4, seed=0)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    one_sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0)
    ddp_sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "samples/s": {}, "cores busy": {}}
    out["idle cpu s"] = []
    rates: dict[str, list[float]] = out["samples/s"]
    busy: dict[str, list[float]] = out["cores busy"]
    weights: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for threads in (1, world):
            label = f"1 process, {threads} thread{'s' if threads > 1 else ''}"
            cpu0 = time.process_time()
            if rank == 0:
                torch.set_num_threads(threads)
                model = build_cnn(4, seed=0)
                loader = DataLoader(dataset, batch_size=world * batch, sampler=one_sampler)
                seconds, cpu = train_steps(model, loader, steps, warmup)
                rates.setdefault(label, []).append(world * batch * steps / seconds)
                busy.setdefault(label, []).append(cpu / seconds)
                weights[label] = flat_weights(model)
                torch.set_num_threads(out["threads"])
            dist.barrier()  # the other ranks wait here, idle (their CPU time is recorded)
            if rank != 0:
                out["idle cpu s"].append(time.process_time() - cpu0)
        for sync in (True, False):
            model = DistributedDataParallel(build_cnn(4, seed=0))
            loader = DataLoader(dataset, batch_size=batch, sampler=ddp_sampler)
            seconds, cpu = train_steps(model, loader, steps, warmup, sync=sync)
            wall = torch.tensor([seconds])
            dist.all_reduce(wall, op=dist.ReduceOp.MAX)  # the slowest rank sets the pace
            cpus = torch.tensor([cpu])
            dist.all_reduce(cpus)  # CPU seconds of all ranks
            label = f"{world} DDP ranks, 1 thread each"
            label = label if sync else f"{world} ranks, no gradient sync"
            rates.setdefault(label, []).append(world * batch * steps / wall.item())
            busy.setdefault(label, []).append(cpus.item() / wall.item())
            if sync:
                weights["ddp"] = flat_weights(model.module)
    np.savez(out_dir / f"weights{rank}.npz", **weights)
    return out


def flat_weights(model: torch.nn.Module) -> np.ndarray:
    """All parameters of ``model`` in one float32 vector (to compare ranks exactly)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=["counting", "training"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=1001, help="samples in the counted dataset")
    parser.add_argument(
        "--shuffle-samples", type=int, default=12, help="samples in the set_epoch demo"
    )
    parser.add_argument("--worker-start", default=None, help="DataLoader workers' start method")
    parser.add_argument("--batch", type=int, default=32, help="samples per rank per step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args(argv)  # option names must not be prefixes of torchrun's own
    t0 = time.perf_counter()
    dist.init_process_group("gloo")  # reads RANK, WORLD_SIZE, MASTER_ADDR/PORT from torchrun
    rank, world = dist.get_rank(), dist.get_world_size()
    record: dict[str, Any] = {"rank": rank, "world": world, "pid": os.getpid()}
    record["init s"] = time.perf_counter() - t0
    dist.barrier()
    if rank == 0:  # every rank is up: who listens where (the agent is our parent)
        import psutil

        agent = psutil.Process(os.getppid())
        record["agent pid"] = agent.pid
        record["listening"] = listening([agent.pid] + [c.pid for c in agent.children()])
    dist.barrier()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.experiment == "counting":
        record["results"] = run_counting(args, rank, world)
    else:
        record["results"] = run_training(args, rank, world, args.out)
    record["seconds"] = time.perf_counter() - t0
    tmp = args.out / f".rank{rank}.json.tmp"
    tmp.write_text(json.dumps(record))
    tmp.replace(args.out / f"rank{rank}.json")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
