"""Random network distillation (Burda et al. 2018): distillation as an exploration bonus.

A fixed, randomly initialised *target* network ``f`` embeds observations; a *predictor* ``f̂``
is trained by MSE to reproduce it. States seen often are predicted well, new ones are not, so
the prediction error of the next observation is an intrinsic reward:

    r_int(t) = ‖f̂(x̃_{t+1}) − f(x̃_{t+1})‖² / σ_R,     x̃ = clip((x − μ_x) / σ_x, −5, 5)

with μ_x, σ_x running per-element statistics of the observations (warmed up with random
steps before training) and σ_R the running standard deviation of the *discounted intrinsic
return* (a per-environment forward filter R ← γ_int·R + r_int): over every return so far, as
in the paper (``--intrinsic.return-norm cumulative``), or over a moving window of rollouts
(``ema``, :class:`DecayingMeanStd`) — the untrained predictor's first errors are 10–25× the
later ones, and a cumulative σ_R keeps their scale for hundreds of thousands of frames. The agent gets a second
value head for the intrinsic stream; each stream has its own advantage estimate — extrinsic
with γ_ext = 0.999 and episode ends, intrinsic with γ_int = 0.99 and *no* episode ends (the
non-episodic stream: novelty after a reset still counts) — combined as
``A = c_ext·A_ext + c_int·A_int`` (2 and 1).

:class:`RNDTerm` is an extra loss term (:class:`trainer.LossTerm`) for the on-policy learners
(PPO, A2C, IMPALA): it edits the rollout before the estimator (intrinsic rewards), combines
the advantages after it, and adds two losses: the intrinsic value head's and the predictor's
(the predictor joins the learner's optimizer, as in the paper's single loss). It composes with
kickstarting's terms. The statistics use Gymnasium's ``RunningMeanStd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from gymnasium.wrappers.utils import RunningMeanStd
from torch import nn

from distillrl.config import knob
from distillrl.core import knobs as K
from distillrl.core.returns import gae, vtrace
from distillrl.core.terms import LossTerm
from distillrl.envs.make import EnvInfo
from distillrl.models.nets import init_module, layer_init
from distillrl.models.rollout import rollout_forward

ReturnNorm = Literal["cumulative", "ema"]

RND_ALGOS = ("ppo", "a2c", "impala")
"""The learners RND works with: on-policy, with a value head (its second value head joins theirs)."""


@dataclass
class IntrinsicConfig:
    """RND exploration bonus (with --rnd)."""

    ext_coef: float = knob(2.0, "≥ 0", "weight of the extrinsic advantage in A = ext_coef·A_ext + int_coef·A_int")
    int_coef: float = knob(1.0, "≥ 0", "weight of the intrinsic advantage")
    gamma_ext: float = K.gamma(0.999, "extrinsic discount with --rnd (replaces the learner's gamma, as in Burda "
                                      "et al.)")
    gamma_int: float = K.gamma(0.99, "intrinsic discount (the intrinsic stream ignores episode ends)")
    feature_dim: int = knob(128, "≥ 1", "output size of the target and predictor networks")
    update_proportion: float = knob(0.25, "(0, 1]", "share of each minibatch the predictor trains on (slows its "
                                                    "learning as envs are added)")
    warmup_frames: int = knob(2048, "≥ 0", "random-action frames that initialise the observation statistics before "
                                           "training")
    obs_clip: float = knob(5.0, "> 0", "normalised observations are clipped to ±obs_clip")
    return_norm: ReturnNorm = knob("cumulative", help="σ_R from every intrinsic return so far (the paper's), or "
                                   "from an exponential moving average over rollouts that forgets the untrained "
                                   "predictor's first, much larger errors")
    return_norm_decay: float = knob(0.9, "(0, 1)", "ema: weight of the older statistics at each rollout (0.9: a "
                                                   "horizon of about 10 rollouts)")


def _layout(info: EnvInfo) -> tuple[int, tuple[int, int] | None]:
    """(input channels or features, (H, W) for images, None for vectors)."""
    if info.layout == "flat":
        return int(np.prod(info.obs_shape)), None
    if info.layout == "hwc":
        return info.obs_shape[2], tuple(info.obs_shape[:2])
    return info.obs_shape[0], tuple(info.obs_shape[1:])


class RNDNet(nn.Module):
    """Target (``predictor=False``) or predictor network on normalised observations.

    Atari-size images: the paper's three convolutions (8×8/4, 4×4/2, 3×3/1, leaky ReLUs).
    Vectors and small grids (MinAtar, MiniGrid; under 36 pixels a side): two 256-unit
    leaky-ReLU layers on the flattened input — on a 7×7×3 MiniGrid view that is six times
    cheaper than a conv body and RND's whole cost is these networks. The predictor adds two
    hidden layers before its output, so it is the more expressive of the two (Burda et al.,
    appendix A.4: 512 units on Atari; 256 on the small inputs).
    """

    def __init__(self, info: EnvInfo, out_dim: int, predictor: bool):
        super().__init__()
        c, hw = _layout(info)
        self.hwc = info.layout == "hwc"
        self.image = hw is not None and min(hw) >= 36
        if self.image:
            self.body = nn.Sequential(nn.Conv2d(c, 32, 8, 4), nn.LeakyReLU(), nn.Conv2d(32, 64, 4, 2), nn.LeakyReLU(),
                                      nn.Conv2d(64, 64, 3, 1), nn.LeakyReLU(), nn.Flatten())
            with torch.no_grad():
                d = self.body(torch.zeros(1, c, *hw)).shape[1]
            h = 512
        else:
            n_in = int(np.prod(info.obs_shape))
            self.body = nn.Sequential(nn.Linear(n_in, 256), nn.LeakyReLU(), nn.Linear(256, 256), nn.LeakyReLU())
            d = h = 256
        head = [nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, out_dim)] \
            if predictor else [nn.Linear(d, out_dim)]
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: normalised observations [B, *obs_shape] (float, the env's layout)."""
        if self.image:
            if self.hwc:
                x = x.permute(0, 3, 1, 2)
        else:
            x = x.flatten(1)
        return self.head(self.body(x))


def init_orthogonal(module: nn.Module, gen: torch.Generator) -> None:
    """Orthogonal weights (gain √2), zero biases, drawn from ``gen`` (the paper's initialisation;
    the agent's own marking and drawing, :func:`nets.layer_init` / ``nets._init_module``)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            init_module(layer_init(m), gen)


def normalize_obs(obs: torch.Tensor, mean: np.ndarray, var: np.ndarray, clip: float) -> torch.Tensor:
    """``clip((x − μ) / σ, −clip, clip)`` element-wise, as float32."""
    m = torch.as_tensor(mean, dtype=torch.float32)
    s = torch.as_tensor(np.sqrt(var), dtype=torch.float32)
    return ((obs.float() - m) / s).clamp_(-clip, clip)


def forward_filter(rewards: np.ndarray, carry: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """The discounted intrinsic return per environment, ignoring episode ends:
    ``R_t = γ·R_{t−1} + r_t`` over [T, N] rewards from ``carry`` [N]; returns (R [T, N], R_{T−1})."""
    out = np.empty_like(rewards, dtype=np.float64)
    r = carry.astype(np.float64)
    for t in range(rewards.shape[0]):
        r = gamma * r + rewards[t]
        out[t] = r
    return out, r


class DecayingMeanStd:
    """Mean and variance of a stream that forget the past geometrically: after updates with
    batches b_1 … b_k (each with its own mean m_i and mean square q_i over its elements),

        w = Σ (1−d)·d^(k−i),  mean = Σ (1−d)·d^(k−i)·m_i / w,  var = Σ (1−d)·d^(k−i)·q_i / w − mean²

    (a bias-corrected exponential moving average, as Adam's moments). Used for σ_R when the
    intrinsic rewards shrink by an order of magnitude as the predictor learns: a cumulative
    variance (Gymnasium's ``RunningMeanStd``) keeps the first rollouts' scale for a long time.
    Same attributes (``mean``, ``var``, ``count``: here the weight w) so the state is saved alike."""

    def __init__(self, decay: float):
        self.decay = float(decay)
        self.mean, self.var, self.count = np.zeros((), np.float64), np.ones((), np.float64), 0.0

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64).reshape(-1)
        d = self.decay
        s1, s2 = self.mean * self.count, (self.var + self.mean ** 2) * self.count
        w = d * self.count + (1.0 - d)
        s1 = d * s1 + (1.0 - d) * x.mean()
        s2 = d * s2 + (1.0 - d) * np.mean(x * x)
        self.count = float(w)
        self.mean = np.asarray(s1 / w, np.float64)
        self.var = np.asarray(max(s2 / w - (s1 / w) ** 2, 1e-12), np.float64)


def prediction_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample squared error ‖f̂(x) − f(x)‖² (summed over features), [B]."""
    return (pred - target).pow(2).sum(-1)


class RNDTerm(LossTerm):
    """The RND exploration bonus as an extra term of an on-policy learner (see the module doc)."""

    name = "rnd"
    requires = frozenset({"logits", "value", "value_int"})
    changes_rewards = True
    gpu_ok = True
    """on a learner's ``--device``: the two networks live there; the statistics, the bonus's
    normalisation and the intrinsic GAE stay on the CPU (the bonus moves with the batch)"""

    def __init__(self, cfg: IntrinsicConfig):
        self.c = cfg
        self.warm = False
        self.last: dict[str, float] = {}
        self._values: tuple[torch.Tensor, torch.Tensor] | None = None  # V_int of the rollout being learned

    def attach(self, trainer) -> None:
        c = self.c
        self.trainer = trainer
        info = trainer.info
        # the two networks draw from their own generator (seeded by the run), so adding RND does not
        # shift the agent's own random streams
        gen = torch.Generator().manual_seed(trainer.cfg.seed + 7_777_777)
        with torch.random.fork_rng(devices=[]):
            self.target = RNDNet(info, c.feature_dim, predictor=False)
            self.predictor = RNDNet(info, c.feature_dim, predictor=True)
        init_orthogonal(self.target, gen)
        init_orthogonal(self.predictor, gen)
        self.target.requires_grad_(False)
        self.predictor.to(trainer.device)
        self.target.to(trainer.device)
        self.mask_gen = torch.Generator().manual_seed(trainer.cfg.seed + 7_777_778)
        trainer.learner.add_module(self.predictor)
        trainer.set_hparams(gamma=c.gamma_ext)
        self.obs_rms = RunningMeanStd(shape=tuple(info.obs_shape))
        self.ret_rms = RunningMeanStd(shape=()) if c.return_norm == "cumulative" else \
            DecayingMeanStd(c.return_norm_decay)
        self.carry: dict[int, np.ndarray] = {}  # forward-filter state per actor (its envs continue)
        self.vtrace_opts = None
        if trainer.algo == "impala":
            p = trainer.p
            self.vtrace_opts = (p.rho_bar, p.c_bar, p.vtrace_lambda)

    # ---- statistics
    def warmup(self) -> None:
        """Observation statistics from ``warmup_frames`` random-action steps on fresh environments
        (seeded from the run seed; the training environments are not touched)."""
        tr, n_frames = self.trainer, self.c.warmup_frames
        self.warm = True
        if n_frames <= 0:
            return
        k = tr.n_tasks  # every task's observations count: a whole number of envs per task
        envs = tr.taskset.make_vec(max(k, min(16, n_frames) // k * k), tr.cfg.max_episode_steps)
        rng = np.random.default_rng(tr.cfg.seed + 7_777_779)
        try:
            obs, _ = envs.reset(seed=tr.cfg.seed + 7_777_780)
            batch = [obs.copy()]
            done = envs.num_envs
            while done < n_frames:
                obs, *_ = envs.step(tr.taskset.random_actions(envs.task_ids, rng))
                batch.append(obs.copy())
                done += envs.num_envs
            self.obs_rms.update(np.concatenate(batch).astype(np.float64))
        finally:
            envs.close()

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return normalize_obs(obs, self.obs_rms.mean, self.obs_rms.var, self.c.obs_clip)

    # ---- hooks
    def on_rollout(self, ro) -> None:
        if not self.warm:
            self.warmup()
        T, n = ro.shape
        # the observation after step t: obs[t+1] (after an episode end, the next episode's first
        # observation, as in the reference implementation), last_obs after the final step
        nxt = torch.cat([ro.obs[1:], ro.last_obs[None]], 0).reshape((T * n,) + tuple(ro.obs.shape[2:]))
        self.obs_rms.update(nxt.numpy().astype(np.float64))
        x = self._norm(nxt)
        with torch.no_grad():  # the raw bonus ‖f̂(x̃) − f(x̃)‖²
            xd = x.to(self.trainer.device)  # no-op on the CPU
            raw = prediction_error(self.predictor(xd), self.target(xd)).view(T, n).cpu().numpy().astype(np.float64)
        carry = self.carry.get(ro.source, np.zeros(n))
        if carry.shape[0] != n:
            carry = np.zeros(n)
        rets, self.carry[ro.source] = forward_filter(raw, carry, self.c.gamma_int)
        self.ret_rms.update(rets.reshape(-1))
        r_int = raw / np.sqrt(self.ret_rms.var)
        ro.extras["rnd_reward"] = torch.from_numpy(r_int.astype(np.float32))
        ro.extras["rnd_obs"] = x.view((T, n) + tuple(ro.obs.shape[2:]))
        self.last = {"rnd/intrinsic_reward": float(r_int.mean()), "rnd/raw_error": float(raw.mean()),
                     "rnd/return_std": float(np.sqrt(self.ret_rms.var))}
        if self.vtrace_opts is None:  # on-policy: V_int at collection time (one batched forward)
            self._values = self._int_values(ro)

    @torch.no_grad()
    def _int_values(self, ro) -> tuple[torch.Tensor, torch.Tensor]:
        out, last = rollout_forward(self.trainer.agent, ro)
        return out.value_int.view(ro.shape).cpu(), last.value_int.cpu()  # the intrinsic GAE runs on the CPU

    def on_advantages(self, ro, out=None, last_int=None, target_logp=None) -> None:
        """After the learner's estimator: the intrinsic stream's advantages and targets (GAE
        on-policy; V-trace with the learner's values and ρ for IMPALA, ``out``/``last_int``/
        ``target_logp`` given), combined into ``ro.advantages``."""
        c, hp = self.c, self.trainer.hp
        T, n = ro.shape
        r = ro.extras["rnd_reward"]
        never = torch.zeros(T, n, device=r.device)  # the intrinsic stream is non-episodic
        if self.vtrace_opts is None:
            v, last = self._values
            adv = gae(r, v, never, last, c.gamma_int, hp["gae_lambda"])
            ret = adv + v
        else:
            rho_bar, c_bar, lam = self.vtrace_opts
            v = out.value_int.detach().view(T, n)
            ret, adv, _ = vtrace(ro.logp, target_logp, r, v, never, last_int.detach(), c.gamma_int,
                                 rho_bar, c_bar, lam)
        ro.extras["rnd_return"] = ret
        ro.advantages = c.ext_coef * ro.advantages + c.int_coef * adv
        self.last["rnd/int_advantage_std"] = float(adv.std())

    def __call__(self, out, mb) -> dict[str, torch.Tensor]:
        x = mb.extras["rnd_obs"]
        err = (self.predictor(x) - self.target(x)).pow(2).mean(-1)
        keep = (torch.rand(err.shape[0], generator=self.mask_gen) < self.c.update_proportion).to(err)
        loss_rnd = (err * keep).sum() / keep.sum().clamp(min=1.0)
        loss_vint = 0.5 * (out.value_int - mb.extras["rnd_return"]).pow(2).mean()
        return {"loss_rnd": loss_rnd, "loss_value_int": loss_vint}

    def weights(self, trainer) -> dict[str, float]:
        return {"loss_rnd": 1.0, "loss_value_int": trainer.hp["vf_coef"]}

    def metrics(self) -> dict[str, float]:
        return dict(self.last)

    # ---- state
    def state_dict(self) -> dict:
        def rms(r):
            return {"mean": torch.as_tensor(np.asarray(r.mean, np.float64)), "var": torch.as_tensor(
                np.asarray(r.var, np.float64)), "count": float(r.count)}

        return {"predictor": self.predictor.state_dict(), "target": self.target.state_dict(),
                "obs_rms": rms(self.obs_rms), "ret_rms": rms(self.ret_rms), "warm": self.warm,
                "carry": {str(k): torch.as_tensor(v) for k, v in self.carry.items()},
                "mask_gen": self.mask_gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.predictor.load_state_dict(s["predictor"])
        self.target.load_state_dict(s["target"])
        for r, d in ((self.obs_rms, s["obs_rms"]), (self.ret_rms, s["ret_rms"])):
            r.mean, r.var, r.count = d["mean"].numpy().copy(), d["var"].numpy().copy(), float(d["count"])
        self.warm = bool(s["warm"])
        self.carry = {int(k): v.numpy().copy() for k, v in s["carry"].items()}
        self.mask_gen.set_state(s["mask_gen"])


def add_rnd(trainer, cfg) -> None:
    """Add the RND term when the run config asks for it (``--rnd``)."""
    if getattr(cfg, "rnd", False):
        trainer.add_loss(RNDTerm(cfg.intrinsic))
