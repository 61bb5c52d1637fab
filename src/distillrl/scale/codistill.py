"""Codistillation (Anil et al. 2018): peers trained in parallel teach each other.

N peers train the same model on their own data — here each its own seeds, so its own
environment stream (its shard) and its own initial weights. Each adds

    ψ · H( (1/(N−1)) Σ_{j≠i} π_j^stale(·|x) ‖ π_i(·|x) )

to its RL loss, on the states of its own rollouts, where π_j^stale are copies of the other
peers' weights that are refreshed only every K learner updates (the paper's point: rarely
exchanged, stale predictions suffice). Before ``burn_in`` frames the term is off.

The driver runs the peers in synchronous rounds of K updates: at the start of a round every
peer's weights are gathered and each peer receives the others'; then all peers advance K
updates at once — as Ray actors (this machine by default, a cluster with ``--address``), or
one after another in this process with ``--in-process``. Given the seeds, both give the same
result. ``--psi 0`` trains the same peers with no coupling: the independent-runs baseline.

Each peer is an ordinary run directory (``peer<i>/``: config, metrics, checkpoints, summary).
The experiment directory's ``summary.json`` adds *prediction churn*: on the states of all the
peers' greedy evaluation episodes, the share on which two peers' greedy actions differ
(Anil et al.'s reproducibility measure), for every pair.

Resuming: a round's checkpoints are committed together. Each peer writes ``round-<r>``; once
all have, ``codistill.json`` records the round and each peer makes it its ``last`` checkpoint,
so a run killed between two peers' writes resumes every peer from the same round. With
``--address``, each peer writes its directory on the node it runs on: the experiment
directory must be on a file system every node shares (as for ``pbt`` and ``sweep``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from distillrl.acting.cluster import check_address, init_ray, node_id
from distillrl.acting.evaluation import evaluate_modes, score_fields
from distillrl.algos import TrainConfig, make_trainer
from distillrl.config import dump_yaml, from_dict, knob, to_dict, validate
from distillrl.core import checkpoint
from distillrl.envs.make import gym_id, split_specs
from distillrl.errors import CheckpointError, ConfigError, RunDirError
from distillrl.models.fastpolicy import agent_weights
from distillrl.runs.kinds import set_threads
from distillrl.runs.loop import StopAfterUpdates, WriteMetrics, run, stderr_console
from distillrl.runs.rundir import (
    MetricsLog,
    prepare_run_dir,
    save_checkpoint,
    undo_if_failed_at_start,
    write_summary,
)
from distillrl.terms.codistill import CodistillTerm

STATE = "codistill.json"


@dataclass
class CodistillConfig(TrainConfig):
    """Codistillation: N peers, each on its own seeds, distil the mean of the others' stale policies."""

    algo: Literal["ppo", "a2c"] = knob("ppo", help="the peers' learner: ppo, or a2c (synchronous A2C: one epoch, one "
                                                   "minibatch; uses the ppo.* settings)")
    address: str | None = knob(None, help="run the peers as Ray actors on the cluster at HOST:PORT (default: start Ray "
                                          "on this machine)")
    peers: int = knob(2, "≥ 2", "number of peers N")
    psi: float = knob(1.0, "≥ 0", "ψ, weight of H(mean of the peers' stale policies ‖ own) (live: "
                                  "set_hparams(psi=...)); 0 trains independent runs")
    exchange_every: int = knob(32, "≥ 1", "K: learner updates between weight exchanges (how stale the peers' copies "
                                          "get)")
    burn_in: int = knob(0, "≥ 0", "frames each peer trains alone before the codistillation term switches on")
    in_process: bool = knob(False, help="run the peers one after another in this process instead of as Ray actors")

    def check(self) -> None:
        super().check()
        if self.algo not in ("ppo", "a2c"):
            raise ConfigError(f"codistill trains ppo or a2c peers, not {self.algo}")
        if self.online_distill:
            raise ConfigError("codistill does not combine with --online-distill")
        if self.in_process and self.address:
            raise ConfigError("--address places the peers on a Ray cluster; --in-process runs them here")
        if self.net.lstm > 0:
            raise ConfigError("codistill peers are feed-forward (their stale copies label single frames); drop --net.lstm")
        if len(split_specs(self.env)) > 1:
            raise ConfigError("codistill trains peers on one environment, not a task set")


def peer_seed(seed: int, i: int) -> int:
    """Peer ``i``'s seed: its weights, its environments (its data shard) and its sampling."""
    return seed + 1009 * i


def peer_config(cfg: CodistillConfig, i: int) -> TrainConfig:
    """Peer ``i``'s own run config: train's options with its seed."""
    d = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)}
    return dataclasses.replace(TrainConfig(**d), seed=peer_seed(cfg.seed, i))


class Peer:
    """One peer: a trainer with the codistillation term, in its own run directory.

    Plain Python: the driver uses it in-process or wraps it as a Ray actor."""

    def __init__(self, cfg_dict: dict, index: int, run_dir: str, resume: bool, committed: int):
        self.cfg = from_dict(CodistillConfig, cfg_dict)
        set_threads(self.cfg.threads)
        self.i = index
        self.dir = Path(run_dir)
        self.pcfg = peer_config(self.cfg, index)
        self.trainer = make_trainer(self.pcfg)
        self.term = CodistillTerm(self.cfg.psi, self.cfg.burn_in)
        self.trainer.add_loss(self.term)
        self.round = 0
        if resume:
            self._restore(committed)
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            dump_yaml(self.pcfg, self.dir / "config.yaml")
        self.log = MetricsLog(self.dir, self.trainer.frames if resume else None)

    # ---- checkpoints: one file per round (``round-<r>``); the driver commits a round once every
    # peer has written it, then each peer makes it ``last`` and drops the older ones
    def _ckpt(self, name: str) -> Path:
        return self.dir / "checkpoints" / f"{name}.safetensors"

    def _restore(self, committed: int) -> None:
        for p in (self._ckpt(f"round-{committed}"), self._ckpt("last")):
            if p.exists():
                state, meta = checkpoint.load(p)
                if int(meta.get("round", -1)) == committed:
                    self.trainer.load_state_dict(state)
                    self.round = committed
                    return
        if committed > 0:
            raise CheckpointError(f"{self.dir}: no checkpoint of committed round {committed}")

    def save(self) -> None:
        """Write this round's checkpoint (atomically; the committed ones are untouched)."""
        save_checkpoint(self.trainer, self.dir, self.pcfg, "codistill", {"round": self.round, "peer": self.i})
        os.replace(self._ckpt("last"), self._ckpt(f"round-{self.round}"))

    def commit(self, rnd: int) -> None:
        """Round ``rnd`` is committed: make it ``last`` and remove every other round's file."""
        src = self._ckpt(f"round-{rnd}")
        if src.exists():
            shutil.copyfile(src, self._ckpt("last.tmp"))
            os.replace(self._ckpt("last.tmp"), self._ckpt("last"))
        for p in self._ckpt("x").parent.glob("round-*.safetensors"):
            if p != src:
                p.unlink()

    # ---- the round
    def weights(self) -> dict[str, np.ndarray]:
        # copies: in-process, the next peer trains before the others read these
        return {k: v.copy() for k, v in agent_weights(self.trainer.agent).items()}

    def run_round(self, others: list[dict[str, np.ndarray]], version: int, updates: int) -> dict:
        """Receive the others' weights, then train ``updates`` learner updates (whole iterations;
        never past the run's frame budget). Returns frames, rows and the recent return."""
        tr = self.trainer
        self.term.set_peers(others, version)
        run(tr, [WriteMetrics(self.log), StopAfterUpdates(tr.updates + updates)], until=self.cfg.steps)
        self.round += 1
        rr = tr.recent_returns()
        return {"frames": tr.frames, "return": float(np.mean(rr)) if rr else float("nan")}

    def finish(self) -> dict:
        """Evaluation in both modes (the score in the env family's convention), and the states
        the greedy episodes visited (for churn); the last round is already committed."""
        self.log.close()
        cfg, tr = self.pcfg, self.trainer
        out: dict[str, Any] = {"peer": self.i, "seed": cfg.seed, "steps": tr.frames, "run_dir": str(self.dir),
                               "node": node_id()}
        states = None
        if self.cfg.eval_episodes > 0:
            res = evaluate_modes(tr, cfg.env, self.cfg.eval_episodes, 10_000 + self.cfg.seed, record_obs=True,
                                 max_episode_steps=cfg.max_episode_steps)
            out.update(score_fields(res, cfg.env))
            states = res["greedy"].observations
        checkpoint.atomic_write_text(self.dir / "summary.json", json.dumps(out, indent=2) + "\n")
        out["states"] = states
        return out

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        return np.argmax(self.trainer.policy(obs)[0], -1)

    def close(self) -> None:
        self.trainer.close()


def churn(actions: list[np.ndarray]) -> dict:
    """Prediction churn: for every pair of peers, the share of states where their greedy actions differ."""
    pairs = {f"{i}-{j}": float(np.mean(actions[i] != actions[j]))
             for i, j in itertools.combinations(range(len(actions)), 2)}
    return {"churn": float(np.mean(list(pairs.values()))) if pairs else float("nan"), "churn_pairs": pairs}


def run_codistill(cfg: CodistillConfig, run_dir: Path, resume: bool, progress: bool = True) -> dict:
    """Train the peers in rounds, evaluate them, measure churn; write the experiment's summary.
    Bad input (options, environment, an unreachable ``--address``) fails before anything is
    written; a new run that fails before its first checkpoint leaves nothing behind."""
    validate(cfg)
    gym_id(cfg.env)
    if cfg.address and not cfg.in_process:
        check_address(cfg.address)
    prepare_run_dir(run_dir, resume)
    with undo_if_failed_at_start(run_dir, resume):
        return _run_peers(cfg, run_dir, resume, progress)


def _run_peers(cfg: CodistillConfig, run_dir: Path, resume: bool, progress: bool) -> dict:
    committed = 0
    if resume:
        if not (run_dir / "config.yaml").exists():
            raise RunDirError(f"cannot resume: {run_dir} has no config.yaml")
        if (run_dir / STATE).exists():
            committed = int(json.loads((run_dir / STATE).read_text())["round"])
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_yaml(cfg, run_dir / "config.yaml")
    d = to_dict(cfg)
    n = cfg.peers
    dirs = [str(run_dir / f"peer{i}") for i in range(n)]
    if cfg.in_process:
        peers = [Peer(d, i, dirs[i], resume, committed) for i in range(n)]

        def call(method, args_per_peer):
            return [getattr(p, method)(*a) for p, a in zip(peers, args_per_peer)]
    else:
        import ray  # Ray is heavy (1-2 s to import): only for peers as Ray actors

        found = init_ray(cfg.address, log_dir=run_dir)
        cpus = max(0.01, min(1.0, np.floor(100 * found["cpus"] / n) / 100))
        Remote = ray.remote(num_cpus=float(cpus), max_restarts=0)(Peer)
        peers = [Remote.remote(d, i, dirs[i], resume, committed) for i in range(n)]

        def call(method, args_per_peer):
            return ray.get([getattr(p, method).remote(*a) for p, a in zip(peers, args_per_peer)])

    t0 = time.perf_counter()
    total = cfg.steps * n
    next_ckpt = cfg.checkpoint_every
    rnd = committed
    frames = [0] * n
    try:
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                   TextColumn("return {task.fields[ret]}"), TimeRemainingColumn()]
        with Progress(*columns, disable=not progress, console=stderr_console()) as bar:
            task = bar.add_task(f"codistill ×{n} {cfg.env}", total=total, ret="-")
            while min(frames) < cfg.steps:
                ws = call("weights", [()] * n)
                args = [([w for j, w in enumerate(ws) if j != i], rnd, cfg.exchange_every) for i in range(n)]
                res = call("run_round", args)
                rnd += 1
                frames = [r["frames"] for r in res]
                bar.update(task, completed=sum(frames), ret=" ".join(f"{r['return']:.1f}" for r in res))
                if min(frames) >= next_ckpt or min(frames) >= cfg.steps:
                    call("save", [()] * n)
                    checkpoint.atomic_write_text(run_dir / STATE, json.dumps({"round": rnd}))
                    call("commit", [(rnd,)] * n)
                    next_ckpt = (min(frames) // cfg.checkpoint_every + 1) * cfg.checkpoint_every
        fin = call("finish", [()] * n)
        states = [f.pop("states") for f in fin]
        summary: dict[str, Any] = {"run_dir": str(run_dir), "env": cfg.env, "peers": n, "psi": cfg.psi,
                                   "exchange_every": cfg.exchange_every, "steps_per_peer": min(frames),
                                   "total_frames": sum(frames), "wall_s": time.perf_counter() - t0,
                                   "nodes": len({f["node"] for f in fin}), "per_peer": fin}
        if all(s is not None for s in states):
            pool = np.concatenate(states)
            acts = call("greedy", [(pool,)] * n)
            summary.update({"churn_states": len(pool), **churn(acts)})
            rets = [f["mean_return"] for f in fin]
            summary.update({"mean_return": float(np.mean(rets)), "peer_returns": rets,
                            "score": float(np.mean([f["score"] for f in fin])), "score_mode": fin[0]["score_mode"],
                            "peer_scores": [f["score"] for f in fin]})
        write_summary(run_dir, summary)
        return summary
    finally:
        if not cfg.in_process:
            import ray  # heavy (see above)

            for p in peers:
                ray.kill(p)
        else:
            for p in peers:
                p.close()
