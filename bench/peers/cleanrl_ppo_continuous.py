"""The peer for bench/bench_ppo_continuous.py: CleanRL's ``ppo_continuous_action.py`` algorithm
(github.com/vwxyzjn/cleanrl, MIT), restated for Gymnasium 1.x.

CleanRL's file targets Gymnasium 0.29 (``infos["final_info"]`` lists, ``TransformObservation``
without an observation space); on the Gymnasium this project uses it does not run unmodified. This
restates the same algorithm and settings — the per-env wrapper stack (ClipAction,
NormalizeObservation, clip ±10, NormalizeReward(γ), clip ±10, RecordEpisodeStatistics), the
separate 64-64 tanh actor and critic with orthogonal init (actor output gain 0.01, critic 1),
a state-independent log σ initialised at 0, Adam (ε 1e-5) with the learning rate annealed
linearly per iteration, GAE with ``dones`` treating truncation as termination, 10 epochs of 32
shuffled minibatches, advantage normalisation per minibatch, the clipped surrogate and value
losses, gradient-norm clipping — with same-step autoreset (Gymnasium 0.29's behaviour). Only the
bookkeeping differs: no TensorBoard writer, episode returns collected in a list.

    python bench/peers/cleanrl_ppo_continuous.py --env-id HalfCheetah-v5 --seed 1 --total-timesteps 1000000 --out r.json
"""

from __future__ import annotations

import argparse
import json
import random
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn, optim
from torch.distributions.normal import Normal


def make_env(env_id: str, gamma: float):
    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.FlattenObservation(env)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        env = gym.wrappers.ClipAction(env)
        env = gym.wrappers.NormalizeObservation(env)
        env = gym.wrappers.TransformObservation(env, lambda o: np.clip(o, -10, 10), env.observation_space)
        env = gym.wrappers.NormalizeReward(env, gamma=gamma)
        env = gym.wrappers.TransformReward(env, lambda r: np.clip(r, -10, 10))
        return env
    return thunk


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_act: int):
        super().__init__()
        self.critic = nn.Sequential(layer_init(nn.Linear(n_obs, 64)), nn.Tanh(), layer_init(nn.Linear(64, 64)),
                                    nn.Tanh(), layer_init(nn.Linear(64, 1), std=1.0))
        self.actor_mean = nn.Sequential(layer_init(nn.Linear(n_obs, 64)), nn.Tanh(), layer_init(nn.Linear(64, 64)),
                                        nn.Tanh(), layer_init(nn.Linear(64, n_act), std=0.01))
        self.actor_logstd = nn.Parameter(torch.zeros(1, n_act))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        mean = self.actor_mean(x)
        probs = Normal(mean, torch.exp(self.actor_logstd.expand_as(mean)))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env-id", default="HalfCheetah-v5")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--total-timesteps", type=int, default=1_000_000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lr, num_envs, num_steps, gamma, lam = 3e-4, 1, 2048, 0.99, 0.95
    num_minibatches, epochs, clip, ent_coef, vf_coef, max_norm = 32, 10, 0.2, 0.0, 0.5, 0.5
    batch = num_envs * num_steps
    mb_size = batch // num_minibatches
    iterations = a.total_timesteps // batch

    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    envs = gym.vector.SyncVectorEnv([make_env(a.env_id, gamma) for _ in range(num_envs)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs_shape, act_shape = envs.single_observation_space.shape, envs.single_action_space.shape
    agent = Agent(int(np.prod(obs_shape)), int(np.prod(act_shape)))
    optimizer = optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    obs = torch.zeros((num_steps, num_envs) + obs_shape)
    actions = torch.zeros((num_steps, num_envs) + act_shape)
    logprobs = torch.zeros((num_steps, num_envs))
    rewards = torch.zeros((num_steps, num_envs))
    dones = torch.zeros((num_steps, num_envs))
    values = torch.zeros((num_steps, num_envs))

    returns_log: list[tuple[int, float]] = []
    global_step = 0
    t0 = time.perf_counter()
    next_obs, _ = envs.reset(seed=a.seed)
    next_obs = torch.Tensor(next_obs)
    next_done = torch.zeros(num_envs)
    for iteration in range(1, iterations + 1):
        optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / iterations) * lr
        for step in range(num_steps):
            global_step += num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            next_obs, reward, term, trunc, infos = envs.step(action.numpy())
            next_done = np.logical_or(term, trunc)
            rewards[step] = torch.tensor(reward).view(-1)
            next_obs, next_done = torch.Tensor(next_obs), torch.Tensor(next_done)
            fin = infos.get("final_info", {})
            if "episode" in fin:
                for i in np.nonzero(fin.get("_episode", np.ones(num_envs, bool)))[0]:
                    returns_log.append((global_step, float(fin["episode"]["r"][i])))
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(num_steps)):
                if t == num_steps - 1:
                    nonterminal, nextvalues = 1.0 - next_done, next_value
                else:
                    nonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + gamma * nextvalues * nonterminal - values[t]
                advantages[t] = lastgaelam = delta + gamma * lam * nonterminal * lastgaelam
            returns = advantages + values
        b_obs = obs.reshape((-1,) + obs_shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + act_shape)
        b_adv, b_ret, b_val = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        inds = np.arange(batch)
        for _ in range(epochs):
            np.random.shuffle(inds)
            for start in range(0, batch, mb_size):
                mb = inds[start:start + mb_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                mb_adv = b_adv[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
                newvalue = newvalue.view(-1)
                v_clipped = b_val[mb] + torch.clamp(newvalue - b_val[mb], -clip, clip)
                v_loss = 0.5 * torch.max((newvalue - b_ret[mb]) ** 2, (v_clipped - b_ret[mb]) ** 2).mean()
                loss = pg_loss - ent_coef * entropy.mean() + v_loss * vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), max_norm)
                optimizer.step()
    wall = time.perf_counter() - t0
    envs.close()
    with open(a.out, "w") as f:
        json.dump({"env": a.env_id, "seed": a.seed, "frames": global_step, "wall_s": wall, "sps": global_step / wall,
                   "episodes": returns_log}, f)


if __name__ == "__main__":
    main()
