"""A PBT member: one Ray Tune trial that drives the command's trainer, reporting (with a checkpoint)
at every ready point."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from distillrl.config import dump_yaml, from_dict, validate
from distillrl.scale import raytune  # noqa: F401  (sets Ray's environment before Ray is imported)

MEMBER_CKPT = "checkpoints/last.safetensors"


def member_dir(exp_dir: str | Path, member: int) -> Path:
    return Path(exp_dir) / "members" / f"member-{member:02d}"


def tuned(config: dict) -> dict[str, float]:
    return {k: float(v) for k, v in config["hparams"].items()}


def restore_member(trainer, state: dict, meta: dict, config: dict) -> bool:
    """Load a checkpoint (the member's own, or a donor's after exploit) and then apply this
    member's hyper-parameters. Returns True when the state came from another member."""
    trainer.load_state_dict(state)
    foreign = int(meta.get("member", -1)) != int(config["member"])
    if foreign:  # a copy: continue with this member's own noise, not the donor's
        s = [int(config["seed"]), trainer.frames, 104729]
        trainer.gen.manual_seed(int(np.random.SeedSequence(s).generate_state(1)[0]))
        trainer.np_rng.bit_generator.state = np.random.default_rng(s).bit_generator.state
    apply_hparams(trainer, config)
    return foreign


def apply_hparams(trainer, config: dict) -> None:
    """The member's tuned values, in effect from the very next update (after any restore)."""
    trainer.set_hparams(**tuned(config))


def _link_or_copy(src: Path, dst: Path) -> None:
    """The checkpoint just written, handed to Ray without writing it a second time (the member's
    ``last.safetensors`` is replaced atomically later, so the link keeps this version)."""
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copyfile(src, dst)


def member_trainable(config: dict, exp_dir: str | None = None) -> None:
    """One member: build the command's trainer, restore Ray's checkpoint if any, train to the
    end reporting (with a checkpoint) every ``interval`` frames, then evaluate."""
    import ray.tune as tune
    from ray.tune import Checkpoint

    from distillrl.core import checkpoint as ck
    from distillrl.runs.kinds import kind, set_threads
    from distillrl.runs.rundir import MetricsLog, save_checkpoint, write_summary

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
    resumed = got is not None
    foreign = False
    if resumed:
        with got.as_directory() as d:
            state, meta = ck.load(Path(d) / "state.safetensors")
        foreign = restore_member(trainer, state, meta, config)
    else:
        apply_hparams(trainer, config)
    dump_yaml(cfg, mdir / "config.yaml")
    log = MetricsLog(mdir, trainer.frames if resumed else None)
    interval, window, node = int(config["interval"]), int(config["window"]), raytune.node_id()
    with open(mdir / "placement.jsonl", "a") as f:  # where each (re)start of this member ran
        f.write(json.dumps({"time": time.time(), "node": node, "frames": int(trainer.frames), "pid": os.getpid(),
                            "copied": foreign}) + "\n")
    fault = config.get("fault") or {}
    last_row: dict = {}

    def metrics(final: bool) -> dict:
        rr = list(trainer.stats.recent)[-window:]
        out = {"frames": int(trainer.frames), "member": int(config["member"]),
               "return_recent": float(np.mean(rr)) if rr else math.nan, "returns": [float(x) for x in rr],
               "node": node, "final": final, "restored_from_other": foreign}
        out.update({f"hp/{n}": float(v) for n, v in trainer.hp.as_dict().items()})
        out.update({k2: float(v) for k2, v in last_row.items() if k2.startswith("kickstart/lambda")})
        return out

    try:
        while trainer.frames < cfg.steps:
            rows = trainer.advance(min(interval, cfg.steps - trainer.frames))
            log.write(rows)
            if rows:
                last_row = rows[-1]
            if fault and int(fault.get("member", -1)) == int(config["member"]) and \
                    trainer.frames >= int(fault.get("frames", 0)) and not (mdir / "fault-injected").exists():
                (mdir / "fault-injected").write_text(f"crash injected at {trainer.frames} frames\n")
                if fault.get("how", "exit") == "exit":
                    log.close()
                    os._exit(3)  # a hard crash: the worker process dies
                raise RuntimeError(f"injected fault in member {config['member']} at {trainer.frames} frames")
            save_checkpoint(trainer, mdir, cfg, k.name, meta={"member": int(config["member"])})
            with tempfile.TemporaryDirectory(prefix=".handover-", dir=mdir, ignore_cleanup_errors=True) as tmp:
                _link_or_copy(mdir / MEMBER_CKPT, Path(tmp) / "state.safetensors")  # Ray copies it to storage
                tune.report(metrics(trainer.frames >= cfg.steps), checkpoint=Checkpoint.from_directory(tmp))
        log.close()
        summary = {"member": config["member"], "run_dir": str(mdir), "env": cfg.env, "steps": trainer.frames,
                   "node": node, "nodes": sorted({json.loads(x)["node"] for x in
                                                  (mdir / "placement.jsonl").read_text().splitlines() if x}),
                   "hparams": trainer.hp.as_dict(), **k.finish(trainer, cfg)}
        write_summary(mdir, summary)
        final = metrics(True)
        final["eval_return"] = float(summary.get("mean_return", summary.get("student_return", math.nan)))
        tune.report(final)
    finally:
        trainer.close()
