"""Which checkpoint a restarting PBT member takes: an exploit not yet taken up takes the donor's
(even a copy of the member's own older state); a crash or killed driver takes the newer own."""

import shutil
from types import SimpleNamespace

import torch

from distillrl.core import checkpoint
from distillrl.scale.pbt_member import MEMBER_CKPT, newer_own_checkpoint, pending_copy


def _own(mdir, frames, copy=""):
    (mdir / MEMBER_CKPT).parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(mdir / MEMBER_CKPT, {"w": torch.zeros(1)}, {"member": 0, "frames": frames, "copy": copy})


def test_no_exploit_means_no_pending_copy(tmp_path):
    _own(tmp_path, 12288)
    assert pending_copy(tmp_path, {"member": 0}) is False
    # and a newer own checkpoint beats Ray's lagging record of the same member
    assert newer_own_checkpoint(tmp_path, 0, {"member": 0, "frames": 8192}) is not None


def test_a_new_copy_is_pending_until_a_checkpoint_is_written_under_it(tmp_path):
    cfg = {"member": 0, "copy": {"id": "abc", "donor": 2}}
    assert pending_copy(tmp_path, cfg) is True  # no own checkpoint yet
    _own(tmp_path, 12288, copy="")
    assert pending_copy(tmp_path, cfg) is True  # own checkpoint from before the copy
    _own(tmp_path, 12288, copy="old")
    assert pending_copy(tmp_path, cfg) is True  # own checkpoint from an earlier copy
    _own(tmp_path, 16384, copy="abc")
    assert pending_copy(tmp_path, cfg) is False  # taken up: a later restart is a plain resume


def test_a_damaged_own_checkpoint_leaves_the_copy_pending(tmp_path):
    (tmp_path / MEMBER_CKPT).parent.mkdir(parents=True)
    (tmp_path / MEMBER_CKPT).write_bytes(b"not a checkpoint")
    assert pending_copy(tmp_path, {"member": 0, "copy": {"id": "abc", "donor": 1}}) is True


def _ray_ckpt(trial_dir, index, frames, member=0):
    d = trial_dir / f"checkpoint_{index:06d}"
    d.mkdir(parents=True)
    checkpoint.save(d / "state.safetensors", {"w": torch.zeros(1)}, {"member": member, "frames": frames})
    return d


def _tracked(path, frames):
    from ray.train import Checkpoint

    return SimpleNamespace(checkpoint=Checkpoint(path=str(path)), metrics={"frames": frames, "return_recent": 9.0})


def test_a_lost_ray_checkpoint_falls_back_to_the_newest_left_beside_it(tmp_path):
    """Ray's saved experiment state can lag a killed driver and name a checkpoint Ray deleted
    since (it keeps the last few): the newest left in that trial directory takes its place."""
    from distillrl.scale.raytune import restore_latest_checkpoint

    exp, trial = str(tmp_path) + "/", tmp_path / "trial_0"
    _ray_ckpt(trial, 21, 22000)
    newest = _ray_ckpt(trial, 22, 24000)
    _ray_ckpt(trial, 3, 6000)  # an older index: sorted by number, not picked
    lost, said = _tracked(trial / "checkpoint_000018", 18000), []
    restore_latest_checkpoint(lost, exp, exp, None, said.append)
    assert lost.checkpoint.path == str(newest)
    assert lost.metrics == {"frames": 24000, "return_recent": 9.0}  # the frames it was written at
    assert len(said) == 1 and "checkpoint_000018 is gone" in said[0]
    # one that exists is left alone, silently
    kept = _tracked(newest, 24000)
    restore_latest_checkpoint(kept, exp, exp, None, said.append)
    assert kept.checkpoint.path == str(newest) and len(said) == 1
    # none left: the trial restarts without one (the member resumes from its own last.safetensors)
    gone = _tracked(tmp_path / "trial_1" / "checkpoint_000004", 8000)
    restore_latest_checkpoint(gone, exp, exp, None, said.append)
    restore_latest_checkpoint(None, exp, exp, None, said.append)
    assert gone.checkpoint is None and "no other is left" in said[-1]


def test_a_moved_experiment_finds_a_donor_checkpoint_under_its_new_path(tmp_path):
    from distillrl.scale.raytune import restore_latest_checkpoint

    new = tmp_path / "moved"
    there = _ray_ckpt(new / "trial_1", 7, 16000, member=1)
    r = _tracked(str(tmp_path / "old" / "trial_1" / "checkpoint_000007"), 16000)
    said = []
    restore_latest_checkpoint(r, str(tmp_path / "old") + "/", str(new) + "/", None, said.append)
    assert r.checkpoint.path == str(there) and said == []


def test_a_repaired_checkpoint_manager_keeps_deleting_old_checkpoints_without_failing(tmp_path):
    """Ray's own manager, restored naming checkpoints that are gone: after the repair it restarts
    from the newest left and goes on registering (and deleting beyond num_to_keep) without
    raising on a missing path -- which, unrepaired, fails the trial."""
    from ray.train import Checkpoint
    from ray.train._internal.checkpoint_manager import _CheckpointManager
    from ray.train._internal.session import _TrainingResult
    from ray.tune import CheckpointConfig

    from distillrl.scale.raytune import repair_checkpoint_manager

    trial = tmp_path / "trial_0"
    mgr = _CheckpointManager(CheckpointConfig(num_to_keep=2))
    for i in range(3):
        mgr.register_checkpoint(_TrainingResult(Checkpoint(path=str(_ray_ckpt(trial, i, 2000 * (i + 1)))),
                                                {"frames": 2000 * (i + 1)}))
    assert not (trial / "checkpoint_000000").exists()  # Ray deleted beyond num_to_keep
    # the run went on past the saved state (4, 5 written; 1, 2 deleted) before the driver died
    _ray_ckpt(trial, 3, 8000)
    _ray_ckpt(trial, 4, 10000)
    shutil.rmtree(trial / "checkpoint_000001")
    shutil.rmtree(trial / "checkpoint_000002")
    said = []
    repair_checkpoint_manager(mgr, str(tmp_path) + "/", str(tmp_path) + "/", None, said.append)
    assert mgr.latest_checkpoint_result.checkpoint.path == str(trial / "checkpoint_000004")
    assert mgr.latest_checkpoint_result.metrics["frames"] == 10000
    assert [r.checkpoint.path for r in mgr._checkpoint_results] == [str(trial / "checkpoint_000004")]
    for i in (5, 6, 7):  # the resumed trial goes on: no FileNotFoundError from Ray's deletes
        mgr.register_checkpoint(_TrainingResult(Checkpoint(path=str(_ray_ckpt(trial, i, 2000 * (i + 1)))), {}))
    assert sorted(p.name for p in trial.iterdir()) == ["checkpoint_000003", "checkpoint_000006", "checkpoint_000007"]
    # nothing left at all: the trial restarts without a checkpoint
    empty = _CheckpointManager(CheckpointConfig(num_to_keep=2))
    empty.register_checkpoint(_TrainingResult(Checkpoint(path=str(tmp_path / "trial_9" / "checkpoint_000001")), {}))
    repair_checkpoint_manager(empty, str(tmp_path) + "/", str(tmp_path) + "/", None, said.append)
    assert empty.latest_checkpoint_result is None and empty._checkpoint_results == []
