"""--device: parsing and availability, what may move to a GPU, and (where one is present) a real
CUDA run. On this CPU machine the CUDA test is skipped; the plumbing around it is tested here."""

from __future__ import annotations

import pytest
import torch

from distillrl.core import device as D
from distillrl.core.data import Batch
from distillrl.errors import ConfigError


def test_forms_and_errors(monkeypatch):
    assert D.resolve_device("cpu") == torch.device("cpu") and D.resolve_device(None) == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"expected cpu, cuda, cuda:N, mps or auto, got 'gpu'"):
        D.resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(D, "_mps_available", lambda: False)
    with pytest.raises(ConfigError, match="--device cuda: torch cannot use CUDA here"):
        D.resolve_device("cuda")
    with pytest.raises(ConfigError, match="MPS"):
        D.resolve_device("mps")
    assert D.resolve_device("auto") == torch.device("cpu")
    # a machine with two GPUs (as torch would report it)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert D.resolve_device("cuda:1") == torch.device("cuda", 1)
    assert D.resolve_device("auto") == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"sees 2 CUDA device\(s\), numbered 0..1"):
        D.resolve_device("cuda:2")


def _cfg(algo: str, **kw):
    from distillrl.algos import TrainConfig
    from distillrl.config import from_dict

    return from_dict(TrainConfig, {"env": "gym:CartPole-v1", "algo": algo, "steps": 512, **kw})


@pytest.mark.parametrize("algo, kw", [("dqn", {}), ("pqn", {}), ("impala", {}), ("a2c", {}),
                                      ("ppo", {"net": {"lstm": 8}}), ("ppo", {"rnd": True})])
def test_every_learner_accepts_a_device(monkeypatch, algo, kw):
    """Every learner (recurrent agents too) declares that it moves its batches to ``--device``;
    nothing really moves on this machine (where the transfers themselves are not exercised)."""
    import distillrl.algos.base as base
    from distillrl.algos import make_trainer

    monkeypatch.setattr(base, "resolve_device", lambda text: torch.device("meta"))  # any non-CPU device
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: self)
    tr = make_trainer(_cfg(algo, device="cuda", **kw))
    try:
        assert tr.device.type == "meta" and tr.gpu_ok
    finally:
        tr.close()


def test_rollout_and_transitions_move_whole():
    from distillrl.core.data import Rollout, Transitions

    T, n = 3, 2
    z = torch.zeros(T, n)
    ro = Rollout(obs=torch.zeros(T, n, 4), actions=z.long(), logp=z, logits=torch.zeros(T, n, 2), values=z,
                 rewards=z, done=z, terminated=z, trunc_value=z, task_id=z.long(), last_obs=torch.zeros(n, 4),
                 last_value=torch.zeros(n), state0=(torch.ones(n, 3), torch.ones(n, 3)), version=7, source=1,
                 extras={"p_ks0": torch.ones(T, n, 2)})
    r = ro.to(torch.device("meta"))
    assert r.obs.device.type == "meta" and r.state0[1].device.type == "meta" and r.extras["p_ks0"].is_meta
    assert (r.version, r.source, r.advantages) == (7, 1, None) and r.shape == (T, n)
    tr = Transitions(*(torch.zeros(4) for _ in range(6))).to(torch.device("meta"))
    assert all(getattr(tr, f).is_meta for f in ("obs", "actions", "rewards", "next_obs", "terminated", "task_id"))


def test_agent_inputs_follow_its_parameters():
    """A network moved elsewhere takes CPU inputs (rollouts, evaluation) and a CPU recurrent state."""
    from distillrl.algos import make_trainer

    tr = make_trainer(_cfg("ppo", net={"lstm": 8}))
    try:
        a = tr.agent
        assert a.device.type == "cpu"
        out = a(torch.zeros(5, 4), None, (torch.zeros(5, 8), torch.zeros(5, 8)), torch.ones(5))
        assert out.logits.shape == (5, 2) and a.initial_state(3)[0].device == a.device
    finally:
        tr.close()


def test_a_term_that_stays_on_the_cpu_is_refused_on_a_gpu_learner(monkeypatch):
    import distillrl.algos.base as base
    from distillrl.algos import make_trainer
    from distillrl.core.terms import LossTerm

    class CpuTerm(LossTerm):
        name = "cputerm"
        requires = frozenset({"logits"})

    monkeypatch.setattr(base, "resolve_device", lambda text: torch.device("meta"))  # any non-CPU device
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: self)  # nothing really moves here
    tr = make_trainer(_cfg("ppo", device="cuda"))
    with pytest.raises(ConfigError, match="the cputerm term runs on the CPU only"):
        tr.add_loss(CpuTerm())


def test_batch_to_moves_every_tensor_and_extra():
    b = Batch(obs=torch.zeros(4, 3), actions=torch.zeros(4, dtype=torch.int64), task_id=torch.zeros(4, dtype=torch.int64),
              logp=torch.zeros(4), extras={"p_ks0": torch.ones(4, 2)})
    c = b.to(torch.device("cpu"))
    assert torch.equal(c.extras["p_ks0"], b.extras["p_ks0"]) and c.values is None and c.obs.shape == (4, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (this path is verified only on a GPU)")
def test_kickstart_on_cuda_runs_and_its_student_loads_on_the_cpu(tmp_path):
    from distillrl.algos import make_trainer  # noqa: F401
    from distillrl.runs.kinds import build_config, kind, run_job

    k = kind("kickstart")
    cfg = build_config(k, {"env": "gym:CartPole-v1", "teacher": ["cartpole"], "steps": 2048, "eval_episodes": 2,
                           "device": "cuda"})
    s = run_job(k, cfg, tmp_path / "run", False, progress=False)
    assert s["device"].startswith("cuda")
    from distillrl.teachers.load import load_teacher

    t = load_teacher(str(tmp_path / "run"))
    assert t.outputs(torch.zeros(2, 4)).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (this path is verified only on a GPU)")
@pytest.mark.parametrize("algo, kw", [("dqn", {"dqn": {"learning_starts": 64}}), ("pqn", {}), ("impala", {}),
                                      ("ppo", {"net": {"lstm": 8}}), ("ppo", {"rnd": True}),
                                      ("impala", {"rnd": True})])
def test_each_learner_learns_on_cuda(algo, kw):
    from distillrl.algos import make_trainer

    tr = make_trainer(_cfg(algo, device="cuda", **kw))
    try:
        while tr.frames < 1024:
            tr.step()
        assert next(tr.agent.parameters()).is_cuda and tr.state_dict()["agent"]
    finally:
        tr.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (this path is verified only on a GPU)")
def test_distill_on_cuda(tmp_path):
    from distillrl.runs.kinds import build_config, kind, run_job

    k = kind("distill")
    cfg = build_config(k, {"teacher": ["cartpole"], "steps": 2048, "eval_episodes": 2, "device": "cuda"})
    assert run_job(k, cfg, tmp_path / "run", False, progress=False)["device"].startswith("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs it instead of refusing it")
def test_cli_device_cuda_on_a_cpu_machine_is_one_line_and_writes_nothing(tmp_path, cli):
    p = cli("train", "--env", "gym:CartPole-v1", "--steps", "512", "--device", "cuda", "--run-dir", tmp_path / "r",
            check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "torch cannot use CUDA here" in p.stderr
    assert not (tmp_path / "r").exists()
