"""core.lbfgs: torch.optim.LBFGS's iterates (one iteration a step, no line search), reached
through the compact form of its matrix."""

from __future__ import annotations

import pytest
import torch

from core.lbfgs import LBFGS


def _problem(n: int, dtype: torch.dtype):
    torch.manual_seed(0)
    scales = torch.rand(n, dtype=dtype) * 10 + 0.1
    target = torch.randn(n, dtype=dtype)

    def loss_of(x: torch.Tensor) -> torch.Tensor:  # not quadratic: the curvature changes
        return (0.5 * scales * x * x - target * x).sum() + 0.1 * (x ** 4).sum()
    return loss_of


def _iterates(make, loss_of, n: int, steps: int, dtype: torch.dtype) -> list[torch.Tensor]:
    x = torch.zeros(n, dtype=dtype, requires_grad=True)
    optimiser = make(x)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = loss_of(x)
        loss.backward()
        return loss

    result = []
    for _ in range(steps):
        optimiser.step(closure)
        result.append(x.detach().clone())
    return result


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_iterates_are_torchs_also_once_old_pairs_make_room(dtype):
    n, history, steps = 300, 4, 25  # the history fills after 5 steps and then turns over
    loss_of = _problem(n, dtype)
    theirs = _iterates(lambda x: torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=history,
                                                   tolerance_grad=0.0, tolerance_change=0.0),
                       loss_of, n, steps, dtype)
    ours = _iterates(lambda x: LBFGS(x, history), loss_of, n, steps, dtype)
    # float32: 5e-7 apart here; another CPU's products sum in another order.
    tolerance = 1e-12 if dtype == torch.float64 else 1e-4
    for step, (a, b) in enumerate(zip(theirs, ours), start=1):
        assert torch.allclose(a, b, rtol=tolerance, atol=tolerance), step
    assert float(loss_of(ours[-1])) < 0.5 * float(loss_of(ours[2]))  # it did descend


def test_a_pair_without_curvature_is_dropped_and_the_gradient_step_taken():
    x = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    optimiser = LBFGS(x, 3)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = (2.0 * x).sum()  # linear: y = 0 for every pair
        loss.backward()
        return loss

    optimiser.step(closure)
    assert torch.allclose(x.detach(), torch.full((10,), -0.1, dtype=torch.float64))  # 1/|g|_1 = 1/20
    optimiser.step(closure)
    assert optimiser.pairs == 0
    assert torch.allclose(x.detach(), torch.full((10,), -2.1, dtype=torch.float64))  # gamma 1: -g


def test_a_stationary_start_takes_no_step():
    x = torch.full((4,), 3.0, requires_grad=True)
    optimiser = LBFGS(x, 3)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = ((x - 3.0) ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    assert x.tolist() == [3.0] * 4 and optimiser.direction is None
