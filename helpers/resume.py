"""Resume training mid-epoch after a crash: notebook 08's sampler, checkpoints and children.

What the notebook teaches lives here because a *child process* runs it (a training run
that the notebook kills with ``SIGKILL``) or a ``DataLoader`` worker imports it (under
``spawn`` a worker imports the dataset's class by name). The notebook shows each piece
with ``show_source`` where it teaches it:

- :class:`ResumableSampler`: a shuffled epoch order from ``(seed, epoch)``, started at
  ``position``; three numbers are its whole state.
- :func:`save_checkpoint`: model, optimizer and loader state in one file, written
  atomically (temporary file in the same folder, flush, fsync, ``os.replace``).
- :func:`kill_while_saving`: a real crash while writing: ``SIGKILL`` a child that keeps
  saving big checkpoints through :func:`save_checkpoint` (:func:`keep_saving`) mid-write.
- :func:`train_with_sampler` and :func:`train_with_stateful_loader`: one epoch of the
  project's 1D CNN that checkpoints every ``every`` steps, resumes from the last
  checkpoint if there is one, and logs the sample ids of every batch it is handed. Both
  save and restore through :func:`save_training_state` / :func:`restore_training_state`
  (model, optimizer, loader state and step in one checkpoint).
- :func:`run_child`: start such a training run as ``python -m helpers.resume ...`` in a
  new session, optionally ``SIGKILL`` it (and its workers) once it reached a step.

Counting: :func:`read_id_log`, and :class:`Counts` from ``helpers/counting.py`` (the
definition notebooks 07-09 share: delivered, unique, duplicated, missing). Nothing here
imports TensorFlow; :func:`iterator_state_parts` takes ``tf`` as an argument.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from .counting import Counts
from .data import make_signals
from .processes import leftover
from .torch_cnn import build_cnn

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = "checkpoint.pt"


# --------------------------------------------------------------------------- data
class Signals(Dataset):
    """Sample ``i`` -> ``(x, y, i)``: x float32 ``(1, length)``, label, and its id ``i``.

    The id travels with the sample through any loader, so each batch says which
    samples it holds. Module level, so ``DataLoader`` workers can import it (spawn)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        if len(X) == 0:
            raise ValueError("Signals needs at least one sample, got an empty X")
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return torch.from_numpy(self.X[i]), int(self.y[i]), int(i)


# --------------------------------------------------------------------------- sampler
def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of ``n`` ids in ``epoch``: the same ``(seed, epoch)``, the same order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class ResumableSampler(Sampler[int]):
    """A shuffled epoch that can start in the middle. State: ``seed``, ``epoch``, ``position``.

    The training loop, not the sampler, advances ``position`` by the samples it has
    trained on: a ``DataLoader`` with workers draws indices ahead of training."""

    def __init__(self, n: int, seed: int = 0) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n, self.seed, self.epoch, self.position = n, seed, 0, 0

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.n, self.seed, self.epoch)[self.position :].tolist())

    def __len__(self) -> int:
        return self.n - self.position

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed or not 0 <= state["position"] <= self.n:
            raise ValueError(
                f"state {state} does not fit a sampler of n={self.n}, seed={self.seed}"
            )
        self.epoch, self.position = state["epoch"], state["position"]


# --------------------------------------------------------------------------- checkpoints
class SimulatedCrash(RuntimeError):
    """Raised on purpose to stand for a process that died at that point."""


def _write(f: Any, payload: memoryview, die_after_bytes: int | None) -> None:
    """Write ``payload`` to ``f``, or only its first ``die_after_bytes`` bytes and then
    die as a killed writer would (:class:`SimulatedCrash`, nothing cleaned up)."""
    if die_after_bytes is None:
        f.write(payload)
        return
    f.write(payload[:die_after_bytes])
    f.flush()
    raise SimulatedCrash(f"writer died after {die_after_bytes} of {len(payload)} bytes")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | os.PathLike, state: dict, *, die_after_bytes: int | None = None
) -> int:
    """Write ``state`` (model, optimizer and loader state together) to ``path`` atomically.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and
    only then ``os.replace`` puts the file at ``path``: a reader finds the previous
    checkpoint or the new one, never half of one. ``die_after_bytes`` (demos, tests)
    stops the writer after that many bytes with :class:`SimulatedCrash`, leaving the
    temporary file behind as a killed process would. Returns the file's size in bytes.
    (The state is serialised in memory first, fine for this small model; ``torch.save``
    straight into the temporary file works the same way.)"""
    path, buffer = Path(path), io.BytesIO()
    torch.save(state, buffer)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        _write(f, buffer.getbuffer(), die_after_bytes)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic on POSIX and Windows (same file system)
    _fsync_dir(path.parent)
    return path.stat().st_size


def save_in_place(
    path: str | os.PathLike, state: dict, *, die_after_bytes: int | None = None
) -> int:
    """The broken version: the bytes go straight onto ``path``. A writer that dies
    halfway (``die_after_bytes``) leaves a truncated file where the good one was."""
    path, buffer = Path(path), io.BytesIO()
    torch.save(state, buffer)
    with open(path, "wb") as f:
        _write(f, buffer.getbuffer(), die_after_bytes)
    return path.stat().st_size


def load_checkpoint(path: str | os.PathLike) -> dict:
    """``torch.load`` a checkpoint with ``weights_only=True`` (tensors, numbers, dicts:
    no code runs); an error names the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path.name}")
    try:
        return torch.load(path, weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"{path.name} is not a readable checkpoint: {exc}") from exc


def stale_temp_files(folder: str | os.PathLike) -> list[str]:
    """Names of temporary files a killed :func:`save_checkpoint` left in ``folder``."""
    return sorted(p.name for p in Path(folder).glob(".*.tmp"))


# --------------------------------------------------------------------------- training
@dataclass(frozen=True)
class RunConfig:
    """One training run: ``n`` signals of ``length`` steps, batches of ``batch_size``,
    a checkpoint every ``every`` steps, ``num_workers`` loader processes."""

    n: int = 1024
    length: int = 128
    num_classes: int = 4
    batch_size: int = 32
    every: int = 4
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        for name in ("n", "length", "batch_size", "every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")

    @property
    def steps(self) -> int:
        """Steps in one epoch (the last batch may be smaller); a checkpoint every ``every``
        steps, none at all when ``every`` is more than that."""
        return -(-self.n // self.batch_size)


def new_model(cfg: RunConfig) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The project's 1D CNN (same seed, same weights) and its Adam optimizer."""
    model = build_cnn(cfg.num_classes, seed=cfg.seed)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x, y) -> float:
    """One step of cross-entropy training; returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def log_ids(log: Any, step: int, ids: torch.Tensor) -> None:
    """Append ``step id id id ...`` and flush it to the OS: a process killed later loses
    nothing it flushed (fsync would only matter if the machine lost power)."""
    log.write(f"{step} {' '.join(map(str, ids.tolist()))}\n")
    log.flush()


def save_training_state(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    **loader_state: dict,
) -> int:
    """Model, optimizer, the loader's state (``sampler=`` or ``loader=``) and the step,
    together in ``run_dir/checkpoint.pt``, written atomically by :func:`save_checkpoint`.
    Returns the file's size in bytes."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
    return save_checkpoint(run_dir / CHECKPOINT, state | loader_state)


def restore_training_state(
    run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict | None:
    """Load model and optimizer from ``run_dir/checkpoint.pt`` in place and return the
    whole state (loader state, step) for the caller; ``None`` when there is no checkpoint."""
    if not (run_dir / CHECKPOINT).exists():
        return None
    state = load_checkpoint(run_dir / CHECKPOINT)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state


def train_with_sampler(run_dir: Path, cfg: RunConfig, log_name: str = "ids.log") -> int:
    """One epoch with :class:`ResumableSampler`; resumes from ``run_dir/checkpoint.pt``."""
    X, y = make_signals(cfg.n, cfg.length, cfg.num_classes, seed=cfg.seed)
    model, optimizer = new_model(cfg)
    sampler, step = ResumableSampler(cfg.n, cfg.seed), 0
    if (state := restore_training_state(run_dir, model, optimizer)) is not None:
        sampler.load_state_dict(state["sampler"])
        step = state["step"]
    loader = DataLoader(Signals(X, y), cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers)
    with open(run_dir / log_name, "a") as log:
        for x, target, ids in loader:
            log_ids(log, step, ids)  # delivered (before training on it)
            train_step(model, optimizer, x, target)
            step, sampler.position = step + 1, sampler.position + len(ids)
            if step % cfg.every == 0:
                save_training_state(run_dir, model, optimizer, step, sampler=sampler.state_dict())
    return step


def stateful_loader(X: np.ndarray, y: np.ndarray, cfg: RunConfig, **kwargs: Any):
    """torchdata's ``StatefulDataLoader`` over :class:`Signals`, shuffled from ``cfg.seed``."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    generator = torch.Generator().manual_seed(cfg.seed)
    with warnings.catch_warnings():
        # torchdata 0.11.0 calls torch.set_vital() in StatefulDataLoader.__init__, a
        # telemetry call torch 2.13 deprecated: a warning about torchdata's internals,
        # not the caller's code. Only that message is filtered.
        warnings.filterwarnings("ignore", message="'set_vital' is deprecated", category=UserWarning)
        return StatefulDataLoader(
            Signals(X, y), cfg.batch_size, shuffle=True, generator=generator,
            num_workers=cfg.num_workers, **kwargs,
        )  # fmt: skip


def train_with_stateful_loader(run_dir: Path, cfg: RunConfig, log_name: str = "ids.log") -> int:
    """One epoch with ``StatefulDataLoader``; resumes from ``run_dir/checkpoint.pt``."""
    X, y = make_signals(cfg.n, cfg.length, cfg.num_classes, seed=cfg.seed)
    model, optimizer = new_model(cfg)
    loader, step = stateful_loader(X, y, cfg), 0
    if (state := restore_training_state(run_dir, model, optimizer)) is not None:
        loader.load_state_dict(state["loader"])
        step = state["step"]
    with open(run_dir / log_name, "a") as log:
        for x, target, ids in loader:
            log_ids(log, step, ids)
            train_step(model, optimizer, x, target)
            step += 1
            if step % cfg.every == 0:
                save_training_state(run_dir, model, optimizer, step, loader=loader.state_dict())
    return step


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` PyTorch threads (as the children do), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


TRAINERS = {"sampler": train_with_sampler, "stateful": train_with_stateful_loader}


# --------------------------------------------------------------------------- children
@dataclass
class ChildRun:
    """What one child training process did: ``returncode`` (``-9`` when killed by
    ``SIGKILL``), the step it was asked to be killed at, seconds from start to its first
    logged step (importing torch, making data and model) and to its end."""

    kind: str
    log: Path
    returncode: int
    kill_at: int | None
    first_step_s: float
    wall_s: float

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


#: Process-group ids of every child started by :func:`run_child` (for the final check).
STARTED_GROUPS: list[int] = []


def _logged_steps(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def run_child(
    kind: str,
    run_dir: str | os.PathLike,
    cfg: RunConfig,
    log_name: str,
    *,
    kill_at: int | None = None,
    timeout_s: float = 120.0,
) -> ChildRun:
    """Run ``python -m helpers.resume KIND RUN_DIR CONFIG LOG`` in a new session.

    With ``kill_at``, poll its id log and send ``SIGKILL`` to its whole process group
    (the child and its loader workers) as soon as the log holds that many lines: a real
    crash, mid-epoch, whatever the child was doing. The group is killed in ``finally``
    too, so nothing outlives an error or a timeout."""
    if kind not in TRAINERS:
        raise ValueError(f"kind must be one of {list(TRAINERS)}, got {kind!r}")
    run_dir = Path(run_dir)
    log = run_dir / log_name
    config = json.dumps(asdict(cfg))
    args = [sys.executable, "-m", "helpers.resume", kind, str(run_dir), config, log_name]
    errors = open(run_dir / f"{log_name}.stderr", "wb")  # noqa: SIM115 (closed in finally)
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
    )
    STARTED_GROUPS.append(proc.pid)  # start_new_session: the group id is the child's pid
    first_step_s = None
    try:
        while proc.poll() is None:
            steps = _logged_steps(log)
            if steps and first_step_s is None:
                first_step_s = time.perf_counter() - start
            if kill_at is not None and steps >= kill_at:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError(f"{kind} child did not reach step {kill_at} in {timeout_s} s")
            time.sleep(0.001)
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        errors.close()
    wall_s = time.perf_counter() - start
    if proc.returncode not in (0, -signal.SIGKILL):
        tail = (run_dir / f"{log_name}.stderr").read_text()[-2000:]
        raise RuntimeError(f"{kind} child failed with exit code {proc.returncode}:\n{tail}")
    if kill_at is not None and proc.returncode == 0:
        raise RuntimeError(f"{kind} child finished its epoch before step {kill_at}: no crash")
    first = wall_s if first_step_s is None else first_step_s
    return ChildRun(kind, log, proc.returncode, kill_at, first, wall_s)


def keep_saving(path: str | os.PathLike, megabytes: int) -> None:
    """What the child of :func:`kill_while_saving` runs: save a checkpoint holding a
    ``megabytes`` MB tensor over ``path`` with :func:`save_checkpoint`, step 1, 2, ...,
    until it is killed."""
    big = torch.zeros(megabytes * 2**20 // 4)  # float32: 4 bytes each
    step = 0
    while True:
        step += 1
        save_checkpoint(path, {"big": big, "step": step})


@dataclass
class KilledWriter:
    """What :func:`kill_while_saving` saw: the child's ``returncode`` (``-9``: killed),
    the temporary file's bytes when the kill landed and after it, and the full
    checkpoint's bytes (``temp_bytes_after < full_bytes``: cut short while writing)."""

    returncode: int
    temp_bytes_at_kill: int
    temp_bytes_after: int
    full_bytes: int


def kill_while_saving(
    path: str | os.PathLike, megabytes: int = 64, timeout_s: float = 60.0
) -> KilledWriter:
    """A real crash while writing: start a child that keeps saving ``megabytes`` MB
    checkpoints over ``path`` (:func:`keep_saving`), watch the folder, and ``SIGKILL``
    the child's process group as soon as a temporary file holds some but not all of a
    checkpoint's bytes. ``path`` must already hold a checkpoint of the same size (its
    size is the full size). The group is killed in ``finally`` too."""
    path = Path(path)
    full = path.stat().st_size
    code = (
        "import sys; from helpers.resume import keep_saving; "
        "keep_saving(sys.argv[1], int(sys.argv[2]))"
    )
    args = [sys.executable, "-c", code, str(path), str(megabytes)]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    STARTED_GROUPS.append(proc.pid)
    start, at_kill = time.perf_counter(), None
    try:
        while at_kill is None:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"writer child exited with {proc.returncode}: {proc.stderr.read()[-2000:]!r}"
                )
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError(f"no temporary file caught mid-write in {timeout_s} s")
            for name in stale_temp_files(path.parent):
                with contextlib.suppress(FileNotFoundError):  # renamed meanwhile
                    size = (path.parent / name).stat().st_size
                    if 0 < size < full:
                        os.killpg(proc.pid, signal.SIGKILL)
                        at_kill = size
                        break
            time.sleep(0.0005)
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
    temps = [path.parent / name for name in stale_temp_files(path.parent)]
    after = max((t.stat().st_size for t in temps), default=0)
    return KilledWriter(proc.returncode, at_kill, after, full)


#: Helpers the multiprocessing module starts once per interpreter and keeps for its
#: lifetime (spawn and forkserver start them): not something a cell left behind.
PYTHON_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def live_processes(groups: Iterable[int] | None = None) -> list[str]:
    """``"pid name"`` of every process still alive in the children's process groups,
    plus this process's own children (except :data:`PYTHON_HELPERS`): empty when
    nothing was left behind. The check is :func:`helpers.processes.leftover`."""
    started = STARTED_GROUPS if groups is None else groups
    return leftover(wait_s=0.5, groups=started, ignore=PYTHON_HELPERS)


# --------------------------------------------------------------------------- counting
def read_id_log(path: str | os.PathLike) -> list[tuple[int, list[int]]]:
    """``[(step, [ids...]), ...]`` from an id log; a torn last line (a writer killed
    mid-line) is an error that names the file and the line."""
    rows = []
    text = Path(path).read_text()
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) < 2 or not all(f.isdigit() for f in fields):
            raise ValueError(f"{Path(path).name} line {number} is not 'step id id ...': {line!r}")
        rows.append((int(fields[0]), [int(f) for f in fields[1:]]))
    if text and not text.endswith("\n"):
        raise ValueError(f"{Path(path).name} ends in a torn line: {text.splitlines()[-1]!r}")
    return rows


def ids_of(
    rows: Sequence[tuple[int, list[int]]], *, after_step: int = -1, before_step: int | None = None
) -> list[int]:
    """All ids of the logged steps numbered above ``after_step`` (and below
    ``before_step``, if given), in logged order."""
    end = float("inf") if before_step is None else before_step
    return [i for step, ids in rows if after_step < step < end for i in ids]


def replay_report(before: Sequence[int], after: Sequence[int], n: int) -> dict[str, Any]:
    """Ids delivered before a crash and after the resume, counted: ``counts`` of both
    together, ``replayed`` (ids delivered in both), ``missing`` (in neither)."""
    both = set(before) & set(after)
    return {
        "counts": Counts.of([*before, *after], n),
        "replayed": sorted(both),
        "missing": sorted(set(range(n)) - set(before) - set(after)),
    }


# --------------------------------------------------------------------------- sizes
#: The parts of a ``tf.data`` iterator's saved state, by the name of each entry.
STATE_PARTS = {
    "shuffle buffer": re.compile(r"Shuffle:buffer::\d+$"),  # one entry per buffered element
    "batches ahead: Prefetch": re.compile(r"Prefetch::\d+$"),  # batches made ahead of use
    "batches ahead: MapAndBatch": re.compile(r"batch_results_\d+$"),
}


def state_part(name: str) -> str:
    """Which part of an iterator's state the entry ``name`` belongs to (``"other"``:
    counters, seeds, positions)."""
    return next((part for part, rx in STATE_PARTS.items() if rx.search(name)), "other")


def iterator_state_parts(tf: Any, iterator: Any) -> dict[str, tuple[int, int]]:
    """What ``tf.train.Checkpoint(iterator=...)`` saves for ``iterator``, by part:
    ``{part: (entries, bytes)}``, bytes as each entry serializes (``tf.io.serialize_tensor``).

    The checkpoint stores the iterator's state as a vector of entries
    (``SerializeIterator``), each named ``Iterator::Root::...`` by the pipeline node it
    belongs to; the names are read from the bytes (private ``_iterator_resource``: read
    only to show what the checkpoint holds)."""
    state = tf.raw_ops.SerializeIterator(resource_handle=iterator._iterator_resource)
    parts: dict[str, tuple[int, int]] = {}
    for k in range(state.shape[0]):
        entry = tf.io.serialize_tensor(state[k]).numpy()
        found = re.search(rb"Iterator::[\w:]*", entry)
        part = state_part(found.group().decode() if found else "")
        entries, nbytes = parts.get(part, (0, 0))
        parts[part] = (entries + 1, nbytes + len(entry))
    return dict(sorted(parts.items(), key=lambda item: -item[1][1]))


def folder_bytes(folder: str | os.PathLike) -> int:
    """Total bytes of the files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def state_bytes(state: Any) -> int:
    """Bytes ``torch.save`` writes for ``state`` (without writing a file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of ``rows`` (dicts with the same keys, in column order)."""
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """``python -m helpers.resume KIND RUN_DIR CONFIG_JSON LOG_NAME``: one training epoch."""
    if len(argv) != 4:
        print(main.__doc__, file=sys.stderr)
        return 2
    kind, run_dir, config, log_name = argv
    if kind not in TRAINERS:
        print(f"unknown kind {kind!r}; use one of {list(TRAINERS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # the parent and the loader share two cores
    TRAINERS[kind](Path(run_dir), RunConfig(**json.loads(config)), log_name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
