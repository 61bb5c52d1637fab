"""Offline datasets in the field's format (Minari), made here from any teacher.

``write_dataset`` runs a teacher (zoo name, run directory, checkpoint, SB3 .zip, ...) in one
environment for a number of episodes and writes them with Minari's own writer
(``create_dataset_from_buffers``, arrow storage): observations, actions, rewards, terminations, truncations — and, in each
step's ``infos``, ``teacher_logits``: the teacher's outputs on that step's observation
(``infos["teacher_logits"][t]`` belongs to ``observations[t]``, the one the action was chosen
from), so a student can be distilled from the data without running the teacher again.

The data need not be expert: with ``epsilon`` the teacher acts ε-greedily (a random action
with probability ε), and a mid-training checkpoint of a run is a teacher like any other — so
expert, ε-noisy and mid-quality datasets come from one command. Datasets live under
``root/<namespace>/<name>-v<version>/`` (Minari's ``MINARI_DATASETS_PATH`` layout); any Minari
dataset — made here or elsewhere — loads with :func:`load_dataset`. No network is used.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.progress import Progress

from distillrl import __version__
from distillrl.acting.policies import teacher_fn
from distillrl.datasets.episodes import (  # noqa: F401  (re-exported)
    SIDECAR,
    dataset_dir,
    datasets_root,
    resolve_root,
    load_dataset,
)
from distillrl.datasets.episodes import minari_module as _minari
from distillrl.envs.make import env_info, make_env_fn
from distillrl.errors import ConfigError
from distillrl.teachers.load import load_teacher

def check_dataset_id(dataset_id: str) -> None:
    """Accept exactly what Minari accepts (``[namespace/]name-v<version>``; letters, digits, ``_``
    and ``-``, a namespace of two characters or more, ``/`` between namespace levels) and name the
    exact problem when refusing (Minari's own message is a regular expression)."""
    from minari.dataset.minari_dataset import parse_dataset_id  # optional extra (distillrl[offline])

    bad = sorted({c for c in dataset_id if not (c.isalnum() or c in "_-/")})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        fixed = re.sub(r"[^\w\-/]", "_", dataset_id)
        raise ConfigError(f"dataset id {dataset_id!r} contains {shown}, which Minari ids cannot hold (letters, digits, "
                          f"_ and - only, / between namespace levels): e.g. {fixed!r}")
    if not re.search(r"-v\d+$", dataset_id):
        raise ConfigError(f"dataset id {dataset_id!r} must end in -v<version>, e.g. {dataset_id.rstrip('-')}-v0")
    namespace, _, name = dataset_id.rpartition("/")
    if "/" in dataset_id and (len(namespace) < 2 or namespace.startswith("/") or "//" in namespace):
        raise ConfigError(f"dataset id {dataset_id!r}: the namespace {namespace!r} must have at least two characters "
                          "and no empty level")
    if not re.fullmatch(r"[\w\-]+-v\d+", name) or name.startswith("-v"):
        raise ConfigError(f"dataset id {dataset_id!r}: the name before -v<version> is empty")
    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:  # anything Minari refuses that the checks above missed
        raise ConfigError(f"dataset id {dataset_id!r} is refused by Minari: {str(e).split('(')[0].strip()}") from None


def write_dataset(teacher_src: str, env_spec: str | None, episodes: int, dataset_id: str, root: str | Path,
                  epsilon: float = 0.0, seed: int = 0, teacher_arch=None, progress: bool = False) -> dict:
    """Record ``episodes`` episodes of the teacher acting ε-greedily; returns a summary (returns,
    steps, the dataset's path). Episode i is reset with seed ``seed + i``."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be ≥ 1, got {episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ConfigError(f"--epsilon must be in [0, 1], got {epsilon}")
    check_dataset_id(dataset_id)
    teacher = load_teacher(teacher_src, None, teacher_arch)
    env_spec = env_spec or teacher.env
    if not env_spec:
        raise ConfigError(f"{teacher_src} does not record its environment: pass --env")
    teacher.check_env(env_info(env_spec))
    if teacher.recurrent:
        raise ConfigError(f"teacher {teacher.name} is recurrent; datasets are recorded from single-frame teachers")
    minari = _minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer  # optional extra, as above

    rng = np.random.default_rng(seed)
    outputs = teacher_fn(teacher)
    env = make_env_fn(env_spec)()
    box = env.action_space if isinstance(env.action_space, gym.spaces.Box) else None
    buffers, rets, steps = [], [], 0
    # Episodes are assembled as Minari EpisodeBuffers (whole arrays) and written by Minari's
    # create_dataset_from_buffers: its step-by-step DataCollector needs jax.
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"dataset {dataset_id}", total=episodes)
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            o, a_s, r_s, te, tr, lg = [np.asarray(obs)], [], [], [], [], []
            done = False
            while not done:
                logits = np.asarray(outputs(np.asarray(obs)[None])[0], np.float32)
                lg.append(logits)
                if box is not None:  # continuous: the teacher's mean action, clipped; ε: uniform in the bounds
                    a = np.clip(teacher.dist.np_mode(logits[None])[0], box.low, box.high).astype(np.float32)
                    if epsilon > 0 and rng.random() < epsilon:
                        a = rng.uniform(box.low, box.high).astype(np.float32)
                else:
                    a = int(teacher.dist.np_mode(logits[None])[0])
                    if epsilon > 0 and rng.random() < epsilon:
                        a = int(rng.integers(env.action_space.n))
                obs, r, term, trunc, _ = env.step(a)
                o.append(np.asarray(obs))
                a_s.append(a)
                r_s.append(float(r))
                te.append(bool(term))
                tr.append(bool(trunc))
                done = term or trunc
            lg.append(np.asarray(outputs(np.asarray(obs)[None])[0], np.float32))  # the final observation's too
            buffers.append(EpisodeBuffer(id=i, seed=seed + i, observations=np.stack(o), actions=np.asarray(a_s),
                                         rewards=r_s, terminations=te, truncations=tr,
                                         infos={"teacher_logits": np.stack(lg)}))
            rets.append(sum(r_s))
            steps += len(a_s)
            bar.advance(task)
    with datasets_root(root), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="minari")  # eval_env=None is meant
        if dataset_id in minari.list_local_datasets():
            raise ConfigError(f"dataset {dataset_id} already exists under {resolve_root(root)}; choose another --name")
        ds = minari.create_dataset_from_buffers(
            dataset_id, buffers, observation_space=env.observation_space, action_space=env.action_space,
            algorithm_name=f"distillrl teacher {teacher.name}, epsilon={epsilon}", data_format="arrow",
            author="distillrl", author_email="distillrl@localhost", code_permalink=f"distillrl {__version__}",
            description=f"{episodes} episodes of {teacher_src} on {env_spec}, epsilon-greedy with epsilon={epsilon}, "
                        f"reset seeds {seed}..{seed + episodes - 1}; infos/teacher_logits[t]: the teacher's outputs "
                        "on observations[t]")
    env.close()
    path = dataset_dir(dataset_id, root)
    src = str(Path(teacher_src).resolve()) if Path(teacher_src).exists() else teacher_src  # zoo names stay names
    (path / SIDECAR).write_text(json.dumps({"env": env_spec, "teacher": src, "epsilon": epsilon, "seed": seed,
                                            "episodes": episodes}, indent=1) + "\n")
    return {"dataset": dataset_id, "path": str(path), "env": env_spec, "teacher": teacher_src, "epsilon": epsilon,
            "episodes": episodes, "steps": steps, "mean_return": float(np.mean(rets)), "returns": rets,
            "total_steps": int(ds.total_steps)}
