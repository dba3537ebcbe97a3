"""helpers.resume: resumable sampler, atomic checkpoints, crash-and-resume children, counts."""

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from helpers import resume
from helpers.data import make_signals

CFG = resume.RunConfig(n=96, length=32, batch_size=8, every=2, seed=3)


@pytest.fixture(scope="module")
def signals():
    return make_signals(CFG.n, CFG.length, CFG.num_classes, seed=CFG.seed)


def ids_of(batches):
    return [i for batch in batches for i in batch[2].tolist()]


# ----------------------------------------------------------------------------- sampler
def test_sampler_starts_at_its_position_and_rebuilds_the_epoch_order():
    sampler = resume.ResumableSampler(50, seed=7)
    full = list(sampler)
    assert sorted(full) == list(range(50)) and full == resume.epoch_order(50, 7, 0).tolist()
    sampler.load_state_dict({"seed": 7, "epoch": 0, "position": 20})
    assert list(sampler) == full[20:] and len(sampler) == 30
    sampler.load_state_dict({"seed": 7, "epoch": 1, "position": 0})
    assert list(sampler) != full and sorted(sampler) == list(range(50))
    assert sampler.state_dict() == {"seed": 7, "epoch": 1, "position": 0}


@pytest.mark.parametrize(
    "state",
    [
        {"seed": 8, "epoch": 0, "position": 0},  # another seed: another order
        {"seed": 7, "epoch": 0, "position": 51},  # past the end
        {"seed": 7, "epoch": 0, "position": -1},
    ],
)
def test_sampler_refuses_a_state_that_does_not_fit(state):
    with pytest.raises(ValueError, match="does not fit"):
        resume.ResumableSampler(50, seed=7).load_state_dict(state)


def test_sampler_needs_samples():
    with pytest.raises(ValueError, match="n must be >= 1"):
        resume.ResumableSampler(0)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_sampler_resumed_by_the_loop_delivers_each_id_once(signals, num_workers):
    """The loop advances position by what it trained on; workers drawing ahead change nothing."""
    X, y = signals
    sampler = resume.ResumableSampler(CFG.n, CFG.seed)
    loader = DataLoader(
        resume.Signals(X, y), CFG.batch_size, sampler=sampler, num_workers=num_workers
    )
    first = []
    for batch in loader:
        first.append(batch)
        sampler.position += len(batch[2])
        if len(first) == 5:
            break
    del loader  # its workers had drawn further than 5 batches
    state = sampler.state_dict()
    again = resume.ResumableSampler(CFG.n, CFG.seed)
    again.load_state_dict(state)
    rest = DataLoader(resume.Signals(X, y), CFG.batch_size, sampler=again, num_workers=num_workers)
    delivered = ids_of(first) + ids_of(rest)
    assert delivered == resume.epoch_order(CFG.n, CFG.seed, 0).tolist()
    counts = resume.Counts.of(delivered, CFG.n)
    assert (counts.delivered, counts.unique, counts.duplicated, counts.missing) == (96, 96, 0, 0)


# ----------------------------------------------------------------------------- StatefulDataLoader
@pytest.mark.parametrize("num_workers", [0, 2])
def test_stateful_loader_resumes_exactly_with_batches_in_flight(signals, num_workers):
    X, y = signals
    cfg = dataclasses.replace(CFG, num_workers=num_workers)
    loader = resume.stateful_loader(X, y, cfg)
    it = iter(loader)
    first = [next(it) for _ in range(4)]
    state = loader.state_dict()  # with workers, batches 5.. are already loaded
    rest = list(it)
    again = resume.stateful_loader(X, y, cfg)
    again.load_state_dict(state)
    resumed = list(again)
    assert ids_of(resumed) == ids_of(rest)
    counts = resume.Counts.of(ids_of(first) + ids_of(resumed), CFG.n)
    assert counts.delivered == counts.unique == CFG.n and counts.missing == 0


def test_stateful_loader_emits_no_set_vital_warning(signals, recwarn):
    resume.stateful_loader(*signals, CFG)
    assert not [w for w in recwarn if "set_vital" in str(w.message)]


# ----------------------------------------------------------------------------- checkpoints
def state_at(step):
    model, optimizer = resume.new_model(CFG)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}


def test_checkpoint_round_trip(tmp_path):
    size = resume.save_checkpoint(tmp_path / "c.pt", state_at(4))
    assert size == (tmp_path / "c.pt").stat().st_size > 0
    loaded = resume.load_checkpoint(tmp_path / "c.pt")
    assert loaded["step"] == 4
    for key, value in state_at(4)["model"].items():
        assert torch.equal(loaded["model"][key], value)
    assert resume.stale_temp_files(tmp_path) == []


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.5, 0.99])
def test_a_checkpoint_cut_short_leaves_the_previous_one_loadable(tmp_path, fraction):
    size = resume.save_checkpoint(tmp_path / "c.pt", state_at(4))
    with pytest.raises(resume.SimulatedCrash):
        resume.save_checkpoint(tmp_path / "c.pt", state_at(8), die_after_bytes=int(size * fraction))
    assert resume.load_checkpoint(tmp_path / "c.pt")["step"] == 4
    assert len(resume.stale_temp_files(tmp_path)) == 1  # as a killed writer leaves it


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
def test_saving_in_place_cut_short_loses_the_checkpoint(tmp_path, fraction):
    size = resume.save_checkpoint(tmp_path / "c.pt", state_at(4))
    with pytest.raises(resume.SimulatedCrash):
        resume.save_in_place(tmp_path / "c.pt", state_at(8), die_after_bytes=int(size * fraction))
    with pytest.raises(RuntimeError, match=r"c\.pt is not a readable checkpoint"):
        resume.load_checkpoint(tmp_path / "c.pt")


def test_a_writer_killed_by_sigkill_mid_save_leaves_the_previous_checkpoint(tmp_path):
    """A real crash: a child saving 16 MB checkpoints through save_checkpoint is
    SIGKILLed while its temporary file is partly written."""
    big = torch.zeros(16 * 2**20 // 4)
    resume.save_checkpoint(tmp_path / "c.pt", {"big": big, "step": 0})
    killed = resume.kill_while_saving(tmp_path / "c.pt", megabytes=16)
    assert killed.returncode == -9
    assert 0 < killed.temp_bytes_at_kill <= killed.temp_bytes_after < killed.full_bytes
    loaded = resume.load_checkpoint(tmp_path / "c.pt")  # the previous one, whole
    assert loaded["step"] >= 0 and torch.equal(loaded["big"], big)
    assert len(resume.stale_temp_files(tmp_path)) == 1
    assert resume.live_processes() == []


def test_kill_while_saving_reports_a_failing_writer(tmp_path):
    (tmp_path / "c.pt").write_bytes(b"x" * 100)
    with pytest.raises(RuntimeError, match="writer child exited"):
        resume.kill_while_saving(tmp_path / "c.pt", megabytes=-1)


def test_training_state_round_trip_restores_model_optimizer_and_loader_state(tmp_path, signals):
    X, y = signals
    model, optimizer = resume.new_model(CFG)
    assert resume.restore_training_state(tmp_path, model, optimizer) is None  # no checkpoint yet
    x, target = torch.from_numpy(X[:8]), torch.from_numpy(y[:8]).long()
    resume.train_step(model, optimizer, x, target)
    sampler_state = {"seed": 3, "epoch": 0, "position": 8}
    resume.save_training_state(tmp_path, model, optimizer, 1, sampler=sampler_state)
    fresh_model, fresh_optimizer = resume.new_model(CFG)
    state = resume.restore_training_state(tmp_path, fresh_model, fresh_optimizer)
    assert state["step"] == 1 and state["sampler"] == sampler_state
    for key, value in model.state_dict().items():
        assert torch.equal(fresh_model.state_dict()[key], value)
    assert fresh_optimizer.state_dict()["state"][0]["step"] == 1  # Adam's step count came back


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        resume.load_checkpoint(tmp_path / "nope.pt")


# ----------------------------------------------------------------------------- children
@pytest.mark.parametrize(("kind", "num_workers"), [("sampler", 0), ("stateful", 2)])
def test_sigkill_then_resume_delivers_every_id_and_replays_only_the_window(
    tmp_path, kind, num_workers
):
    cfg = dataclasses.replace(CFG, num_workers=num_workers)
    crashed = resume.run_child(kind, tmp_path, cfg, "crash.log", kill_at=7)
    assert crashed.killed
    before = resume.read_id_log(tmp_path / "crash.log")
    saved = resume.load_checkpoint(tmp_path / resume.CHECKPOINT)["step"]
    assert len(before) >= 7 and saved % cfg.every == 0 and saved <= len(before)
    finished = resume.run_child(kind, tmp_path, cfg, "resume.log")
    assert finished.returncode == 0
    after = resume.read_id_log(tmp_path / "resume.log")
    assert after[0][0] == saved and after[-1][0] == cfg.steps - 1
    report = resume.replay_report(resume.ids_of(before), resume.ids_of(after), cfg.n)
    assert report["missing"] == []
    assert report["replayed"] == sorted(resume.ids_of(before, after_step=saved - 1))
    assert resume.live_processes() == []  # the killed child's workers died with it


def test_run_child_reports_a_failing_child(tmp_path):
    bad = dataclasses.replace(CFG)
    object.__setattr__(bad, "batch_size", 0)  # skips __post_init__: the child will refuse it
    with pytest.raises(RuntimeError, match="batch_size must be >= 1"):
        resume.run_child("sampler", tmp_path, bad, "ids.log")


def test_run_child_refuses_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        resume.run_child("nope", tmp_path, CFG, "ids.log")


def test_main_refuses_bad_arguments(capsys):
    assert resume.main(["nope", ".", json.dumps(dataclasses.asdict(CFG)), "x.log"]) == 2
    assert resume.main([]) == 2
    assert "unknown kind" in capsys.readouterr().err


# ----------------------------------------------------------------------------- counting, data
def test_counts_duplicated_and_missing():
    # duplicated: deliveries beyond the first of an id (one definition, helpers/counting.py)
    counts = resume.Counts.of([0, 1, 1, 2, 2, 2], 5)
    assert (counts.delivered, counts.unique, counts.duplicated, counts.missing) == (6, 3, 3, 2)
    assert "missing    2" in counts.line()
    with pytest.raises(ValueError, match="outside"):
        resume.Counts.of([5], 5)


def test_id_log_round_trip_and_torn_line(tmp_path):
    path = tmp_path / "ids.log"
    with open(path, "w") as log:
        resume.log_ids(log, 0, torch.tensor([3, 1]))
        resume.log_ids(log, 1, torch.tensor([2]))
    assert resume.read_id_log(path) == [(0, [3, 1]), (1, [2])]
    assert resume.ids_of(resume.read_id_log(path), after_step=0) == [2]
    assert resume.ids_of(resume.read_id_log(path), before_step=1) == [3, 1]
    assert resume.ids_of(resume.read_id_log(path), after_step=0, before_step=1) == []
    path.write_text("0 3 1\n1 2")
    with pytest.raises(ValueError, match="ids.log ends in a torn line"):
        resume.read_id_log(path)
    path.write_text("0 3 x\n")
    with pytest.raises(ValueError, match="ids.log line 1"):
        resume.read_id_log(path)


def test_signals_carry_ids_and_refuse_bad_input(signals):
    X, y = signals
    x, label, i = resume.Signals(X, y)[5]
    assert i == 5 and label == y[5] and torch.equal(x, torch.from_numpy(X[5]))
    with pytest.raises(ValueError, match="X has 96 samples but y has 95"):
        resume.Signals(X, y[:-1])
    with pytest.raises(ValueError, match="empty"):
        resume.Signals(X[:0], y[:0])


def test_what_children_and_workers_receive_pickles(signals):
    X, y = signals
    for obj in (resume.Signals(X, y), resume.ResumableSampler(10, 1), CFG):
        assert type(pickle.loads(pickle.dumps(obj))) is type(obj)
    assert pickle.loads(pickle.dumps(resume.Signals(X, y)))[3][2] == 3


def test_run_config_validates():
    assert resume.RunConfig(n=100, batch_size=32).steps == 4
    with pytest.raises(ValueError, match="every must be >= 1"):
        resume.RunConfig(every=0)
    with pytest.raises(ValueError, match="num_workers"):
        resume.RunConfig(num_workers=-1)


def test_table_and_sizes(tmp_path):
    table = resume.markdown_table([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]
    with pytest.raises(ValueError):
        resume.markdown_table([])
    assert resume.state_bytes({"t": torch.zeros(1000)}) > 4000
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"12345")
    assert resume.folder_bytes(tmp_path) == 5


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("Iterator::Root::Prefetch::BatchV2::Shuffle:buffer::63", "shuffle buffer"),
        ("Iterator::Root::MapAndBatch::Shuffle:buffer::0", "shuffle buffer"),
        ("Iterator::Root::MapAndBatch::Shuffle:buffer", "other"),  # its element count
        ("Iterator::Root::Prefetch::0", "batches ahead: Prefetch"),
        ("Iterator::Root::Prefetch::BatchV2", "other"),
        ("Iterator::Root::MapAndBatch:batch_results_1", "batches ahead: MapAndBatch"),
        ("", "other"),
    ],
)
def test_state_part_names_what_an_iterator_entry_holds(name, part):
    assert resume.state_part(name) == part


def test_torch_threads_restores():
    before = torch.get_num_threads()
    with resume.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert np.array_equal(resume.epoch_order(5, 0, 0), resume.epoch_order(5, 0, 0))
