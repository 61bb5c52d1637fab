"""Meta-learning a policy that adapts to a new task in K steps (SPEC §11): ES outer loop, DPG inner loop.

Meta-parameters θ (the actor μ_θ); a task family (:mod:`distillrl.envs.families`). The fitness of
θ on a task is the return of the policy after adapting to it (:mod:`adapt`). Methods
(``--method``), all on the same tasks, budgets and networks:

* ``es-dpg`` — the seed's system: ES on θ, each perturbation adapted by K DPG steps.
* ``es-zero`` — ES on θ with zero-order adaptation (K ES steps on the task; ES-MAML).
* ``fomaml`` — gradient-based meta-learning: first-order MAML with K policy-gradient inner steps
  (per task: adapt on one batch, take the policy gradient of a second batch at the adapted
  parameters, apply the mean over tasks to θ with Adam). Tested with PG adaptation.
* ``multitask`` — no meta-learning: ES on the *unadapted* return over sampled tasks (a
  multi-task-pretrained policy), adapted at test time by K DPG steps.

ES (Salimans et al. 2017): antithetic pairs θ ± σε_i, rank-normalised fitness (the mean over the
generation's tasks, the same tasks and episode seeds for every member), an Adam step on the
estimate. The update itself is EvoTorch's functional PGPE (``symmetric=True``,
``ranking_method="centered"``, ``optimizer="adam"``, ``stdev_learning_rate=0``: σ stays what the
live hyper-parameter says), which *is* that estimator; we do not rewrite it. EvoTorch's
distributed mode ships whole solution vectors to its Ray actors (or has each actor sample its own,
so results depend on the number of actors); here workers receive θ once per generation (Ray's
object store) and *seeds*, regenerate ε_i from them, and every job's randomness comes from its own
seed — one worker or eight give the same run (:class:`Workers`). The driver rebuilds the
population from the same seeds for EvoTorch's update.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from distillrl.algos.adapt import ADAPTERS, AdaptSettings, evaluate, get_flat, pg_gradient, rollout, set_flat
from distillrl.config import Live, knob, live_knobs, validate
from distillrl.core.hparams import HParams
from distillrl.envs.families import family as task_family
from distillrl.errors import ConfigError
from distillrl.models.ddpg import Actor

METHODS = {
    # method: (outer loop, inner loop used for fitness during meta-training, inner loop at test time)
    "es-dpg": ("es", "dpg", "dpg"),
    "es-zero": ("es", "zero-order", "zero-order"),
    "fomaml": ("fomaml", "pg", "pg"),
    "multitask": ("es", None, "dpg"),
}


@dataclass
class MetaConfig:
    """Meta-learn a policy that adapts to a new task of a family in K steps: evolution strategies
    outside, deterministic policy gradients inside (and the baselines: --method)."""

    family: str = knob("point-nav", help="task family: point-nav, halfcheetah-vel, halfcheetah-dir, ant-dir "
                                         "(the MuJoCo ones need distillrl[mujoco]); see distillrl envs --family meta")
    method: Literal["es-dpg", "es-zero", "fomaml", "multitask"] = knob(
        "es-dpg", help="es-dpg (ES outer loop, K DPG adaptation steps), es-zero (ES, zero-order adaptation), fomaml "
                       "(first-order MAML, policy-gradient inner steps), multitask (ES on the unadapted return, DPG "
                       "adaptation at test time)")
    env: str = knob("", help="(set from --family: meta:<family>)")
    steps: int = knob(2_000_000, "≥ 1", "environment frames of meta-training (every member's adaptation batches and "
                                        "fitness episodes; evaluation on test tasks not counted)")
    seed: int = knob(1, "≥ 0", "random seed (initial weights, perturbations, task draws, episodes)")
    threads: int = knob(1, "≥ 1", "torch CPU threads of this process")
    checkpoint_every: int = knob(200_000, "≥ 1", "frames between checkpoints")
    k: int = knob(1, "≥ 1", "adaptation steps K (live: rounded)")
    inner_lr: float = knob(0.05, "> 0", "inner-loop step size α (live)")
    adapt_episodes: int = knob(2, "≥ 1", "episodes of the adaptation batch")
    explore_noise: float = knob(0.5, "(0, 1]", "exploration noise of the adaptation batch (fraction of the action "
                                               "half-range); also the PG policy's σ")
    critic_steps: int = knob(100, "≥ 1", "Adam steps fitting the critic to the adaptation batch")
    critic_lr: float = knob(3e-3, "> 0", "critic learning rate")
    gamma: float = knob(0.9, "[0, 1]", "discount of the critic's returns-to-go (short: the critic is fitted to a few "
                                       "episodes, and near rewards carry the action's effect)")
    max_grad_norm: float = knob(1.0, "≥ 0", "clip each inner step's gradient norm (0: no clipping)")
    population: int = knob(8, "≥ 2", "ES perturbations per generation: antithetic pairs, so even (live: rounded "
                                      "to even)")
    sigma: float = knob(0.05, "> 0", "ES perturbation σ (live)")
    lr: float = knob(0.003, "> 0", "outer learning rate, Adam (live)")
    tasks_per_gen: int = knob(2, "≥ 1", "training tasks per generation (every member is scored on the same ones)")
    fitness_episodes: int = knob(1, "≥ 1", "episodes scoring an adapted policy")
    train_tasks: int = knob(100, "≥ 1", "size of the training task pool")
    test_tasks: int = knob(10, "≥ 1", "size of the held-out test task pool (the final evaluation uses all)")
    task_seed: int = knob(0, "≥ 0", "seed of the task pools (the same pools for every run seed)")
    eval_every: int = knob(10, "≥ 0", "generations between evaluations on test tasks during training (0: none)")
    eval_tasks: int = knob(4, "≥ 1", "test tasks of the evaluations during training")
    eval_k: str = knob("", help="K values of the final evaluation, comma-separated, e.g. 1,3,5 (default: --k)")
    workers: int = knob(0, "≥ 0", "Ray worker processes evaluating jobs in parallel (0: this process)")
    address: str = knob("", help="join the Ray cluster at HOST:PORT (default: Ray on this machine)")
    zo_directions: int = knob(4, "≥ 1", "es-zero: antithetic pairs per zero-order adaptation step")
    zo_sigma: float = knob(0.05, "> 0", "es-zero: perturbation σ of the zero-order adaptation")
    hidden: int = knob(64, "≥ 1", "hidden units of the actor's and critic's two layers")

    LIVE = ("lr", "sigma", "inner_lr", "population", "k")

    def check(self) -> None:
        task_family(self.family)
        if METHODS[self.method][0] == "es" and self.population % 2:
            raise ConfigError(f"--population must be even (antithetic pairs θ ± σε), got {self.population}")
        eval_ks(self)

    def settings(self, **over) -> AdaptSettings:
        names = {f.name for f in dataclasses.fields(AdaptSettings)}
        return AdaptSettings(**{**{n: getattr(self, n) for n in names}, **over})


def eval_ks(cfg: MetaConfig) -> list[int]:
    if not cfg.eval_k.strip():
        return [cfg.k]
    try:
        ks = [int(x) for x in cfg.eval_k.split(",")]
    except ValueError:
        raise ConfigError(f"--eval-k takes integers joined by commas (e.g. 1,3,5), not {cfg.eval_k!r}") from None
    if min(ks) < 1:
        raise ConfigError(f"--eval-k values must be ≥ 1, got {cfg.eval_k!r}")
    return ks


def meta_live_hparams(cfg: MetaConfig) -> dict[str, Live]:
    return live_knobs(cfg)


def prepare_meta(cfg: MetaConfig) -> MetaConfig:
    validate(cfg)
    return dataclasses.replace(cfg, env=f"meta:{cfg.family}")


# ---- jobs and workers
def noise(seed: int, dim: int) -> torch.Tensor:
    """ε of an ES direction, regenerated from its seed (the same in every process)."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(dim, generator=g)


def rank_normalise(fitness) -> torch.Tensor:
    """Centred ranks in [-0.5, 0.5] (the worst −0.5, the best +0.5, evenly spaced): EvoTorch's
    ``centered`` ranking, which the ES update applies to the generation's fitness."""
    from evotorch.tools.ranking import centered  # heavy (see MetaTrainer)

    return centered(torch.as_tensor(fitness, dtype=torch.float32))


def es_gradient(center: torch.Tensor, sigma: float, dseeds, fitness, ranking: str = "centered") -> torch.Tensor:
    """SPEC §11's antithetic estimate ``g = 1/(2nσ) Σ_i [F(θ+σε_i) − F(θ−σε_i)] ε_i`` from the
    direction seeds and the fitness of the population laid out as [+ε_0, −ε_0, +ε_1, −ε_1, …]
    (``ranking``: ``centered`` ranks, as training uses, or ``raw`` fitness). Computed by the same
    EvoTorch estimator the update uses (its PGPE form is σ² times this; Adam is indifferent)."""
    from evotorch.algorithms.functional.funcpgpe import _symmetric_grad  # heavy (see MetaTrainer)

    eps = torch.stack([noise(int(d), center.numel()) for d in dseeds])
    values = torch.stack([center + sigma * eps, center - sigma * eps], 1).reshape(-1, center.numel())
    g = _symmetric_grad(values, torch.as_tensor(fitness, dtype=center.dtype), mu=center,
                        sigma=torch.full_like(center, sigma), objective_sense="max", ranking_method=ranking)
    return g["mu"] / sigma**2


class MetaWorker:
    """Runs jobs of one family: a cached env whose task is switched, one actor. In a Ray actor or
    in the driver's own process (``--workers 0``)."""

    def __init__(self, family: str, hidden: int):
        torch.set_num_threads(1)
        self.fam = task_family(family)
        self.env = self.fam.make(self.fam.pools(1, 1)[1][0])
        space = self.env.action_space
        self.actor = Actor(self.env.observation_space.shape[0], space.shape[0], space.low, space.high, hidden)
        self.dim = get_flat(self.actor).numel()

    def _task(self, task) -> None:
        self.env.get_wrapper_attr("set_task")(np.asarray(task, np.float64))

    def run(self, payload: dict, jobs: Sequence[dict]) -> list[dict]:
        return [self.one(payload, j) for j in jobs]

    def one(self, payload: dict, job: dict) -> dict:
        center = torch.as_tensor(payload["center"])
        s: AdaptSettings = payload["settings"]
        self._task(job["task"])
        theta = center
        if job.get("dseed") is not None:
            theta = center + job["sign"] * payload["sigma"] * noise(job["dseed"], center.numel())
        set_flat(self.actor, theta)
        if job["kind"] == "fitness":
            info = {"frames": 0, "batch_return": np.nan}
            if payload["adapter"] is not None:
                info = ADAPTERS[payload["adapter"]](self.actor, self.env, s, job["seed"])
            ret, n = evaluate(self.env, self.actor, payload["episodes"], job["seed"] + 1)
            return {"fitness": ret, "frames": info["frames"] + n, "batch_return": info["batch_return"]}
        if job["kind"] == "fomaml":  # adapt on one batch, policy gradient of a second at θ'
            info = ADAPTERS["pg"](self.actor, self.env, s, job["seed"])
            batch = rollout(self.env, self.actor, s.adapt_episodes, s.explore_noise, job["seed"] + 1, s.gamma)
            g = pg_gradient(self.actor, batch, s.explore_noise)
            return {"grad": g.numpy(), "fitness": float(np.mean(batch.episode_returns)),
                    "frames": info["frames"] + batch.frames, "batch_return": info["batch_return"]}
        if job["kind"] == "eval":  # before and after K adaptation steps, for each K asked
            pre, n = evaluate(self.env, self.actor, payload["episodes"], job["seed"] + 1)
            out = {"pre": pre, "frames": n}
            for k in job["ks"]:
                set_flat(self.actor, theta)
                info = ADAPTERS[payload["adapter"]](self.actor, self.env, dataclasses.replace(s, k=k), job["seed"])
                post, n = evaluate(self.env, self.actor, payload["episodes"], job["seed"] + 1)
                out[f"post_k{k}"] = post
                out["frames"] += n + info["frames"]
            return out
        raise ValueError(f"unknown job kind {job['kind']!r}")

    def node(self) -> str:
        from distillrl.acting.cluster import node_id

        return node_id()


class Workers:
    """Jobs on ``n`` Ray actors (θ put in the object store once per call; jobs dealt round-robin,
    results put back in job order) or in this process (``n`` = 0). Each job's randomness is its
    own seed's, so the results do not depend on ``n``."""

    def __init__(self, family: str, hidden: int, n: int, address: str = ""):
        self.n = n
        self.local = MetaWorker(family, hidden)
        self.actors: list = []
        self.nodes: dict[str, int] = {"local": 1}
        if n > 0:
            import ray  # heavy: only with Ray workers

            from distillrl.acting.cluster import RAY_ENV, init_ray

            init_ray(address or None)
            remote = ray.remote(num_cpus=1, max_restarts=0, runtime_env={"env_vars": dict(RAY_ENV)})(MetaWorker)
            self.actors = [remote.remote(family, hidden) for _ in range(n)]
            self.nodes = {}
            for nd in ray.get([a.node.remote() for a in self.actors]):
                self.nodes[nd] = self.nodes.get(nd, 0) + 1

    def run(self, payload: dict, jobs: list[dict]) -> list[dict]:
        if not self.actors:
            return self.local.run(payload, jobs)
        import ray  # heavy (see above)

        ref = ray.put(payload)
        chunks = [jobs[i::self.n] for i in range(self.n)]
        outs = ray.get([a.run.remote(ref, c) for a, c in zip(self.actors, chunks) if c])
        res: list[dict] = [{}] * len(jobs)
        for i, out in enumerate(outs):
            res[i::self.n] = out
        return res

    def close(self) -> None:
        if self.actors:
            import ray  # heavy (see above)

            for a in self.actors:
                try:
                    ray.kill(a)
                except Exception:  # already gone
                    pass
            self.actors = []


class MetaAgent(nn.Module):
    """The meta-learned actor, as checkpoints describe it (``agent.spec()``)."""

    def __init__(self, actor: Actor, spec: dict):
        super().__init__()
        self.actor = actor
        self._spec = spec

    def spec(self) -> dict:
        return dict(self._spec)


# ---- the trainer
class MetaTrainer:
    """ES (or first-order MAML) meta-training as a :class:`~distillrl.core.protocol.Trainer`:
    one update round is one generation; the run loop gives it a run directory, checkpoints,
    resume, progress and metrics like any other trainer."""

    unit = "frames"
    log_every = 1

    def __init__(self, cfg: MetaConfig):
        validate(cfg)
        self.cfg = cfg
        self.outer, self.train_adapter, self.test_adapter = METHODS[cfg.method]
        self.algo = f"meta-{cfg.method}"
        self.env = cfg.env or f"meta:{cfg.family}"
        self.fam = task_family(cfg.family)
        self.train_pool, self.test_pool = self.fam.pools(cfg.train_tasks, cfg.test_tasks, cfg.task_seed)
        self.total_frames = cfg.steps
        self.hp = HParams(meta_live_hparams(cfg))
        self.workers = Workers(cfg.family, cfg.hidden, cfg.workers, cfg.address)
        torch.manual_seed(cfg.seed)
        probe = self.workers.local
        space = probe.env.action_space
        self.actor = Actor(probe.env.observation_space.shape[0], space.shape[0], space.low, space.high, cfg.hidden)
        self.agent = MetaAgent(self.actor, {
            "kind": "meta-actor", "family": cfg.family, "method": cfg.method, "obs_dim": int(probe.env.observation_space.shape[0]),
            "act_dim": int(space.shape[0]), "low": [float(x) for x in space.low], "high": [float(x) for x in space.high],
            "hidden": cfg.hidden, "explore_noise": cfg.explore_noise})
        self.frames = 0
        self.eval_frames = 0
        self.gen = 0
        self.entropy: list[int] = [cfg.seed]
        self._fitness: list[float] = []
        self._wall = 0.0
        self._evaluated = 0  # (perturbation or task) adaptations evaluated: the throughput figure's numerator
        center = get_flat(self.actor)
        if self.outer == "es":
            try:  # heavy (2 s, pulls in Ray): only when ES runs
                from evotorch.algorithms.functional import pgpe
            except ImportError:
                self.workers.close()
                raise ConfigError(f"--method {cfg.method} needs EvoTorch: pip install 'distillrl[meta]'") from None

            self.es = pgpe(center_init=center, center_learning_rate=self.hp["lr"], stdev_learning_rate=0.0,
                           objective_sense="max", ranking_method="centered", optimizer="adam",
                           stdev_init=self.hp["sigma"], stdev_max_change=None, symmetric=True)
        else:
            self.theta = nn.Parameter(center.clone())
            self.opt = torch.optim.Adam([self.theta], lr=self.hp["lr"], maximize=True)

    # -- protocol
    @property
    def updates(self) -> int:
        return self.gen

    @property
    def n_params(self) -> int:
        return int(get_flat(self.actor).numel())

    @property
    def center(self) -> torch.Tensor:
        return (self.es.optimizer_state.center if self.outer == "es" else self.theta).detach().clone()

    def set_hparams(self, **values: float) -> None:
        self.hp.set(**values)

    def recent_returns(self) -> list[float]:
        return list(self._fitness)

    def reseed(self, entropy: Sequence[int]) -> None:
        self.entropy = [int(x) for x in entropy]

    def advance(self, frames: int) -> list[dict]:
        rows: list[dict] = []
        target = self.frames + frames
        while self.frames < target:
            rows += self.step()
        return rows

    def _settings(self) -> AdaptSettings:
        return self.cfg.settings(k=max(1, int(round(self.hp["k"]))), inner_lr=self.hp["inner_lr"])

    def _population(self) -> int:
        return max(2, 2 * int(round(self.hp["population"] / 2)))

    def step(self) -> list[dict]:
        t0 = time.perf_counter()
        cfg = self.cfg
        rng = np.random.default_rng([*self.entropy, self.gen, 11])
        idx = rng.choice(len(self.train_pool), cfg.tasks_per_gen, replace=len(self.train_pool) < cfg.tasks_per_gen)
        tasks = self.train_pool[idx]
        task_seeds = rng.integers(2**31 - 2, size=len(tasks))
        s = self._settings()
        center = self.center
        payload = {"center": center.numpy(), "settings": s, "episodes": cfg.fitness_episodes,
                   "adapter": self.train_adapter, "sigma": self.hp["sigma"]}
        row: dict = {}
        if self.outer == "es":
            pop = self._population()
            dseeds = rng.integers(2**31 - 1, size=pop // 2)
            jobs = [{"kind": "fitness", "dseed": int(d), "sign": sign, "task": t, "seed": int(ts)}
                    for d in dseeds for sign in (1, -1) for t, ts in zip(tasks, task_seeds)]
            res = self.workers.run(payload, jobs)
            fit = np.array([r["fitness"] for r in res]).reshape(pop, len(tasks)).mean(1)
            self._es_update(center, dseeds, fit)
            frames = sum(r["frames"] for r in res)
            batch = [r["batch_return"] for r in res]
            row = {"meta/fitness_mean": float(fit.mean()), "meta/fitness_max": float(fit.max()),
                   "meta/fitness_min": float(fit.min()), "meta/population": pop}
        else:  # first-order MAML: the mean over tasks of the policy gradient at the adapted parameters
            jobs = [{"kind": "fomaml", "task": t, "seed": int(ts)} for t, ts in zip(tasks, task_seeds)]
            res = self.workers.run(payload, jobs)
            for g in self.opt.param_groups:
                g["lr"] = self.hp["lr"]
            self.opt.zero_grad()
            self.theta.grad = torch.as_tensor(np.mean([r["grad"] for r in res], 0), dtype=torch.float32)
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_([self.theta], cfg.max_grad_norm)
            self.opt.step()
            fit = np.array([r["fitness"] for r in res])
            frames = sum(r["frames"] for r in res)
            batch = [r["batch_return"] for r in res]
            row = {"meta/fitness_mean": float(fit.mean()), "meta/fitness_max": float(fit.max()),
                   "meta/fitness_min": float(fit.min())}
        set_flat(self.actor, self.center)
        self._evaluated += len(res)
        self.frames += int(frames)
        self.gen += 1
        self._fitness = [float(x) for x in fit]
        self._wall += time.perf_counter() - t0
        row = {"frames": self.frames, "meta/generation": self.gen, **row,
               "meta/adapt_batch_return": float(np.nanmean(batch)) if np.isfinite(batch).any() else float("nan"),
               "meta/wall_s": self._wall, "meta/evaluations_per_s": self._evaluated / max(self._wall, 1e-9),
               **{f"hparams/{k}": v for k, v in self.hp.as_dict().items()}}
        if cfg.eval_every and self.gen % cfg.eval_every == 0:
            ev = self.evaluate(self.test_pool[:cfg.eval_tasks], [s.k], seed=10_000)
            row["meta/test_pre_return"] = float(np.mean([e["pre"] for e in ev]))
            row["meta/test_post_return"] = float(np.mean([e[f"post_k{s.k}"] for e in ev]))
        row["meta/eval_frames"] = self.eval_frames
        return [row]

    def _es_update(self, center: torch.Tensor, dseeds, fit: np.ndarray) -> None:
        from evotorch.algorithms.functional import pgpe_tell  # heavy (see __init__)

        sigma = self.hp["sigma"]
        eps = torch.stack([noise(int(d), center.numel()) for d in dseeds])
        values = torch.stack([center + sigma * eps, center - sigma * eps], 1).reshape(-1, center.numel())
        state = self.es._replace(stdev=torch.full_like(center, sigma),
                                 optimizer_state=self.es.optimizer_state._replace(
                                     center_learning_rate=torch.as_tensor(self.hp["lr"], dtype=center.dtype)))
        self.es = pgpe_tell(state, values, torch.as_tensor(fit, dtype=center.dtype))

    def evaluate(self, tasks: np.ndarray, ks: Sequence[int], seed: int, center: torch.Tensor | None = None) -> list[dict]:
        """Pre- and post-adaptation returns of θ (the center) on ``tasks``, for each K in ``ks``
        (the method's own test-time adaptation). Episode seeds from ``seed`` and the task index."""
        payload = {"center": (self.center if center is None else center).numpy(), "settings": self._settings(),
                   "episodes": self.cfg.fitness_episodes, "adapter": self.test_adapter, "sigma": 0.0}
        jobs = [{"kind": "eval", "task": t, "seed": seed + 7919 * i, "ks": list(ks)} for i, t in enumerate(tasks)]
        res = self.workers.run(payload, jobs)
        self.eval_frames += int(sum(r["frames"] for r in res))
        return [{"task": [float(x) for x in t], **{k: v for k, v in r.items() if k != "frames"}}
                for t, r in zip(tasks, res)]

    # -- state
    def state_dict(self) -> dict:
        st: dict = {"center": self.center, "gen": self.gen, "frames": self.frames, "eval_frames": self.eval_frames,
                    "hp": self.hp.as_dict(), "entropy": list(self.entropy), "fitness": list(self._fitness),
                    "wall": self._wall, "evaluated": self._evaluated}
        if self.outer == "es":
            o = self.es.optimizer_state
            st["adam"] = {"m": o.m, "v": o.v, "t": o.t}
        else:
            st["adam"] = self.opt.state_dict()
        return st

    def load_state_dict(self, state: dict) -> None:
        from distillrl.errors import CheckpointError

        center = torch.as_tensor(state["center"], dtype=torch.float32)
        if center.numel() != self.n_params:
            raise CheckpointError(f"the checkpoint's actor has {center.numel()} parameters, this config's "
                                  f"{self.n_params} (a different --hidden or family?)")
        self.gen, self.frames, self.eval_frames = int(state["gen"]), int(state["frames"]), int(state["eval_frames"])
        self.hp.set(**state["hp"])
        self.entropy = [int(x) for x in state["entropy"]]
        self._fitness = [float(x) for x in state["fitness"]]
        self._wall = float(state.get("wall", 0.0))
        self._evaluated = int(state.get("evaluated", 0))
        if self.outer == "es":
            a = state["adam"]
            self.es = self.es._replace(optimizer_state=self.es.optimizer_state._replace(
                center=center, m=torch.as_tensor(a["m"]), v=torch.as_tensor(a["v"]), t=torch.as_tensor(a["t"])))
        else:
            with torch.no_grad():
                self.theta.copy_(center)
            self.opt.load_state_dict(state["adam"])
        set_flat(self.actor, center)

    def export(self, run_dir) -> None:
        pass

    def close(self) -> None:
        self.workers.close()


def finish_meta(trainer: MetaTrainer, cfg: MetaConfig) -> dict:
    """θ on every held-out test task, before and after K adaptation steps for each K of
    ``--eval-k`` (the method's own test-time inner loop); intervals are over the test tasks of
    this one run (n stated), not over training seeds."""
    from distillrl.core.stats import t_interval

    ks = eval_ks(cfg)
    ev = trainer.evaluate(trainer.test_pool, ks, seed=20_000)
    pre = t_interval([e["pre"] for e in ev])
    out: dict = {"family": cfg.family, "method": cfg.method, "generations": trainer.gen,
                 "held_out": trainer.fam.held_out, "test_tasks": len(ev),
                 "pre_return": pre["mean"], "pre_lo": pre["lo"], "pre_hi": pre["hi"]}
    for k in ks:
        post = t_interval([e[f"post_k{k}"] for e in ev])
        gain = t_interval([e[f"post_k{k}"] - e["pre"] for e in ev])
        out |= {f"post_return_k{k}": post["mean"], f"post_lo_k{k}": post["lo"], f"post_hi_k{k}": post["hi"],
                f"gain_k{k}": gain["mean"], f"gain_lo_k{k}": gain["lo"], f"gain_hi_k{k}": gain["hi"]}
    out["mean_return"] = out[f"post_return_k{cfg.k if cfg.k in ks else ks[0]}"]  # what sweeps and PBT read
    out["interval"] = (f"95 % t-interval over the {len(ev)} test tasks of this run (one training seed)"
                       + ("" if trainer.fam.held_out else "; this family's test tasks are its training tasks"))
    out["eval_frames"] = trainer.eval_frames
    out["workers"], out["nodes"] = cfg.workers, len(trainer.workers.nodes)
    # throughput of meta-training alone (evaluation excluded): one evaluation is one perturbation
    # (es-*) or one task (fomaml) adapted by the inner loop and scored on one task
    out["train_wall_s"] = trainer._wall
    out["evaluations_per_s"] = trainer._evaluated / max(trainer._wall, 1e-9)
    out["per_task"] = [{"task": "/".join(f"{x:g}" for x in e["task"]), "pre": e["pre"],
                        **{f"post_k{k}": e[f"post_k{k}"] for k in ks}} for e in ev]
    return out


def eval_meta(source: str, task: str | None, ks: Sequence[int] | None, episodes: int, seed: int,
              tasks: int | None = None) -> dict:
    """``distillrl eval`` of a meta run or checkpoint: adapt θ to ``task`` (default: the run's
    held-out test tasks, the first ``tasks`` of them) with the method's own inner loop, K steps for
    each K of ``ks`` (default: the run's ``--eval-k``), and report the return before and after."""
    from distillrl.config import from_dict
    from distillrl.core import checkpoint
    from distillrl.core.stats import t_interval
    from distillrl.teachers.zoo import resolve

    state, meta = checkpoint.load(resolve(source))
    cfg = from_dict(MetaConfig, {k: v for k, v in meta["config"].items() if k != "env"}, MetaConfig())
    fam = task_family(cfg.family)
    ks = list(ks) if ks else eval_ks(cfg)
    if min(ks) < 1:
        raise ConfigError(f"--k must be ≥ 1, got {min(ks)}")
    pool = (fam.parse_task(task)[None] if task is not None
            else fam.pools(cfg.train_tasks, cfg.test_tasks, cfg.task_seed)[1][:tasks or cfg.test_tasks])
    worker = MetaWorker(cfg.family, cfg.hidden)
    payload = {"center": torch.as_tensor(state["center"], dtype=torch.float32).numpy(),
               "settings": cfg.settings(k=ks[0], inner_lr=float(state["hp"]["inner_lr"])), "episodes": episodes,
               "adapter": METHODS[cfg.method][2], "sigma": 0.0}
    t0 = time.perf_counter()
    res = worker.run(payload, [{"kind": "eval", "task": t, "seed": seed + 7919 * i, "ks": ks}
                               for i, t in enumerate(pool)])
    out: dict = {"source": source, "env": f"meta:{cfg.family}", "kind": f"meta-{cfg.method}", "tasks": len(pool),
                 "episodes": episodes}
    pre = t_interval([r["pre"] for r in res])
    out["pre_return"] = pre["mean"]
    for k in ks:
        post = t_interval([r[f"post_k{k}"] for r in res])
        out[f"post_return_k{k}"] = post["mean"]
        if len(res) > 1:
            out[f"post_lo_k{k}"], out[f"post_hi_k{k}"] = post["lo"], post["hi"]
    out["steps"] = int(sum(r["frames"] for r in res))
    out["wall_s"] = time.perf_counter() - t0
    out["per_task"] = [{"task": "/".join(f"{x:g}" for x in np.atleast_1d(t)), "pre": r["pre"],
                        **{f"post_k{k}": r[f"post_k{k}"] for k in ks}} for t, r in zip(pool, res)]
    return out
