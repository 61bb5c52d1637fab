import numpy as np
import pytest
import torch

from distillrl.models.fastpolicy import NumpyPolicy, agent_weights, make_fast_policy, sample_gumbel
from distillrl.envs.make import EnvInfo, env_info
from distillrl.models.agent import Agent, param_count
from distillrl.models.nets import NetConfig

MINATAR = EnvInfo("minatar:breakout", (10, 10, 4), "hwc", 1.0, 3)


def test_minatar_net_exact_param_count():
    a = Agent(MINATAR)
    conv = 4 * 16 * 9 + 16
    fc = 16 * 8 * 8 * 128 + 128
    assert a.arch == "minatar"
    assert param_count(a) == conv + fc + (128 * 3 + 3) + (128 + 1)


def test_mlp_separate_actor_critic_param_count():
    info = EnvInfo("gym:CartPole-v1", (4,), "flat", 1.0, 2)
    a = Agent(info, NetConfig(hidden=(64, 64)))
    trunk = (4 * 64 + 64) + (64 * 64 + 64)
    assert param_count(a) == 2 * trunk + (64 * 2 + 2) + (64 + 1)


def test_width_multiplier_scales_units():
    small = Agent(MINATAR, NetConfig(width=0.25))
    assert small.trunk.conv.out_channels == 4 and small.trunk.fc.out_features == 32
    assert param_count(small) < param_count(Agent(MINATAR)) / 10


def test_minatar_downsample_param_count_and_shapes():
    """Each stride-2 conv (3×3, padding 1) halves the side, rounding up: 8 → 4 → 2 → 1."""
    conv, down = 4 * 16 * 9 + 16, 16 * 16 * 9 + 16
    heads = (128 * 3 + 3) + (128 + 1)
    for n, side in ((1, 4), (2, 2), (3, 1)):
        a = Agent(MINATAR, NetConfig(downsample=n))
        assert param_count(a) == conv + n * down + (16 * side * side * 128 + 128) + heads
        out = a(torch.zeros(5, 10, 10, 4))
        assert out.logits.shape == (5, 3)
    # layer-normed: one LayerNorm(16) per stride-2 conv as well
    a = Agent(MINATAR, NetConfig(downsample=1, norm="layer"))
    assert param_count(a) == conv + down + (16 * 4 * 4 * 128 + 128) + heads + 3 * 2 * 16 + 2 * 128 - 2 * 16
    # the paper network keeps its parameter names (zoo checkpoints load unchanged)
    assert not any(k.startswith("trunk.down") for k in Agent(MINATAR).state_dict())


def test_downsample_students_act_through_torch_and_agree_with_the_agent():
    a = Agent(MINATAR, NetConfig(downsample=2, width=0.5))
    actor = make_fast_policy(a)
    assert not isinstance(actor, NumpyPolicy)
    obs = np.random.default_rng(0).integers(0, 2, (6, 10, 10, 4)).astype(np.float32)
    with torch.no_grad():
        ref = a(torch.from_numpy(obs)).logits.numpy()
    np.testing.assert_allclose(actor(obs)[0], ref, atol=1e-5)


def test_downsample_outside_the_minatar_trunk_is_refused():
    from distillrl.errors import ConfigError

    with pytest.raises(ConfigError, match="downsample"):
        Agent(EnvInfo("gym:CartPole-v1", (4,), "flat", 1.0, 2), NetConfig(downsample=1))
    from distillrl.config import validate

    with pytest.raises(ConfigError, match=r"--net.downsample must be \[0, 3\], got 4"):
        validate(NetConfig(downsample=4), "net")


@pytest.mark.parametrize("arch", ["nature", "impala"])
def test_big_cnns_forward(arch):
    info = EnvInfo("ale:pong", (4, 84, 84), "chw", 1 / 255, 6)
    a = Agent(info, NetConfig(arch=arch, width=0.5))
    out = a(torch.randint(0, 255, (2, 4, 84, 84), dtype=torch.uint8))
    assert out.logits.shape == (2, 6) and out.value.shape == (2,)


@pytest.mark.parametrize("spec,kw", [
    ("minatar:breakout", {}),
    ("minatar:seaquest", {"width": 0.5}),
    ("gym:CartPole-v1", {}),
    ("gym:CartPole-v1", {"shared": True, "activation": "relu"}),
])
def test_numpy_policy_matches_torch(spec, kw):
    info = env_info(spec)
    agent = Agent(info, NetConfig(**kw), q_head=True, generator=torch.Generator().manual_seed(0))
    actor = make_fast_policy(agent)
    assert isinstance(actor, NumpyPolicy)
    rng = np.random.default_rng(0)
    obs = (rng.random((5,) + info.obs_shape) > 0.7) if spec.startswith("minatar") else rng.normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        ref = agent(torch.from_numpy(obs))
    logits, value = actor(obs)
    np.testing.assert_allclose(logits, ref.logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(value, ref.value.numpy(), atol=1e-5)
    np.testing.assert_allclose(actor.q_values(obs), ref.q.numpy(), atol=1e-5)
    # weights arrive through the explicit set_weights call (as for a remote actor)
    with torch.no_grad():
        for p in agent.parameters():
            p.add_(0.1)
        ref = agent(torch.from_numpy(obs))
    actor.set_weights({k: v.copy() for k, v in agent_weights(agent).items()})
    np.testing.assert_allclose(actor(obs)[0], ref.logits.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(actor(obs)[1], ref.value.numpy(), rtol=1e-4, atol=1e-4)


def test_agent_init_uses_its_generator_not_the_global_one():
    info = env_info("minatar:breakout")
    state = torch.get_rng_state()
    a = Agent(info, generator=torch.Generator().manual_seed(3))
    b = Agent(info, generator=torch.Generator().manual_seed(3))
    c = Agent(info, generator=torch.Generator().manual_seed(4))
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.trunk.fc.weight, c.trunk.fc.weight)


def test_gumbel_sampling_matches_probabilities():
    logits = np.log(np.array([[0.1, 0.2, 0.7]] * 20000, np.float32))
    a, logp = sample_gumbel(logits, np.random.default_rng(0))
    freq = np.bincount(a, minlength=3) / len(a)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)
    np.testing.assert_allclose(logp, np.log(np.array([0.1, 0.2, 0.7]))[a], rtol=1e-5)


def test_numpy_policy_q_head_beside_a_policy_head_without_value():
    info = env_info("gym:CartPole-v1")
    agent = Agent(info, NetConfig(hidden=(8,)), value_head=False, q_head=True, generator=torch.Generator().manual_seed(1))
    pol = make_fast_policy(agent)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        ref = agent(torch.from_numpy(obs))
    np.testing.assert_allclose(pol(obs)[0], ref.logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(pol.q_values(obs), ref.q.numpy(), atol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("norm", [False, True])
def test_mlp_direct_forward_is_the_sequential_one_bit_for_bit(activation, norm):
    from distillrl.models.nets import MLP

    torch.manual_seed(0)
    mlp = MLP(12, (64, 32), activation=activation, norm=norm)
    x = torch.randn(50, 3, 4)
    a = mlp(x)
    b = mlp.net(x.flatten(1))
    assert torch.equal(a, b)
    a.sum().backward()
    g1 = [p.grad.clone() for p in mlp.parameters()]
    mlp.zero_grad()
    b.sum().backward()
    assert all(torch.equal(u, p.grad) for u, p in zip(g1, mlp.parameters()))
