"""A PBT member: one Ray Tune trial that drives the command's trainer, reporting (with a checkpoint)
at every ready point."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from distillrl.acting.evaluation import summary_score
from distillrl.config import dump_yaml, from_dict, validate
from distillrl.core import checkpoint as ck
from distillrl.core.protocol import Trainer
from distillrl.errors import CheckpointError
from distillrl.runs.kinds import kind, set_threads
from distillrl.runs.finish import eval_selection
from distillrl.runs.loop import Hook, WriteMetrics, run
from distillrl.runs.rundir import MetricsLog, save_checkpoint, write_summary
from distillrl.scale import raytune  # sets Ray's environment before Ray is imported

MEMBER_CKPT = "checkpoints/last.safetensors"


def member_dir(exp_dir: str | Path, member: int) -> Path:
    return Path(exp_dir) / "members" / f"member-{member:02d}"


def tuned(config: dict) -> dict[str, float]:
    return {k: float(v) for k, v in config["hparams"].items()}


def restore_member(trainer: Trainer, state: dict, meta: dict, config: dict, copied: bool = False) -> bool:
    """Load a checkpoint (the member's own, or a donor's after exploit) and then apply this
    member's hyper-parameters. Returns True when the state is a copy: it came from another
    member, or ``copied`` says this start is an exploit (whose donor may hold a copy of this
    member's own older state)."""
    trainer.load_state_dict(state)
    foreign = copied or int(meta.get("member", -1)) != int(config["member"])
    if foreign:  # a copy: continue with this member's own noise, not the donor's
        trainer.reseed([int(config["seed"]), trainer.frames, 104729])
    apply_hparams(trainer, config)
    return foreign


def apply_hparams(trainer: Trainer, config: dict) -> None:
    """The member's tuned values, in effect from the very next update (after any restore)."""
    trainer.set_hparams(**tuned(config))


def link_or_copy(src: Path, dst: Path) -> None:
    """The checkpoint just written, handed to Ray without writing it a second time (the member's
    ``last.safetensors`` is replaced atomically later, so the link keeps this version)."""
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copyfile(src, dst)


class ReadyPoints(Hook):
    """The member's hook on the run loop, whose every chunk (``interval`` frames) ends at a ready
    point: the member's checkpoint, handed to Ray Tune with the metrics PBT ranks on (and, for
    the fault-tolerance tests, a crash injected where ``config["fault"]`` says)."""

    def __init__(self, config: dict, cfg: Any, kind: str, mdir: Path, log: MetricsLog, node: str, foreign: bool,
                 report: Callable[..., None], checkpoint_from: Callable[[str], Any]):
        self.config, self.cfg, self.kind, self.mdir, self.log = config, cfg, kind, mdir, log
        self.node, self.foreign, self.report, self.checkpoint_from = node, foreign, report, checkpoint_from
        self.member = int(config["member"])
        self.window = int(config["window"])
        self.fault = config.get("fault") or {}
        self.last_row: dict = {}

    def metrics(self, trainer: Trainer, final: bool) -> dict:
        rr = trainer.recent_returns()[-self.window:]
        out = {"frames": int(trainer.frames), "member": self.member,
               "return_recent": float(np.mean(rr)) if rr else math.nan, "returns": [float(x) for x in rr],
               "node": self.node, "final": final, "restored_from_other": self.foreign}
        out.update({f"hp/{n}": float(v) for n, v in trainer.hp.as_dict().items()})
        out.update({k: float(v) for k, v in self.last_row.items() if k.startswith("kickstart/lambda")})
        return out

    def _inject_fault(self, trainer: Trainer) -> None:
        f = self.fault
        if not f or int(f.get("member", -1)) != self.member or trainer.frames < int(f.get("frames", 0)) \
                or (self.mdir / "fault-injected").exists():
            return
        (self.mdir / "fault-injected").write_text(f"crash injected at {trainer.frames} frames\n")
        if f.get("how", "exit") == "exit":
            self.log.close()
            os._exit(3)  # a hard crash: the worker process dies
        raise RuntimeError(f"injected fault in member {self.member} at {trainer.frames} frames")

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        if rows:
            self.last_row = rows[-1]
        self._inject_fault(trainer)
        save_checkpoint(trainer, self.mdir, self.cfg, self.kind,
                        meta={"member": self.member, "copy": copy_id(self.config)})
        with tempfile.TemporaryDirectory(prefix=".handover-", dir=self.mdir, ignore_cleanup_errors=True) as tmp:
            link_or_copy(self.mdir / MEMBER_CKPT, Path(tmp) / raytune.RAY_STATE)  # Ray copies it to storage
            self.report(self.metrics(trainer, trainer.frames >= self.cfg.steps),
                        checkpoint=self.checkpoint_from(tmp))
        return False


def copy_id(config: dict) -> str:
    """The id of the last exploit applied to this member's trial config ("" before any)."""
    return str((config.get("copy") or {}).get("id", ""))


def pending_copy(mdir: Path, config: dict) -> bool:
    """Whether this start is an exploit not yet taken up: the trial config names a copy that the
    member's own last checkpoint was not written under. Then Ray's checkpoint is the donor's and
    must win, even when it carries this member's id (a donor that had copied this member and not
    reported since holds this member's older state) and even when the member's own checkpoint is
    newer. After a crash or a killed driver the ids match and the newer checkpoint wins as usual."""
    cid = copy_id(config)
    if not cid:
        return False
    path = mdir / MEMBER_CKPT
    try:
        return not path.is_file() or str(ck.load_meta(path).get("copy", "")) != cid
    except CheckpointError:
        return True


def newer_own_checkpoint(mdir: Path, member: int, ray_meta: dict | None) -> tuple[dict, dict] | None:
    """The member's own last checkpoint when it is newer than what Ray hands back. Ray Tune saves
    its experiment state now and then, so after the driver is killed Ray may restore a member one
    or more ready points back, or from nothing; the member's own ``last.safetensors`` (written just
    before each report) is then ahead. A donor's checkpoint (an exploit) always wins: the copy is
    the point."""
    if ray_meta is not None and int(ray_meta.get("member", -1)) != member:
        return None
    path = mdir / MEMBER_CKPT
    if not path.is_file():
        return None
    try:
        if int(ck.load_meta(path).get("frames", -1)) <= int((ray_meta or {}).get("frames", -1)):
            return None
        return ck.load(path)
    except CheckpointError:  # a damaged file: Ray's copy is the one to trust
        return None


class MarkCopy(Hook):
    """After an exploit the member continues from its donor's state, frame counter included, so its
    curve may jump; the first metric row after the copy says so (``pbt/copied_from``: the donor
    member, ``pbt/copied_at``: the donor's frames at the copy)."""

    def __init__(self, donor: int, frames: int):
        self.donor, self.frames, self.done = donor, frames, False

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        if rows and not self.done:
            rows[0].update({"pbt/copied_from": self.donor, "pbt/copied_at": self.frames})
            self.done = True
        return False


def member_trainable(config: dict, exp_dir: str | None = None) -> None:
    """One member: build the command's trainer, restore Ray's checkpoint if any, run the loop to
    the end with a ready point (report + checkpoint) every ``interval`` frames, then evaluate."""
    # Ray is heavy (1-2 s to import): imported where a trial runs
    from ray import tune
    from ray.tune import Checkpoint

    k = kind(config["command"])
    cfg = validate(from_dict(k.config_cls(), {**config["base"], "seed": int(config["seed"])}))
    set_threads(cfg.threads)
    # ``exp_dir``: where the experiment is now (the driver passes it on every start and restore);
    # the path in the trial config is where it was first started, which a moved folder no longer is
    mdir = member_dir(exp_dir or config["exp_dir"], config["member"])
    mdir.mkdir(parents=True, exist_ok=True)
    ck.remove_stale_temporaries(mdir / MEMBER_CKPT)
    trainer = k.factory(cfg)
    got = tune.get_checkpoint()
    state = meta = None
    if got is not None:
        with got.as_directory() as d:
            state, meta = ck.load(Path(d) / raytune.RAY_STATE)
    copied = state is not None and pending_copy(mdir, config)
    own = None if copied else newer_own_checkpoint(mdir, int(config["member"]), meta)
    if own is not None:  # Ray's record lags the member's own (a driver killed between the two): take the newer
        state, meta = own
    resumed = state is not None
    foreign = False
    if resumed:
        foreign = restore_member(trainer, state, meta, config, copied)
    else:
        apply_hparams(trainer, config)
    dump_yaml(cfg, mdir / "config.yaml")
    log = MetricsLog(mdir, trainer.frames if resumed else None)
    node = raytune.node_id()
    with open(mdir / "placement.jsonl", "a") as f:  # where each (re)start of this member ran
        f.write(json.dumps({"time": time.time(), "node": node, "frames": int(trainer.frames), "pid": os.getpid(),
                            "copied": foreign}) + "\n")
    ready = ReadyPoints(config, cfg, k.name, mdir, log, node, foreign, tune.report, Checkpoint.from_directory)
    donor = int(config["copy"]["donor"]) if copied else int(meta["member"]) if foreign else -1
    marks = [MarkCopy(donor, int(trainer.frames))] if foreign else []
    tracker = None
    if getattr(cfg, "track", False):  # --track: one W&B run per member (resumed across exploits), grouped by experiment
        from distillrl.runs.track import WandbTracker

        exp = mdir.parent.parent.name  # <experiment>/members/member-NN
        tracker = WandbTracker(cfg, mdir, k.name, group=exp, name=f"{exp}-{mdir.name}",
                               resume=(mdir / "wandb_id.txt").is_file())
        marks.append(tracker)
    try:
        run(trainer, [*marks, WriteMetrics(log), ready], until=cfg.steps, chunk=int(config["interval"]))
        log.close()
        summary = {"member": config["member"], "run_dir": str(mdir), "env": cfg.env, "steps": trainer.frames,
                   "node": node, "nodes": sorted({json.loads(x)["node"] for x in
                                                  (mdir / "placement.jsonl").read_text().splitlines() if x}),
                   "hparams": trainer.hp.as_dict(), **k.finish(trainer, cfg)}
        if int(config.get("select_episodes", 0)) > 0:  # the episodes the best member is chosen on
            summary.update(eval_selection(trainer, cfg, int(config["select_episodes"])))
        write_summary(mdir, summary)
        final = ready.metrics(trainer, True)
        final["eval_return"] = float(summary.get("mean_return", summary.get("student_return", math.nan)))
        final["eval_score"] = summary_score(summary)  # in the env family's convention (acting.protocols)
        if tracker is not None:
            tracker.finish(summary)
            tracker = None
        tune.report(final)
    finally:
        if tracker is not None:  # stopped (PBT restarts it elsewhere) or failed
            tracker.run.finish()
        trainer.close()
