"""The evaluation engine: the one loop that plays a policy in environments for evaluation.

Returns come from a fixed list of episode seeds, so two policies can be compared on exactly the
same episodes. Episode ``i`` is played from ``reset(seed=seed + i)``; results are ordered by
episode index (not by completion order, which would favour short episodes). Every evaluation
in distillrl comes through here (:func:`acting.evaluation.evaluate_agent` builds the policy for
any agent source and kind); this module knows environments and action selection only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.envs.make import make_env_fn, split_specs
from distillrl.errors import ConfigError

PolicyFn = Callable[[np.ndarray], np.ndarray]
"""obs [N, *obs_shape] → logits [N, A] (NumPy).

A *stateful* policy (an LSTM agent, a Decision Transformer reading its context window) has
``recurrent = True`` and per-slot state: it is called as ``policy(obs, slots)`` (the env slots the
rows come from), ``reset(mask)`` clears the slots in ``mask`` (all of them before the first step,
one slot whenever a new episode starts in it), and, if it has one, ``observe(slots, actions,
rewards)`` is told after every step what each slot did and got."""


def select_actions(params: np.ndarray, greedy: bool, rng: np.random.Generator,
                   dist: type[ActionDistribution] = Categorical) -> np.ndarray:
    """The mode (``greedy``), or one draw per row with ``rng``, of the action distribution
    ``dist`` the policy's outputs parameterise (:class:`Categorical`: argmax, or a draw from
    softmax(logits) per row)."""
    if greedy:
        return dist.np_mode(params)
    if dist is Categorical:
        p = Categorical.np_probs(params)
        return np.array([rng.choice(p.shape[-1], p=row) for row in p])
    return dist.np_sample(params, rng)


class VideoFrames(gym.Wrapper):
    """Frames a video can show: images smaller than ``min_size`` pixels (MinAtar's 10×10) are
    enlarged by an integer factor (nearest neighbour, so cells stay crisp), and an env that
    declares no frame rate gets ``fps``."""

    def __init__(self, env: gym.Env, min_size: int = 160, fps: int = 15):
        super().__init__(env)
        self.min_size = min_size
        self.metadata = {**env.metadata, "render_fps": env.metadata.get("render_fps") or fps}

    def render(self):
        frame = np.asarray(self.env.render())
        f = -(-self.min_size // max(1, min(frame.shape[:2])))
        return frame.repeat(f, 0).repeat(f, 1) if f > 1 else frame


def video_env(spec: str, max_episode_steps: int | None, task: int, video_dir: Path, prefix: str) -> gym.Env:
    """One env whose every episode is written to ``video_dir/<prefix>-episode-<i>.mp4``
    (Gymnasium's ``RecordVideo``; MP4 through moviepy: ``pip install 'distillrl[video]'``)."""
    try:
        import moviepy  # noqa: F401  (RecordVideo needs it; fail before playing anything)
    except ImportError:
        raise ConfigError("videos need moviepy: pip install 'distillrl[video]'") from None
    from gymnasium.wrappers import RecordVideo

    env = make_env_fn(spec, max_episode_steps, render_mode="rgb_array", task=task)()
    return RecordVideo(VideoFrames(env), str(video_dir), episode_trigger=lambda _: True, name_prefix=prefix)


def evaluate(policy: PolicyFn, spec: str, episodes: int = 10, seed: int = 0, greedy: bool = True,
             num_envs: int = 8, max_episode_steps: int | None = None, rng_seed: int | None = None,
             on_batch: Callable[[np.ndarray], None] | None = None,
             dist: type[ActionDistribution] = Categorical,
             video_dir: Path | None = None, video_prefix: str = "eval") -> tuple[np.ndarray, np.ndarray]:
    """Play ``episodes`` episodes; return ``(returns [episodes], lengths [episodes])``.

    ``greedy`` takes argmax actions; otherwise actions are sampled from softmax(logits) with a
    NumPy generator seeded by ``rng_seed`` (default: ``seed``); ``dist`` is the action
    distribution the outputs parameterise. ``num_envs`` episodes are played side by side.
    ``on_batch`` sees every batch of observations the policy is asked about. ``video_dir``:
    every episode is also recorded there as an MP4 (one env at a time, so the files are numbered
    in episode order: ``<video_prefix>-episode-<i>.mp4``).
    """
    if episodes <= 0:
        return np.zeros(0), np.zeros(0)
    k = max(1, min(num_envs, episodes))
    n_tasks = len(split_specs(spec))
    if video_dir is not None:
        if n_tasks > 1:
            raise ConfigError("videos are recorded per task: evaluate one task of a task set at a time")
        k = 1
        Path(video_dir).mkdir(parents=True, exist_ok=True)
    if n_tasks > 1:  # slot i plays task i mod n_tasks
        k = max(k - k % n_tasks, n_tasks)
    envs = ([video_env(spec, max_episode_steps, 0, Path(video_dir), video_prefix)] if video_dir is not None
            else [make_env_fn(spec, max_episode_steps, task=i)() for i in range(k)])
    rng = np.random.default_rng(seed if rng_seed is None else rng_seed)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, np.int64)
    next_ep = 0
    slot_ep = [-1] * k
    obs = [None] * k
    box = envs[0].action_space if isinstance(envs[0].action_space, gym.spaces.Box) else None
    stateful = getattr(policy, "recurrent", False)
    observe = getattr(policy, "observe", None) if stateful else None
    if stateful:
        policy.reset(np.ones(k, bool))
    for i, env in enumerate(envs):
        if next_ep < episodes:
            obs[i], _ = env.reset(seed=seed + next_ep)
            slot_ep[i] = next_ep
            next_ep += 1
    try:
        while any(e >= 0 for e in slot_ep):
            active = [i for i in range(k) if slot_ep[i] >= 0]
            batch = np.stack([obs[i] for i in active])
            if on_batch is not None:
                on_batch(batch)
            out = np.asarray(policy(batch, np.asarray(active)) if stateful else policy(batch))
            acts = select_actions(out, greedy, rng, dist)
            rewards = np.zeros(len(active))
            done = []
            for j, i in enumerate(active):
                # continuous actions are clipped to the env's bounds, as in training
                a = np.clip(np.asarray(acts[j], np.float32), box.low, box.high) if box is not None else int(acts[j])
                o, r, te, tr, _ = envs[i].step(a)
                ep = slot_ep[i]
                returns[ep] += r
                lengths[ep] += 1
                rewards[j] = r
                obs[i] = o
                if te or tr:
                    done.append(i)
            if observe is not None:
                observe(np.asarray(active), acts, rewards)
            fresh = np.zeros(k, bool)
            for i in done:  # in slot order: the same episode ↔ slot assignment whatever the policy
                if next_ep < episodes:
                    obs[i], _ = envs[i].reset(seed=seed + next_ep)
                    slot_ep[i] = next_ep
                    next_ep += 1
                    fresh[i] = True
                else:
                    slot_ep[i] = -1
            if stateful and fresh.any():
                policy.reset(fresh)
    finally:
        for env in envs:
            env.close()
    return returns, lengths


def evaluate_random(spec: str, episodes: int = 10, seed: int = 0,
                    max_episode_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random policy (``action_space.sample()``, seeded per episode) on the same
    episodes as :func:`evaluate`: the random baseline for continuous and discrete actions alike."""
    returns, lengths = np.zeros(episodes), np.zeros(episodes, np.int64)
    for i in range(episodes):
        env = make_env_fn(spec, max_episode_steps)()
        try:
            env.reset(seed=seed + i)
            env.action_space.seed(seed + i)
            done = False
            while not done:
                _, r, te, tr, _ = env.step(env.action_space.sample())
                returns[i] += r
                lengths[i] += 1
                done = te or tr
        finally:
            env.close()
    return returns, lengths


def summarize(returns: np.ndarray) -> dict:
    n = len(returns)
    if n == 0:
        return {"mean_return": float("nan"), "std_return": float("nan"), "episodes": 0}
    sem = float(np.std(returns, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
            "ci95_return": 1.96 * sem, "median_return": float(np.median(returns)), "episodes": n}
