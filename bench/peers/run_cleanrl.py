"""Run CleanRL's ``ppo.py`` (``bench/peers/cleanrl_ppo.py``, unmodified) with only what it needs here.

* one torch thread (the comparison's rule for every side);
* a scratch working directory, so its ``runs/<name>`` TensorBoard folder lands there;
* ``MinAtarFlat/<Game>-v1``: the MinAtar game with ``FlattenObservation`` — CleanRL's MLP is a
  ``Linear(prod(obs_shape), 64)``, which takes a flat observation (the [10, 10, C] grid flattened,
  what distillrl's and SB3's MLPs do to it as well).

    python bench/peers/run_cleanrl.py --env-id CartPole-v1 --total-timesteps 51200 --seed 1 --no-cuda

Arguments are CleanRL's own (tyro); they pass through unchanged.
"""

from __future__ import annotations

import os
import runpy
import sys
import tempfile
from pathlib import Path

import torch

torch.set_num_threads(1)

import gymnasium as gym  # noqa: E402

PEER = Path(__file__).resolve().parent / "cleanrl_ppo.py"


def _flat_minatar(game: str, **kwargs):
    from minatar.gym import register_envs

    if f"MinAtar/{game}-v1" not in gym.registry:
        register_envs()
    return gym.wrappers.FlattenObservation(gym.make(f"MinAtar/{game}-v1", **kwargs))


for _game in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"):
    gym.register(f"MinAtarFlat/{_game}-v1", entry_point=_flat_minatar, kwargs={"game": _game})


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        sys.argv = [str(PEER), *sys.argv[1:]]
        runpy.run_path(str(PEER), run_name="__main__")


if __name__ == "__main__":
    main()
