"""Gradient surgery against the previous update (PCGrad, Yu et al. 2020, as seed 004 uses it).

A new gradient ``g`` that conflicts with the previous update's ``g_prev`` (negative dot
product) is projected onto the normal plane of ``g_prev`` — whichever task either came from
(seed 004 has the student move to another teacher's data; under a cycling curriculum every
consecutive pair crosses tasks, under max-KL most pairs share one):

    g ← g − (g·g_prev / ‖g_prev‖²) · g_prev

so the step no longer undoes the previous one; a non-conflicting gradient is left untouched.
:class:`PreviousGradientSurgery` is a :class:`learner.Learner` gradient hook
(``learner.add_grad_hook(hook)``): it runs after backward and before clipping, on all the
learner's parameters as one flat vector, and remembers the gradient it let through.
"""

from __future__ import annotations

import torch


def project_conflicting(g: torch.Tensor, g_prev: torch.Tensor | None) -> tuple[torch.Tensor, bool]:
    """``(g projected onto g_prev's normal plane if they conflict, whether it was projected)``."""
    if g_prev is None:
        return g, False
    dot = torch.dot(g, g_prev)
    norm2 = torch.dot(g_prev, g_prev)
    if dot >= 0 or norm2 == 0:
        return g, False
    return g - (dot / norm2) * g_prev, True


class PreviousGradientSurgery:
    """A learner gradient hook: PCGrad of each update's gradient against the previous update's."""

    def __init__(self):
        self.prev: torch.Tensor | None = None
        self.steps = 0
        self.projected = 0

    def __call__(self, params: list[torch.nn.Parameter]) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        g = torch.cat([x.reshape(-1) for x in grads])
        g2, hit = project_conflicting(g, self.prev)
        if hit:
            offset = 0
            for p in params:
                n = p.numel()
                if p.grad is not None:
                    p.grad.copy_(g2[offset:offset + n].view_as(p))
                offset += n
        self.prev = g2.detach().clone()
        self.steps += 1
        self.projected += int(hit)

    @property
    def projected_share(self) -> float:
        return self.projected / max(self.steps, 1)

    def state_dict(self) -> dict:
        return {"prev": self.prev if self.prev is not None else torch.zeros(0), "steps": self.steps,
                "projected": self.projected}

    def load_state_dict(self, s: dict) -> None:
        self.prev = s["prev"].clone() if s["prev"].numel() else None
        self.steps, self.projected = int(s["steps"]), int(s["projected"])
