"""L-BFGS for the engine: one loss and gradient a step, unit step length, no line search
(torch.optim.LBFGS with lr=1 and max_iter=1), with its history kept as one matrix.

Why not torch's: its two-loop recursion runs a dot product and an axpy per curvature pair,
twice, each reading the pair's vector and reading and writing the search direction: about
ten passes over n floats per pair, and some 400 small tensor operations a step with a full
history. In a Balanced run at 512 px its own time was 17 ms a step over the last 50 steps,
12 ms with this (benchmarks/README.md, "L-BFGS"); torch.optim also imports torch._dynamo on
first use (0.85 s on a 2-core CPU), which the engine had to sidestep by hand.
This is the compact form of the same matrix (Byrd, Nocedal and Schnabel, 1994):

    H = gamma I + [S  gamma Y] [[R^-T (D + gamma Y^T Y) R^-1, -R^-T], [-R^-1, 0]] [S^T; gamma Y^T]

with S, Y the pairs' steps and gradient changes (oldest first), R the upper triangle of
S^T Y and D its diagonal. S and Y are rows of one matrix, so a step reads the history twice:
one product for S^T g and Y^T g (and the new pair's products), one for the direction. The
small matrices are kept and solved in float64. In exact arithmetic the direction is the
two-loop recursion's; in float32 they differ in rounding (tests/engine/test_lbfgs.py).

Like torch's: the first direction is -g with step length min(1, 1/|g|_1) (or raw_step); a
pair is kept only if y.s > 1e-10; gamma = y.s / y.y of the newest kept pair; the oldest pair
makes room for a new one; no step is taken along a direction that does not descend.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PAIR_THRESHOLD = 1e-10  # torch.optim.LBFGS's: a pair with y.s at most this is dropped


class LBFGS:
    """Minimises over one tensor x (a leaf that requires grad); step(closure) as torch's."""

    def __init__(self, x: torch.Tensor, history_size: int, raw_step: float | None = None) -> None:
        """raw_step: the largest change of any element in a step taken with no curvature pair
        (along the raw gradient); None: torch's lengths, min(1, 1/|g|_1) first, then 1."""
        self.x = x
        self.history_size = history_size
        self.raw_step = raw_step
        # Slot i: its step s in row 2i, its gradient change y in row 2i+1. Slots fill in
        # order and are then reused, so the slots in use are always the first rows.
        self._history = torch.empty(2 * history_size, x.numel(), dtype=x.dtype, device=x.device)
        self._s_dot_y = torch.zeros(history_size, history_size, dtype=torch.float64)  # [i, j] = s_i . y_j
        self._y_dot_y = torch.zeros(history_size, history_size, dtype=torch.float64)
        self._order: list[int] = []  # slots in use, oldest first
        self.direction: torch.Tensor | None = None  # the last search direction, flat
        self.step_length = 0.0  # and the length it was taken with
        self._gamma = 1.0
        self._previous_grad: torch.Tensor | None = None
        # The gradient, the last step and the gradient's change, as rows for one product.
        self._columns = torch.empty(3, x.numel(), dtype=x.dtype, device=x.device)

    @property
    def pairs(self) -> int:
        """How many curvature pairs the history holds."""
        return len(self._order)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.x.grad = None

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        grad = self.x.grad.detach().reshape(-1)
        if float(grad.abs().max()) == 0:
            return loss  # at a stationary point (torch's tolerance_grad of 0)
        first = self._previous_grad is None
        direction = grad.neg() if first else self._direction(grad)
        if self.raw_step is not None and not self._order:
            length = self.raw_step / float(direction.abs().max())
        elif first:
            length = min(1.0, 1.0 / float(grad.abs().sum()))
        else:
            length = 1.0
        if first:
            self._previous_grad = grad.clone()
        else:
            self._previous_grad.copy_(grad)
        self.direction, self.step_length = direction, length
        if float(grad.dot(direction)) > 0:
            return loss  # not a descent direction: no step (torch's tolerance_change of 0)
        with torch.no_grad():
            self.x.view(-1).add_(direction, alpha=length)
        return loss

    def _direction(self, grad: torch.Tensor) -> torch.Tensor:
        """-H grad, after adding the pair from the last step if it is kept."""
        assert self.direction is not None and self._previous_grad is not None
        step, change = self._columns[1], self._columns[2]
        torch.mul(self.direction, self.step_length, out=step)
        torch.sub(grad, self._previous_grad, out=change)
        curvature = float(change.dot(step))
        keep = curvature > PAIR_THRESHOLD
        if keep:
            slot = self._slot()
            self._history[2 * slot].copy_(step)
            self._history[2 * slot + 1].copy_(change)
            self._gamma = curvature / float(change.dot(change))
        if not self._order:
            return grad * -self._gamma
        rows = self._history[:2 * len(self._order)]
        if keep:
            self._columns[0].copy_(grad)
            columns = self._columns
        else:
            columns = grad.unsqueeze(0)
        # One pass over the history for S^T g, Y^T g and, for a new pair, its products.
        # (columns x history^T: MKL's product the other way round, with 3 columns, took 28
        # ms instead of 13 at 512 px.)
        products = (columns @ rows.T).T.double().cpu()
        s_products, y_products = products[0::2], products[1::2]
        if keep:
            self._s_dot_y[slot, :len(self._order)] = y_products[:, 1]  # s_new . y_j
            self._s_dot_y[:len(self._order), slot] = s_products[:, 2]  # s_i . y_new
            self._y_dot_y[slot, :len(self._order)] = y_products[:, 2]
            self._y_dot_y[:len(self._order), slot] = y_products[:, 2]
        order = torch.tensor(self._order)
        s_dot_y = self._s_dot_y[order][:, order]
        upper = torch.triu(s_dot_y)
        y_dot_y = self._y_dot_y[order][:, order]
        s_dot_g = s_products[order, 0].unsqueeze(1)
        y_dot_g = y_products[order, 0].unsqueeze(1)
        gamma = self._gamma
        w = torch.linalg.solve_triangular(upper, s_dot_g, upper=True)
        middle = torch.diag(torch.diagonal(s_dot_y)) + gamma * y_dot_y
        p = torch.linalg.solve_triangular(upper.T, middle @ w - gamma * y_dot_g, upper=False)
        # -H g = -gamma g - S p + gamma Y w
        coefficients = torch.empty(len(self._order), 2, dtype=torch.float64)
        coefficients[order, 0] = -p[:, 0]
        coefficients[order, 1] = gamma * w[:, 0]
        coefficients = coefficients.reshape(-1).to(device=grad.device, dtype=grad.dtype)
        return torch.addmv(grad, rows.T, coefficients, beta=-gamma)

    def _slot(self) -> int:
        """A slot for a new pair: a free one, else the oldest pair's."""
        if len(self._order) < self.history_size:
            slot = len(self._order)
        else:
            slot = self._order.pop(0)
        self._order.append(slot)
        return slot
