import json

import numpy as np
import pytest

from distillrl.envs import env_info
from distillrl.teachers import load_teacher
from distillrl.zoo import ZOO_DIR, zoo_meta, zoo_names

NAMES = zoo_names()


@pytest.mark.parametrize("name", NAMES)
def test_zoo_entry_loads_and_is_documented(name):
    meta = zoo_meta(name)
    for key in ("env", "algo", "frames", "eval", "command", "n_params"):
        assert key in meta, key
    assert meta["command"].startswith("distillrl train") and "--env" in meta["command"]
    assert meta["eval"]["episodes"] == 30
    info = env_info(meta["env"])
    t = load_teacher(name, info)
    obs = np.zeros((3,) + info.obs_shape, np.float32)
    assert t.probs(obs).shape == (3, info.n_actions)
    assert (ZOO_DIR / name / "model.safetensors").stat().st_size < 5_000_000


def test_zoo_cli(cli):
    p = cli("zoo", "list", "--json", check=True)
    entries = json.loads(p.stdout.strip().splitlines()[-1])["entries"]
    assert sorted(entries) == NAMES
    if NAMES:
        p = cli("zoo", "path", NAMES[0], check=True)
        assert p.stdout.strip().endswith(NAMES[0])
    p = cli("zoo", "path", "no-such-teacher")
    assert p.returncode != 0 and "no zoo entry" in p.stderr
