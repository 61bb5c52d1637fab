"""The agent over a whole [T, N] rollout: one batched forward (feed-forward) or the sequences from
the rollout's initial state (recurrent)."""

from __future__ import annotations

from typing import Any

import torch

from distillrl.models.agent import Agent, AgentOutput


def rollout_forward(agent: Agent, ro: Any) -> tuple[AgentOutput, AgentOutput]:
    """The agent over a whole [T, N] rollout (flat [T·N] outputs, time-major) and its output at
    the observation after the last step (the bootstrap). One batched forward when feed-forward;
    a recurrent agent runs its sequences from the rollout's initial state."""
    T, n = ro.shape
    if agent.recurrent:
        out = agent.forward_seq(ro.obs, ro.task_id, ro.state0, ro.starts)
        return out, agent(ro.last_obs, ro.task_id[-1], out.state, start=ro.done[-1])
    obs = torch.cat([ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:])), ro.last_obs])
    full = agent(obs, torch.cat([ro.task_id.reshape(-1), ro.task_id[-1]]))
    tn = T * n

    def part(sl):
        return AgentOutput(*(None if x is None or isinstance(x, tuple) else x[sl] for x in full))

    return part(slice(0, tn)), part(slice(tn, None))
