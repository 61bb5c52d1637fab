"""One evaluation for every agent source and kind.

:func:`evaluate_agent` plays any agent through the one engine (:func:`acting.evaluate.evaluate`),
greedy or sampled, and returns an :class:`EvalResult`. What it accepts (duck-typed: this layer
sits below ``teachers`` and ``algos``):

* a trainer (anything with an acting ``policy`` and its ``agent``: every RL learner, distillation,
  kickstarting, online distillation), a network (:class:`models.agent.Agent`) or its acting
  mirror (:func:`models.fastpolicy.make_fast_policy`) — policy or Q-network, feed-forward or
  recurrent, one task or a task set;
* a teacher (:class:`teachers.base.Teacher`: ``outputs``/``kind``/``tau``), from any loader;
* a Decision Transformer: the model, a DT teacher (``model`` + ``target_returns``) or a DT
  trainer (``agent`` + ``target_return``), conditioned on ``target_return``;
* a plain callable ``obs → logits`` (``kind="q"`` for action values).

Modes: ``greedy`` takes the argmax of the outputs (a Q-network: argmax Q); ``sampled`` draws
from softmax(logits / τ) — for a Q-network softmax(Q / τ), τ the teacher's own temperature or
:data:`Q_TAU`, as Q-teachers are read everywhere else. ``mode=None`` takes the env family's
convention (:mod:`acting.protocols`). A task-set agent on a task-set env is evaluated on every
task on its own (``per_task``), or on one task with ``task=``.

:func:`evaluate_modes` runs several modes on the same episodes and :func:`score_fields` turns
the results into the summary fields every command reports (``score`` in the family's
convention, ``score_mode``, and the other mode beside it).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillrl.acting.evaluate import evaluate, summarize
from distillrl.acting.policies import logits_fn, teacher_fn
from distillrl.acting.protocols import MODES, Mode, convention, success_rate
from distillrl.acting.sequence import SequencePolicy
from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.envs.make import split_specs
from distillrl.envs.tasks import TaskSet
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent
from distillrl.models.fastpolicy import Memory, make_fast_policy
from distillrl.models.transformer import DecisionTransformer

Q_TAU = 0.01
"""the temperature of softmax(Q / τ) when a Q-network's actions are sampled and its source
names none (the Q-teachers' default)"""


@dataclass
class EvalResult:
    """What one evaluation measured, in one mode."""

    env: str
    mode: Mode
    returns: np.ndarray
    """per-episode returns, episode i from reset seed ``seed + i`` (a task set: task after task)"""
    lengths: np.ndarray
    success_rate: float | None = None
    """share of episodes that reached the goal, where the family defines success (else None)"""
    per_task: dict[str, EvalResult] | None = None
    """a task set: each task's own result, by task name, in task order"""
    target_return: float | list[float] | None = None
    """a Decision Transformer: the return it was conditioned on (per task for a task set)"""
    observations: np.ndarray | None = field(default=None, repr=False)
    """with ``record_obs``: every observation the agent was asked about"""
    wall_s: float = 0.0

    @property
    def mean(self) -> float:
        """Mean return (a task set: the mean over tasks of each task's mean)."""
        if self.per_task:
            return float(np.mean([r.mean for r in self.per_task.values()]))
        return float(np.mean(self.returns)) if len(self.returns) else float("nan")

    @property
    def episodes(self) -> int:
        """Episodes per task."""
        return len(next(iter(self.per_task.values())).returns) if self.per_task else len(self.returns)

    @property
    def steps(self) -> int:
        return int(np.sum(self.lengths))

    def summary(self) -> dict:
        """``mean_return``, ``std_return``, ``ci95_return``, ``median_return``, ``episodes`` (and
        ``success_rate`` where defined)."""
        out = {**summarize(self.returns), "episodes": self.episodes}
        if self.per_task:
            out["mean_return"] = self.mean
        if self.success_rate is not None:
            out["success_rate"] = self.success_rate
        return out


# ---- sources
@dataclass
class _Actor:
    """A source, resolved: ``fn(task)`` builds obs → raw outputs (agent space) for one task."""

    fn: Callable[[int | None], Any]
    kind: str  # "policy" | "q"
    tau: float
    n_tasks: int
    task_actions: str = "heads"
    env: str | None = None
    dist: type[ActionDistribution] = Categorical
    """the action distribution the outputs parameterise (a Q-network's: softmax(Q/τ))"""


def _fast_actor(policy: Any, agent: Any, env: str | None, tau: float | None, kind: str | None) -> _Actor:
    q = kind == "q" if kind else getattr(agent, "pi", True) is None
    cfg = getattr(agent, "cfg", None)
    return _Actor(lambda task: logits_fn(policy, task), "q" if q else "policy", tau or (Q_TAU if q else 1.0),
                  getattr(policy, "n_tasks", getattr(agent, "n_tasks", 1)), getattr(cfg, "task_actions", "heads"), env,
                  getattr(agent, "dist", Categorical))


def _teacher_actor(t: Any, tau: float | None) -> _Actor:
    agent = getattr(t, "agent", None)
    cfg = getattr(agent, "cfg", None)
    return _Actor(lambda task: teacher_fn(t, task), t.kind, tau or t.tau, getattr(agent, "n_tasks", 1),
                  getattr(cfg, "task_actions", "heads"), t.env, getattr(t, "dist", Categorical))


def _dt_model(source: Any) -> DecisionTransformer | None:
    if isinstance(source, DecisionTransformer):
        return source
    for attr in ("model", "agent"):
        m = getattr(source, attr, None)
        if isinstance(m, DecisionTransformer):
            return m
    return None


def _env_of(source: Any) -> str | None:
    env = getattr(source, "env", None)
    return env if isinstance(env, str) and env else None


def _resolve(source: Any, kind: str | None, tau: float | None) -> _Actor:
    if isinstance(source, Agent):
        return _fast_actor(make_fast_policy(source), source, None, tau, kind)
    if isinstance(source, Memory):  # an acting mirror
        return _fast_actor(source, getattr(source, "agent", None), None, tau, kind)
    policy, agent = getattr(source, "policy", None), getattr(source, "agent", None)
    if isinstance(policy, Memory) and isinstance(agent, Agent):  # a trainer
        return _fast_actor(policy, agent, _env_of(source), tau, kind)
    if callable(getattr(source, "outputs", None)) and hasattr(source, "kind"):  # a teacher
        return _teacher_actor(source, tau)
    if callable(source):
        k = kind or "policy"
        return _Actor(lambda task: source, k, tau or (Q_TAU if k == "q" else 1.0), 1, env=_env_of(source))
    raise ConfigError(f"cannot evaluate {type(source).__name__}: not an agent, trainer, teacher, Decision "
                      "Transformer or callable obs → logits")


# ---- policies in a mode
class _Scaled:
    """Outputs ÷ τ and, for one task of a task set, task-shaped observations in and env-action
    logits out; stateful when the inner policy is."""

    def __init__(self, inner, scale: float, ts: TaskSet | None, task: int | None):
        self.inner, self.scale, self.ts, self.task = inner, scale, ts, task
        self.recurrent = getattr(inner, "recurrent", False)

    def reset(self, mask):
        self.inner.reset(mask)

    def __call__(self, obs, slots=None):
        if self.ts is not None:
            obs = self.ts.pad(np.asarray(obs), self.task)
        out = np.asarray(self.inner(obs, slots) if self.recurrent else self.inner(obs))
        if self.scale != 1.0:
            out = out * self.scale
        return self.ts.env_logits(out, self.task) if self.ts is not None else out


def _policy(actor: _Actor, mode: Mode, ts: TaskSet | None, task: int | None):
    inner = actor.fn(task)
    scale = 1.0 / actor.tau if mode == "sampled" else 1.0
    multi = ts is not None and ts.n_tasks > 1
    if scale == 1.0 and not multi:
        return inner
    return _Scaled(inner, scale, ts if multi else None, task)


def _targets(source: Any, target_return, n_tasks: int) -> list[float]:
    """One target return per task: the one given (one for all, or one per task), else the source's."""
    if target_return is None:
        target_return = getattr(source, "target_returns", None) or getattr(source, "target_return", None)
    if target_return is None:
        raise ConfigError("a Decision Transformer is evaluated conditioned on a target return: pass target_return")
    targets = [float(target_return)] * n_tasks if np.isscalar(target_return) else [float(x) for x in target_return]
    if len(targets) != n_tasks:
        raise ConfigError(f"{len(targets)} target returns for {n_tasks} tasks")
    return targets


@contextlib.contextmanager
def _eval_mode(model):
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def evaluate_agent(source: Any, env: str | None = None, episodes: int = 10, seed: int = 0,
                   mode: Mode | None = "greedy", *, task: int | None = None, tau: float | None = None,
                   kind: str | None = None, taskset: TaskSet | None = None,
                   target_return: float | Sequence[float] | None = None, max_episode_steps: int | None = None,
                   num_envs: int = 8, rng_seed: int | None = None, record_obs: bool = False,
                   video_dir: Path | None = None) -> EvalResult:
    """Evaluate ``source`` (any agent source and kind, see the module doc) on ``episodes``
    episodes of ``env`` (default: the env the source records), episode i from reset seed
    ``seed + i``. ``mode``: ``greedy``, ``sampled``, or None for the family's convention.

    ``task``: evaluate one task of a task-set agent (its spec in ``env``, or ``env`` itself when
    that is a single task). ``tau``: the sampling temperature (default: the source's own, else 1
    for policies and :data:`Q_TAU` for Q-networks). ``kind``: ``q`` when a plain callable returns
    action values. ``taskset``: how a task-set agent's observations and actions map onto each
    task (default: the source's own, else built from ``env``). ``target_return``: a Decision
    Transformer's condition (default: the one it records; one per task or one for all).
    ``video_dir``: each episode is also recorded there as an MP4 (a task set: one subfolder per
    task); the episodes are the same as without (one env at a time)."""
    env = env or _env_of(source) or _env_of(getattr(source, "cfg", None))
    if not env:
        raise ConfigError(f"{type(source).__name__} does not record its environment: pass env")
    if mode is None:
        mode = convention(env).mode
    if mode not in MODES:
        raise ConfigError(f"evaluation mode must be one of {', '.join(MODES)}, not {mode!r}")
    t0 = time.perf_counter()
    specs = split_specs(env)
    model = _dt_model(source)
    actor = None if model is not None else _resolve(source, kind, tau)
    ts = taskset if taskset is not None else getattr(source, "taskset", None)
    agent_tasks = model.n_tasks if model is not None else actor.n_tasks
    if len(specs) > 1:  # a task set: the agent's view of it, in the env's task order
        if ts is None or list(ts.specs) != specs:
            ts = TaskSet.build(env, ts.actions if ts is not None else (actor.task_actions if actor else "heads"))
    elif ts is None or ts.n_tasks == 1 or agent_tasks == 1:
        ts = TaskSet.build(env, "heads") if model is not None else None
    elif task is None:  # one task of the agent's task set, named by its spec
        if env not in ts.specs:
            raise ConfigError(f"{env} is not one of the agent's tasks ({', '.join(ts.specs)}): pass task")
        task = ts.specs.index(env)
    targets = _targets(source, target_return, ts.n_tasks) if model is not None else None

    obs: list[np.ndarray] = []
    on_batch = obs.append if record_obs else None

    def run(k: int | None, spec: str) -> EvalResult:
        if model is not None:  # all episodes side by side: the transformer reads them in one batch
            pol, n, target = SequencePolicy(model, ts, k or 0, targets[k or 0]), max(1, episodes), targets[k or 0]
        else:
            pol, n, target = _policy(actor, mode, ts, k), num_envs, None
        vdir = None if video_dir is None else Path(video_dir) / (ts.names[k] if len(specs) > 1 and k is not None
                                                                 else "")
        r, ln = evaluate(pol, spec, episodes, seed=seed, greedy=mode == "greedy", num_envs=n,
                         max_episode_steps=max_episode_steps, rng_seed=rng_seed, on_batch=on_batch,
                         dist=actor.dist if actor is not None else Categorical, video_dir=vdir, video_prefix=mode)
        return EvalResult(spec, mode, r, ln, success_rate(spec, r), target_return=target)

    with _eval_mode(model) if model is not None else contextlib.nullcontext():
        if task is not None:  # one task of the agent's task set
            res = run(task, specs[task] if len(specs) > 1 else env)
        elif len(specs) > 1:
            per = {ts.names[k]: run(k, s) for k, s in enumerate(specs)}
            rates = [p.success_rate for p in per.values() if p.success_rate is not None]
            res = EvalResult(env, mode, np.concatenate([p.returns for p in per.values()]),
                             np.concatenate([p.lengths for p in per.values()]),
                             float(np.mean(rates)) if rates else None, per, target_return=targets)
        else:
            res = run(0 if model is not None else None, env)
    if record_obs:
        res.observations = np.concatenate(obs) if obs else None
    res.wall_s = time.perf_counter() - t0
    return res


def evaluate_modes(source: Any, env: str | None = None, episodes: int = 10, seed: int = 0,
                   modes: Iterable[Mode] = MODES, **kw: Any) -> dict[Mode, EvalResult]:
    """:func:`evaluate_agent` in each of ``modes`` on the same episodes."""
    return {m: evaluate_agent(source, env, episodes, seed, m, **kw) for m in modes}


def score_fields(results: dict[Mode, EvalResult] | EvalResult, env: str) -> dict:
    """The summary fields of an evaluation: the score-mode result's ``mean_return``,
    ``std_return``, ... (and ``success_rate``), ``score`` and ``score_mode`` (the family's
    convention, or the one mode run), and ``greedy_return`` / ``sampled_return`` (with
    ``greedy_success_rate`` / ``sampled_success_rate`` where the family defines success) for
    every mode run."""
    if isinstance(results, EvalResult):
        results = {results.mode: results}
    main = results.get(convention(env).mode) or next(iter(results.values()))
    out = main.summary()
    out["score"] = result_score(main)
    out["score_mode"] = main.mode
    for m, r in results.items():
        out[f"{m}_return"] = r.mean
        if r.success_rate is not None:
            out[f"{m}_success_rate"] = r.success_rate
    return out


def result_score(r: EvalResult) -> float:
    """What an evaluation scores in its env family's convention: the success rate where that is
    the family's score (and was measured), else the mean return."""
    conv = convention(r.env)
    return r.success_rate if conv.score == "success_rate" and r.success_rate is not None else r.mean


def summary_score(summary: dict) -> float:
    """The score a run's summary reports (:func:`score_fields`); a summary written before scores
    existed: its (greedy) student or mean return."""
    for key in ("score", "student_return", "mean_return"):
        v = summary.get(key)
        if v is not None:
            return float(v)
    return float("nan")


__all__ = ["EvalResult", "Q_TAU", "evaluate_agent", "evaluate_modes", "result_score", "score_fields",
           "summary_score"]
