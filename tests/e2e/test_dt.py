"""The offline track: return-to-go, context windows, the Decision Transformer's causal masking,
its training command, and the multi-task student through ``distill --offline``."""

import json
import math

import numpy as np
import pytest
import torch

from distillrl.core import checkpoint
from distillrl.algos.offline_distill import student_width
from distillrl.models.agent import param_count
from distillrl.models.transformer import DecisionTransformer, attention_mask
from distillrl.datasets.writer import write_dataset
from distillrl.core.returns import returns_to_go
from distillrl.datasets.episodes import Episodes, read_episodes


def test_returns_to_go_by_hand():
    np.testing.assert_allclose(returns_to_go([1.0, 0.0, 2.0, -1.0]), [2.0, 1.0, 1.0, -1.0])
    np.testing.assert_allclose(returns_to_go([5.0]), [5.0])
    assert returns_to_go([]).shape == (0,)


def _episodes():
    eps = [{"observations": np.arange(4 * 2, dtype=np.float32).reshape(4, 2), "actions": [0, 1, 1],
            "rewards": [1.0, 0.0, 2.0]},
           {"observations": 100 + np.arange(6 * 2, dtype=np.float32).reshape(6, 2), "actions": [1, 0, 0, 1, 1],
            "rewards": [0.0, 1.0, 0.0, 0.0, 3.0]}]
    return Episodes.from_arrays(eps)


def test_windows_left_pad_and_never_cross_episodes():
    e = _episodes()
    assert e.n_steps == 8 and list(e.starts) == [0, 3] and list(e.returns) == [3.0, 4.0]
    np.testing.assert_allclose(e.rtg, [3, 2, 2, 4, 4, 3, 3, 3])
    w = e.windows(np.array([4, 7, 2]), 3)
    # step 4 is the second step of episode 2: one pad, then its steps 0 and 1
    np.testing.assert_array_equal(w["valid"][0], [False, True, True])
    np.testing.assert_array_equal(w["timesteps"][0], [0, 0, 1])
    np.testing.assert_allclose(w["obs"][0, 1], [100, 101])
    assert w["obs"][0, 0].sum() == 0 and w["rtg"][0, 0] == 0 and w["actions"][0, 0] == 0
    np.testing.assert_array_equal(w["valid"][1], [True, True, True])
    np.testing.assert_array_equal(w["actions"][1], [0, 1, 1])
    np.testing.assert_allclose(w["rtg"][1], [3, 3, 3])
    np.testing.assert_array_equal(w["timesteps"][2], [0, 1, 2])
    np.testing.assert_allclose(w["rtg"][2], [3, 2, 2])


def test_split_holds_out_whole_episodes():
    e = _episodes()
    tr, ho = e.split(0.5, np.random.default_rng(0))
    assert tr.n_episodes == 1 and ho.n_episodes == 1 and tr.n_steps + ho.n_steps == e.n_steps
    assert sorted([tr.returns[0], ho.returns[0]]) == [3.0, 4.0]
    assert e.split(0.0, np.random.default_rng(0))[1] is None


def test_attention_mask_by_hand():
    valid = torch.tensor([[False, True, True]])
    m = attention_mask(valid)[0]
    expect = torch.tensor([[True, False, False],   # a pad attends to itself only
                           [False, True, False],   # never to the pad before it
                           [False, True, True]])
    assert torch.equal(m, expect)


OBS = {"linear": (2, 3), "conv": (4, 4, 2)}


def _model(encoder="linear", **kw):
    torch.manual_seed(0)
    return DecisionTransformer(OBS[encoder], 4, context=5, d_model=16, n_layer=2, n_head=2, dropout=0.0,
                               max_timestep=50, rtg_scale=[10.0], encoder=encoder, **kw).eval()


def _batch(b=3, k=5, seed=0, encoder="linear"):
    g = torch.Generator().manual_seed(seed)
    return {"obs": torch.rand(b, k, *OBS[encoder], generator=g), "rtg": torch.rand(b, k, generator=g) * 10,
            "actions": torch.randint(0, 4, (b, k), generator=g), "timesteps": torch.arange(k).repeat(b, 1),
            "valid": torch.ones(b, k, dtype=torch.bool)}


@pytest.mark.parametrize("encoder", ["linear", "conv"])
def test_causal_masking_a_future_token_cannot_change_a_past_prediction(encoder):
    m, x = _model(encoder), _batch(encoder=encoder)
    base = m(**x)
    t = 2
    for key, change in (("actions", lambda v: (v + 1) % 4), ("obs", lambda v: v + 5.0), ("rtg", lambda v: v - 3.0)):
        y = {k: v.clone() for k, v in x.items()}
        if key == "actions":  # a_t comes after s_t: it may change predictions after t only
            y[key][:, t] = change(y[key][:, t])
            first_changed = t + 1
        else:  # s_{t+1}, R̂_{t+1}
            y[key][:, t + 1] = change(y[key][:, t + 1])
            first_changed = t + 1
        out = m(**y)
        torch.testing.assert_close(out[:, :first_changed], base[:, :first_changed], rtol=0, atol=1e-6)
        assert (out[:, first_changed:] - base[:, first_changed:]).abs().max() > 1e-4  # the future does see it


@pytest.mark.parametrize("encoder", ["linear", "conv"])
def test_padding_is_invisible(encoder):
    m, x = _model(encoder), _batch(encoder=encoder)
    x["valid"][:, :2] = False
    base = m(**x)
    y = {k: v.clone() for k, v in x.items()}
    y["obs"][:, :2] += 7.0
    y["rtg"][:, :2] += 3.0
    y["actions"][:, :2] = 3
    torch.testing.assert_close(m(**y)[:, 2:], base[:, 2:], rtol=0, atol=1e-6)
    assert torch.isfinite(m(**y)).all()


def test_conv_encoder_reads_channels_last_images():
    m = _model("conv")
    hwc = torch.rand(1, 5, 4, 4, 2)
    chw = DecisionTransformer((2, 4, 4), 4, context=5, d_model=16, n_layer=2, n_head=2, dropout=0.0, max_timestep=50,
                              rtg_scale=[10.0], encoder="conv", layout="chw").eval()
    chw.load_state_dict(m.state_dict())
    x = {k: v[:1] for k, v in _batch(encoder="conv").items() if k != "obs"}
    torch.testing.assert_close(m(hwc, **x), chw(hwc.permute(0, 1, 4, 2, 3), **x))
    with pytest.raises(ValueError, match="images"):
        DecisionTransformer((6,), 2, encoder="conv")


def test_multitask_heads_mask_illegal_actions_and_route_by_task():
    legal = torch.tensor([[True, True, False, False], [True, True, True, True]])
    m = DecisionTransformer((2, 3), 4, n_tasks=2, context=5, d_model=16, n_layer=1, n_head=2, dropout=0.0,
                            max_timestep=50, rtg_scale=[10.0, 20.0], legal=legal).eval()
    x = _batch(b=2)
    out = m(**x, task=torch.tensor([0, 1]))
    assert (out[0, :, 2:] < -1e7).all() and (out[1] > -1e7).all()
    out2 = m(**x, task=torch.tensor([1, 1]))
    assert not torch.allclose(out[0, :, :2], out2[0, :, :2])  # task 0 has its own head and embedding


def test_encoder_and_suite_mean_edge_cases():
    from distillrl.algos.dt import DTNetConfig, encoder_for
    from distillrl.envs.make import env_info
    from distillrl.errors import ConfigError
    from distillrl.core.stats import geomean

    with pytest.raises(ConfigError, match="takes images"):
        encoder_for(DTNetConfig(encoder="conv"), env_info("gym:CartPole-v1"))
    assert encoder_for(DTNetConfig(), env_info("gym:CartPole-v1")) == "linear"
    assert encoder_for(DTNetConfig(), env_info("minatar:breakout")) == "conv"
    assert geomean([4.0, float("nan"), 1.0]) == pytest.approx(2.0)  # an undefined ratio is left out
    assert geomean([0.0, 1.0]) == pytest.approx(1e-3 ** 0.5)


def test_student_width_respects_the_budget():
    def make(d):
        return DecisionTransformer((10, 10, 4), 3, n_tasks=2, d_model=d, n_layer=1, n_head=2, context=5,
                                   max_timestep=100)
    budget = param_count(make(64))
    d = student_width(0.25, budget, make, heads=2)
    assert param_count(make(d)) <= 0.25 * budget < param_count(make(d + 2))


# --------------------------------------------------------------------------- end to end through the CLI


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    write_dataset("minatar-breakout", None, 2, "distillrl/breakout-a-v0", root, seed=0)
    write_dataset("minatar-breakout", None, 2, "distillrl/breakout-b-v0", root, epsilon=0.3, seed=5)
    write_dataset("minatar-asterix", None, 2, "distillrl/asterix-a-v0", root, epsilon=0.3, seed=0)
    return root


def test_dataset_episodes_read_back(two_tasks):
    e, env = read_episodes("distillrl/breakout-a-v0+distillrl/breakout-b-v0", two_tasks)
    assert env == "minatar:breakout" and e.n_episodes == 4 and e.teacher_logits.shape == (e.n_steps, 3)
    assert e.obs.shape[1:] == (10, 10, 4)
    np.testing.assert_allclose(e.rtg[e.starts], e.returns)


def test_a_dataset_made_elsewhere_needs_its_env(two_tasks, tmp_path):
    import shutil

    from distillrl.errors import ConfigError
    from distillrl.datasets.episodes import SIDECAR

    root = tmp_path / "other"
    shutil.copytree(two_tasks / "distillrl" / "asterix-a-v0", root / "distillrl" / "asterix-a-v0")
    (root / "distillrl" / "asterix-a-v0" / SIDECAR).unlink()  # Minari's files only
    with pytest.raises(ConfigError, match="pass --env"):
        read_episodes("distillrl/asterix-a-v0", root)
    e, env = read_episodes("distillrl/asterix-a-v0", root, env="minatar:asterix")
    assert env == "minatar:asterix" and e.n_episodes == 2


def _train_dt(cli, root, out, dataset, steps=30):
    p = cli("train", "--algo", "dt", "--dataset", dataset, "--dataset-root", root, "--steps", steps,
            "--net.d-model", "16", "--net.n-layer", "1", "--net.n-head", "2", "--net.context", "4",
            "--batch-size", "8", "--eval-episodes", "1", "--log-every", "10", "--run-dir", out, "--json",
            "--no-progress", check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def _distill(cli, root, teachers, out, *extra):
    p = cli("distill", "--offline", "--teacher", *teachers, "--dataset-root", root, "--net.n-layer", "1",
            "--net.n-head", "2", "--net.context", "4", "--batch-size", "8", "--log-every", "5",
            "--curriculum-every", "3", "--held-out-windows", "8", "--run-dir", out, "--json", "--no-progress",
            *extra)
    return p


@pytest.mark.slow
def test_tiny_offline_run_through_the_cli(two_tasks, tmp_path, cli):
    s1 = _train_dt(cli, two_tasks, tmp_path / "t1", "distillrl/breakout-a-v0+distillrl/breakout-b-v0")
    assert s1["env"] == "minatar:breakout" and s1["updates"] == 30 and s1["data_episodes"] == 4
    assert s1["data_teacher"] == "minatar-breakout" and "score_ratio" in s1 and s1["tokens_per_s"] > 0
    s2 = _train_dt(cli, two_tasks, tmp_path / "t2", "distillrl/asterix-a-v0")
    teachers = [tmp_path / "t1", tmp_path / "t2"]
    p = _distill(cli, two_tasks, teachers, tmp_path / "s", "--steps", "20", "--curriculum", "max-kl", "--pcgrad",
                 "--curriculum-norm", "uniform", "--eval-episodes", "1", "--net.max-timestep", "32")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["env"] == "minatar:breakout,minatar:asterix" and s["updates"] == 20
    assert checkpoint.load_meta(tmp_path / "s" / "checkpoints" / "last.safetensors")["agent"]["max_timestep"] == 32
    assert sum(s["task_counts"]) == 20 and s["param_fraction"] <= 0.25
    assert s["student_params"] <= 0.25 * min(s2["n_params"], s1["n_params"])
    assert [t["task"] for t in s["per_task"]] == ["breakout", "asterix"] and "geomean_ratio" in s
    assert 0.0 <= s["pcgrad_projected_share"] <= 1.0 and s["kl_evals"] >= 20 // 3
    # the know-nothing KL per task (max-kl's uniform scale): log|A_k| − H(π_Tk) lies in (0, log|A_k|]
    assert set(s["heldout_kl_uniform"]) == {"breakout", "asterix"}
    assert all(0.0 < v <= math.log(18) for v in s["heldout_kl_uniform"].values())
    e = cli("eval", tmp_path / "t1", "--episodes", "2", "--json", check=True)
    e = json.loads(e.stdout.strip().splitlines()[-1])
    assert e["kind"] == "dt" and e["episodes"] == 2 and e["target_return"] == s1["target_return"]
    e = cli("eval", tmp_path / "s", "--episodes", "1", "--target-return", "5", "--json", check=True)
    e = json.loads(e.stdout.strip().splitlines()[-1])
    per = {t["name"]: t for t in e["per_task"]}
    assert set(per) == {"breakout", "asterix"} and per["asterix"]["target_return"] == 5.0
    # bad pairings are one-line errors
    e = cli("eval", tmp_path / "t1", "--env", "minatar:asterix", "--episodes", "1")
    assert e.returncode == 2 and "trained on minatar:breakout" in e.stderr
    e = cli("distill", "--teacher", tmp_path / "t1", "--steps", "10", "--run-dir", tmp_path / "online")
    assert e.returncode == 2 and "Decision Transformer" in e.stderr and len(e.stderr.strip().splitlines()) == 1
    e = _distill(cli, two_tasks, teachers, tmp_path / "ctx", "--steps", "5", "--net.context", "6")
    assert e.returncode == 2 and "must equal its teachers'" in e.stderr
    e = _distill(cli, two_tasks, teachers[::-1], tmp_path / "order", "--steps", "5",
                 "--env", "minatar:breakout,minatar:asterix")
    assert e.returncode == 2 and "pair them in task order" in e.stderr
    rows = (tmp_path / "s" / "metrics.csv").read_text().splitlines()
    assert "curriculum/share_breakout" in rows[0] and "heldout/kl_asterix" in rows[0] and len(rows) == 1 + 4

    # same seed, same result; a run resumed from its checkpoint ends where an uninterrupted one does
    a = _distill(cli, two_tasks, teachers, tmp_path / "a", "--steps", "20", "--curriculum", "uniform",
                 "--eval-episodes", "0", "--checkpoint-every", "10")
    assert a.returncode == 0, a.stderr
    b = _distill(cli, two_tasks, teachers, tmp_path / "b", "--steps", "10", "--curriculum", "uniform",
                 "--eval-episodes", "0")
    assert b.returncode == 0, b.stderr
    cfg = (tmp_path / "b" / "config.yaml").read_text().replace("steps: 10\n", "steps: 20\n")
    (tmp_path / "b" / "config.yaml").write_text(cfg)
    (tmp_path / "b" / "summary.json").unlink()
    c = cli("distill", "--run-dir", tmp_path / "b", "--resume", "--json", "--no-progress")  # routed by its config
    assert c.returncode == 0, c.stderr
    wa, _ = checkpoint.load(tmp_path / "a" / "checkpoints" / "last.safetensors")
    wb, _ = checkpoint.load(tmp_path / "b" / "checkpoints" / "last.safetensors")
    for k in wa["agent"]:
        torch.testing.assert_close(wa["agent"][k], wb["agent"][k], rtol=0, atol=0)
    assert wa["algo_state"]["curriculum"]["history"].tolist() == wb["algo_state"]["curriculum"]["history"].tolist()


def test_offline_bad_inputs(two_tasks, tmp_path, cli):
    p = cli("train", "--algo", "dt", "--dataset-root", two_tasks, "--run-dir", tmp_path / "x")
    assert p.returncode == 2 and "--dataset is required" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = cli("train", "--algo", "dt", "--dataset", "distillrl/nothing-v0", "--dataset-root", two_tasks,
            "--run-dir", tmp_path / "y")
    assert p.returncode == 2 and "no dataset distillrl/nothing-v0" in p.stderr
    p = cli("train", "--algo", "dt", "--dataset", "distillrl/breakout-a-v0", "--dataset-root", two_tasks,
            "--net.d-model", "10", "--net.n-head", "4", "--run-dir", tmp_path / "z")
    assert p.returncode == 2 and "multiple of --net.n-head" in p.stderr
    p = cli("train", "--algo", "dt", "--dataset", "distillrl/breakout-a-v0+distillrl/asterix-a-v0",
            "--dataset-root", two_tasks, "--run-dir", tmp_path / "w")
    assert p.returncode == 2 and "different environments" in p.stderr
    p = cli("distill", "--offline", "--teacher", tmp_path / "none", "--dataset", "a-v0", "b-v0",
            "--run-dir", tmp_path / "v")
    assert p.returncode == 2 and "pair by order" in p.stderr
    p = cli("distill", "--offline", "--teacher", "minatar-breakout", "--run-dir", tmp_path / "u",
            "--env", "minatar:breakout")
    assert p.returncode == 2 and "train --algo dt" in p.stderr
    p = cli("distill", "--offline", "--teacher", "x", "--curriculum-every", "0", "--run-dir", tmp_path / "t")
    assert p.returncode == 2 and "--curriculum-every" in p.stderr
    assert not any((tmp_path / d).exists() and any((tmp_path / d).iterdir()) for d in "xyzwvut")
