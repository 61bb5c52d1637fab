"""PCGrad against the previous update: hand-computed vectors and the learner hook."""

import torch
from torch import nn

from distillrl.core.learner import Learner
from distillrl.terms.surgery import PreviousGradientSurgery, project_conflicting


def test_conflicting_gradient_is_projected_by_hand():
    g, prev = torch.tensor([1.0, -2.0]), torch.tensor([0.0, 1.0])
    out, hit = project_conflicting(g, prev)
    # g·prev = −2 < 0: g − (−2/1)·prev = (1, 0), orthogonal to prev
    assert hit and out.tolist() == [1.0, 0.0] and torch.dot(out, prev) == 0
    out, hit = project_conflicting(torch.tensor([3.0, 1.0, -1.0]), torch.tensor([-1.0, 1.0, 0.0]))
    # dot = −2, ‖prev‖² = 2: (3, 1, −1) + (−1, 1, 0) = (2, 2, −1)
    assert hit and out.tolist() == [2.0, 2.0, -1.0]


def test_non_conflicting_gradient_is_untouched():
    g = torch.tensor([1.0, 2.0])
    for prev in (torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 1.0]), None, torch.zeros(2)):  # dot > 0, = 0, none
        out, hit = project_conflicting(g, prev)
        assert not hit and torch.equal(out, g)


def test_hook_in_the_learner_projects_against_the_previous_update():
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.zero_()
    learner = Learner(lin, "adam", lr=0.0)  # lr 0: only the gradients matter here
    hook = PreviousGradientSurgery()
    learner.add_grad_hook(hook)
    x = torch.tensor([[0.0, 1.0]])
    learner.step({"loss_a": lin(x).sum()}, {"loss_a": 1.0}, 0.0)  # gradient (0, 1)
    assert hook.prev.tolist() == [0.0, 1.0] and hook.projected == 0
    learner.step({"loss_a": lin(torch.tensor([[1.0, -2.0]])).sum()}, {"loss_a": 1.0}, 0.0)  # (1, −2): conflicts
    assert lin.weight.grad.tolist() == [[1.0, 0.0]] and hook.projected == 1
    learner.step({"loss_a": lin(torch.tensor([[1.0, 1.0]])).sum()}, {"loss_a": 1.0}, 0.0)  # (1, 1)·(1, 0) > 0
    assert lin.weight.grad.tolist() == [[1.0, 1.0]] and hook.projected_share == 1 / 3
    other = PreviousGradientSurgery()
    other.load_state_dict(hook.state_dict())
    assert torch.equal(other.prev, hook.prev) and other.projected == 1
