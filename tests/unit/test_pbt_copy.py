"""Which checkpoint a restarting PBT member takes: an exploit not yet taken up takes the donor's
(even a copy of the member's own older state); a crash or killed driver takes the newer own."""

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
