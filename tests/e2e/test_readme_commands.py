"""Every command in README.md works as written (at a tiny budget: only --steps/--episodes added)."""

import pytest
from readme_commands import commands, prepare, run_command

from distillrl.runs.presets import preset

CMDS = commands()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("readme")
    prepare(w)
    return w


def test_the_readme_has_commands_and_the_offline_ones_are_found():
    lines = [c.line for c in CMDS]
    assert len(lines) >= 30
    assert any("--net.lstm 64" in x for x in lines) and any(x.startswith("distillrl dataset") for x in lines)


def test_option_strings_get_their_base_envs_preset():
    assert preset("gym:CartPole-v1?keep=0+2", "ppo") == preset("gym:CartPole-v1", "ppo") != {}
    assert preset("gym:pkg.envs:CartPole-v1", "ppo") == preset("gym:CartPole-v1", "ppo")
    assert preset("minigrid:MiniGrid-DoorKey-16x16-v0?view=agent", "ppo") == preset("minigrid:X", "ppo")


@pytest.mark.slow
@pytest.mark.parametrize("c", CMDS, ids=[c.line[10:70] for c in CMDS])
def test_readme_command(work, c):
    if c.skip:
        pytest.skip(c.skip)
    r = run_command(c, work)
    assert r["rc"] == 0, f"{c.line} {r['budget']}\n{r['stdout'][-1500:]}\n{r['stderr'][-3000:]}"
    assert "Traceback" not in r["stderr"]
