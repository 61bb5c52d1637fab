"""Every trainer kind behind the one protocol and the one loop: PPO, A2C, DQN, PQN, IMPALA,
distillation, kickstarting, online distillation, the Decision Transformer and the offline
student each satisfy :class:`Trainer`, run through :func:`runs.loop.drive` to a tiny budget,
save, load and continue deterministically, have live hyper-parameters, and leave torch's and
NumPy's global generators untouched."""

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer, train_live_hparams
from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.dt import DTConfig, DTNetConfig, DTTrainer
from distillrl.algos.impala import ImpalaConfig
from distillrl.algos.kickstart import KickstartConfig, kickstart_live_hparams, make_kickstart_trainer
from distillrl.algos.offline_distill import OfflineDistillConfig, OfflineDistillTrainer
from distillrl.core.protocol import Trainer
from distillrl.datasets.writer import write_dataset
from distillrl.models.nets import NetConfig
from distillrl.runs.loop import Hook, StopAfterUpdates, drive, run
from distillrl.runs.rundir import read_metrics, restore, save_checkpoint
from distillrl.teachers.base import CallableTeacher

CP = "gym:CartPole-v1"
KINDS = ["ppo", "a2c", "dqn", "pqn", "impala", "distill", "kickstart", "online", "dt", "dt-distill"]
OFFLINE_NET = DTNetConfig(d_model=8, n_layer=1, n_head=2, context=3, dropout=0.1)


def _teacher():
    def fn(obs):
        right = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.float32)
        return np.stack([1 - right, right], -1) * 4.0
    return CallableTeacher(fn, (4,), 2, outputs="logits", name="fixed")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """A two-episode MinAtar Breakout dataset and a Decision-Transformer teacher trained on it
    for a few updates (the offline student's teacher)."""
    root = tmp_path_factory.mktemp("datasets")
    write_dataset("minatar-breakout", None, 2, "distillrl/breakout-tiny-v0", root, seed=0)
    cfg = DTConfig(dataset=["distillrl/breakout-tiny-v0"], dataset_root=str(root), env="minatar:breakout", steps=4,
                   batch_size=4, log_every=2, eval_episodes=0, net=OFFLINE_NET)
    teacher = DTTrainer(cfg)
    teacher.advance(4)
    run_dir = tmp_path_factory.mktemp("dt-teacher")
    save_checkpoint(teacher, run_dir, cfg, "train")
    return root, run_dir


def build(kind: str, offline=None, seed: int = 1):
    """A trainer of ``kind`` at a tiny budget, and its config."""
    if kind in ("ppo", "a2c", "pqn", "online"):
        cfg = TrainConfig(env=CP, algo="ppo" if kind == "online" else kind, steps=128, seed=seed, eval_episodes=0,
                          checkpoint_every=64, net=NetConfig(hidden=(16,)), online_distill=kind == "online")
        learner = cfg.pqn if kind == "pqn" else cfg.ppo
        learner.num_envs, learner.num_steps, learner.num_minibatches = 2, 32, 2
        cfg.online.eval_every, cfg.online.eval_episodes = 64, 1
        return make_trainer(cfg), cfg
    if kind == "dqn":
        cfg = TrainConfig(env=CP, algo="dqn", steps=128, seed=seed, eval_episodes=0, checkpoint_every=64,
                          net=NetConfig(hidden=(16,)))
        cfg.dqn.learning_starts, cfg.dqn.log_every, cfg.dqn.buffer_size = 32, 32, 1000
        return make_trainer(cfg), cfg
    if kind == "impala":
        cfg = TrainConfig(env=CP, algo="impala", steps=128, seed=seed, actors=0, eval_episodes=0, checkpoint_every=64,
                          net=NetConfig(hidden=(16,)), impala=ImpalaConfig(num_envs=2, num_steps=16, log_every=64))
        return make_trainer(cfg), cfg
    if kind == "distill":
        cfg = DistillConfig(env=CP, steps=64, seed=seed, num_envs=2, rollout_steps=16, eval_episodes=0,
                            checkpoint_every=32, net=NetConfig(hidden=(16,)))
        return DistillTrainer(cfg, teacher=_teacher()), cfg
    if kind == "kickstart":
        cfg = KickstartConfig(env=CP, steps=128, seed=seed, schedule="constant", eval_episodes=0, checkpoint_every=64,
                              net=NetConfig(hidden=(16,)))
        cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 32
        return make_kickstart_trainer(cfg, teachers=[_teacher()]), cfg
    root, dt_run = offline
    if kind == "dt":
        cfg = DTConfig(dataset=["distillrl/breakout-tiny-v0"], dataset_root=str(root), env="minatar:breakout",
                       steps=6, seed=seed, batch_size=4, log_every=2, checkpoint_every=4, eval_episodes=0,
                       net=OFFLINE_NET)
        return DTTrainer(cfg), cfg
    cfg = OfflineDistillConfig(teacher=[str(dt_run)], dataset=["distillrl/breakout-tiny-v0"], dataset_root=str(root),
                               env="minatar:breakout", steps=6, seed=seed, batch_size=4, log_every=2,
                               checkpoint_every=4, eval_episodes=0, held_out_windows=4, curriculum_every=2,
                               student_size=None, net=OFFLINE_NET)
    return OfflineDistillTrainer(cfg), cfg


TIMINGS = ("charts/sps", "charts/tokens_per_s", "impala/learner_busy", "impala/wait", "impala/unpack",
           "impala/broadcast", "impala/overhead", "impala/actor_fps")


def _strip(rows):
    """Rows without wall-clock measurements."""
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]


def live_listing(kind: str, cfg) -> dict:
    """The live hyper-parameters of ``kind`` as listed statically from its config (no trainer)."""
    if kind == "distill":
        return DistillTrainer.live_hparams(cfg)
    if kind == "kickstart":
        return kickstart_live_hparams(cfg, n_teachers=1)  # the teacher is given as an object
    if kind == "dt":
        return DTTrainer.live_hparams(cfg)
    if kind == "dt-distill":
        return OfflineDistillTrainer.live_hparams(cfg)
    return train_live_hparams(cfg)


def _needs(kind, request):
    return request.getfixturevalue("offline") if kind.startswith("dt") else None


@pytest.mark.parametrize("kind", KINDS)
def test_every_trainer_satisfies_the_protocol_and_runs_saves_and_loads_through_the_loop(kind, request, tmp_path):
    off = _needs(kind, request)
    tr, cfg = build(kind, off)
    b = c = None
    try:
        assert isinstance(tr, Trainer)
        assert tr.frames == 0 and tr.total_frames == cfg.steps and tr.log_every >= 1 and tr.n_params > 0
        assert "lr" in tr.hp.names()  # every kind has live hyper-parameters
        live = live_listing(kind, cfg)  # ... exactly those its class lists without building it
        assert tr.hp.names() == list(live)
        assert all(lv.value is None or tr.hp[n] == lv.value for n, lv in live.items())
        summary = drive(tr, cfg, tmp_path, kind, resume=False, progress=False)
        assert tr.frames >= cfg.steps and summary["steps"] == tr.frames
        rows = read_metrics(tmp_path)
        assert rows and rows[-1]["frames"] <= tr.frames
        tr.export(tmp_path)
        assert isinstance(tr.recent_returns(), list)
        # two trainers restored from the run's checkpoint continue identically, whatever their
        # state before (c has trained a little)
        b, _ = build(kind, off)
        c, _ = build(kind, off)
        c.advance(c.log_every)
        assert restore(b, tmp_path) and restore(c, tmp_path)
        assert (b.frames, b.updates) == (c.frames, c.updates) == (tr.frames, tr.updates)
        b.set_hparams(lr=b.hp["lr"] / 2)
        c.set_hparams(lr=c.hp["lr"] / 2)
        assert _strip(run_rows(b)) == _strip(run_rows(c))
        assert b.frames == c.frames > tr.frames
        for (n, x), y in zip(b.agent.state_dict().items(), c.agent.state_dict().values()):
            assert torch.equal(x, y), n
    finally:
        for t in (tr, b, c):
            if t is not None:
                t.close()


def run_rows(tr) -> list[dict]:
    """Two more update rounds through the loop (a StopAfterUpdates hook ends it), collecting rows."""
    got: list[dict] = []

    class Collect(Hook):
        def on_rows(self, trainer, rows):
            got.extend(rows)
            return False

    u0 = tr.updates
    stopped = run(tr, [Collect(), StopAfterUpdates(u0 + 1)], until=tr.frames + 10 * tr.total_frames)
    assert stopped and tr.updates > u0
    return got


@pytest.mark.parametrize("kind", KINDS)
def test_no_trainer_touches_the_global_generators(kind, request):
    off = _needs(kind, request)
    t0, n0 = torch.get_rng_state(), np.random.get_state()[1].copy()
    tr, cfg = build(kind, off)
    try:
        tr.advance(cfg.steps)
        tr.load_state_dict(tr.state_dict())
        tr.advance(tr.log_every)
    finally:
        tr.close()
    assert torch.equal(t0, torch.get_rng_state()), "torch's global generator moved"
    assert np.array_equal(n0, np.random.get_state()[1]), "NumPy's global generator moved"


def test_the_offline_trainers_are_deterministic_and_their_hyperparameters_live(request):
    off = request.getfixturevalue("offline")
    for kind in ("dt", "dt-distill"):
        a, _ = build(kind, off)
        b, _ = build(kind, off)
        torch.manual_seed(123)  # the user's own use of the global generator must not matter
        ra = a.advance(2)
        torch.manual_seed(456)
        rb = b.advance(2)
        assert _strip(ra) == _strip(rb)
        a.set_hparams(lr=0.5, weight_decay=0.0)
        warm = a.lr_now()
        assert warm == pytest.approx(0.5 * 3 / a.cfg.warmup_steps)  # the warm-up scales the live peak
        a.advance(1)
        assert a.learner.last_lr == pytest.approx(warm)
        assert a.learner.opt.param_groups[0]["weight_decay"] == 0.0
        c, _ = build(kind, off)
        c.load_state_dict(a.state_dict())
        assert c.hp.as_dict() == a.hp.as_dict()
