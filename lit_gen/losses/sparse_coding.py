"""Sparse coding (Olshausen & Field, 1996, Nature 381:607; the course's formulation):
``x_n ~ sum_k a_{n,k} W_k``, codes and dictionary minimizing

    F(a) = ||x - sum_k a_k W_k||_2^2 + lambda * ||a||_1          (per sample)

Shapes: samples ``x`` are rows ``(N, D)``, the dictionary ``W`` holds one atom per row
``(K, D)``, codes ``a`` are ``(N, K)``, so the reconstruction is ``a @ W``.

For a fixed dictionary the code problem is a Lasso, solved here by proximal gradient descent:
with ``f(a) = ||x - a W||^2`` (gradient ``2 (a W - x) W^T``, Lipschitz constant
``L = 2 ||W||_2^2``) and the soft threshold ``S_t(v) = sign(v) max(|v| - t, 0)``:

* ISTA: ``a <- S_{lambda/L}(a - grad f(a) / L)`` (Daubechies, Defrise & De Mol, 2004;
  Beck & Teboulle, 2009, SIAM J. Imaging Sci. 2:183, eq. (1.4)). Monotone: ``F`` never increases.
* FISTA: the same step taken at an extrapolated point ``y_k = a_k + (t_{k-1} - 1)/t_k (a_k -
  a_{k-1})``, ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2`` (Beck & Teboulle 2009, section 4): rate
  ``O(1/k^2)`` instead of ``O(1/k)``, but ``F`` may go up on some iterations. ``monotone=True``
  (the default) runs MFISTA (Beck & Teboulle, 2009, IEEE TIP 18:2419, eq. (5.1)): keep the
  proximal point only when it lowers ``F``, which keeps the rate and makes ``F`` non-increasing.

Both run a fixed number of iterations on the whole batch (no data-dependent stopping: no
host-device synchronization).
"""

from __future__ import annotations

import torch
from torch import Tensor


def sparse_coding_objective(x: Tensor, codes: Tensor, dictionary: Tensor, lam: float) -> Tensor:
    """``||x - a W||^2 + lambda ||a||_1`` per sample, ``(N,)``."""
    return (x - codes @ dictionary).pow(2).sum(1) + lam * codes.abs().sum(1)


def soft_threshold(v: Tensor, threshold: float | Tensor) -> Tensor:
    """``sign(v) * max(|v| - t, 0)``: the proximal operator of ``t * ||.||_1``."""
    return torch.sign(v) * torch.clamp(v.abs() - threshold, min=0.0)


def lipschitz_constant(dictionary: Tensor) -> Tensor:
    """``L = 2 sigma_max(W)^2``, the Lipschitz constant of ``grad_a ||x - a W||^2``."""
    return 2 * torch.linalg.matrix_norm(dictionary.detach(), ord=2) ** 2


class _Lasso:
    """The quantities every iteration needs, precomputed once: ``G = W W^T``, ``b = x W^T``,
    ``||x||^2``, so that ``grad f(a) = 2 (a G - b)`` and ``f(a) = ||x||^2 - 2 <a, b> + <a G, a>``."""

    def __init__(self, x: Tensor, dictionary: Tensor, lam: float):
        self.gram = dictionary @ dictionary.T
        self.b = x @ dictionary.T
        self.x_sq = x.pow(2).sum(1)
        self.lam = lam
        self.step = 1.0 / lipschitz_constant(dictionary)

    def prox_step(self, point: Tensor) -> Tensor:
        grad = 2 * (point @ self.gram - self.b)
        return soft_threshold(point - self.step * grad, self.lam * self.step)

    def objective(self, a: Tensor) -> Tensor:
        # ||x - a W||^2 expanded; clamped at 0 against rounding.
        quadratic = (self.x_sq - 2 * (a * self.b).sum(1) + ((a @ self.gram) * a).sum(1)).clamp_min(0)
        return quadratic + self.lam * a.abs().sum(1)


@torch.no_grad()
def ista(
    x: Tensor, dictionary: Tensor, lam: float, n_iter: int = 100, codes: Tensor | None = None,
    history: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Codes minimizing :func:`sparse_coding_objective` for a fixed dictionary, by ISTA.

    Args:
        x: samples ``(N, D)``.
        dictionary: atoms ``(K, D)``.
        lam: ``lambda``, weight of the L1 penalty.
        n_iter: iterations.
        codes: starting point ``(N, K)`` (default zeros).
        history: also return the objective of every iterate, ``(n_iter + 1, N)``.
    """
    problem = _Lasso(x, dictionary, lam)
    a = torch.zeros(len(x), len(dictionary), dtype=x.dtype, device=x.device) if codes is None else codes.clone()
    trace = [sparse_coding_objective(x, a, dictionary, lam)] if history else None
    for _ in range(n_iter):
        a = problem.prox_step(a)
        if trace is not None:
            trace.append(sparse_coding_objective(x, a, dictionary, lam))
    return (a, torch.stack(trace)) if trace is not None else a


@torch.no_grad()
def fista(
    x: Tensor, dictionary: Tensor, lam: float, n_iter: int = 100, codes: Tensor | None = None,
    monotone: bool = True, history: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Codes minimizing :func:`sparse_coding_objective` for a fixed dictionary, by FISTA
    (``monotone=True``: MFISTA, whose objective never increases). Arguments as :func:`ista`."""
    problem = _Lasso(x, dictionary, lam)
    a = torch.zeros(len(x), len(dictionary), dtype=x.dtype, device=x.device) if codes is None else codes.clone()
    y = a.clone()
    t = 1.0
    objective = sparse_coding_objective(x, a, dictionary, lam)
    trace = [objective] if history else None
    for _ in range(n_iter):
        z = problem.prox_step(y)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        if monotone:
            # MFISTA: x_k = argmin(F(z_k), F(x_{k-1})); y_{k+1} = x_k + t_k/t_{k+1} (z_k - x_k)
            # + (t_k - 1)/t_{k+1} (x_k - x_{k-1}), per sample.
            z_objective = problem.objective(z)
            better = (z_objective <= objective).unsqueeze(1)
            a_next = torch.where(better, z, a)
            objective = torch.minimum(z_objective, objective)
            y = a_next + (t / t_next) * (z - a_next) + ((t - 1) / t_next) * (a_next - a)
        else:
            a_next = z
            y = a_next + ((t - 1) / t_next) * (a_next - a)
            if trace is not None:
                objective = problem.objective(a_next)
        a, t = a_next, t_next
        if trace is not None:
            trace.append(objective)
    return (a, torch.stack(trace)) if trace is not None else a
