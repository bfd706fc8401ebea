"""Objectives of the autoencoder family. Every function returns one value per sample
(shape ``(N,)``) unless stated otherwise; the modules average over the batch.

References:
    Kingma & Welling (2014), Auto-Encoding Variational Bayes, arXiv:1312.6114 (Appendix B: the
        Gaussian KL; Appendix C: Bernoulli and Gaussian decoders).
    Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, arXiv:1509.00519,
        eq. (8): the K-sample importance-weighted bound used to estimate log p(x).
    Ng (2011), Sparse autoencoder, CS294A lecture notes, section 3: the KL sparsity penalty.
    Makhzani & Frey (2014), k-Sparse Autoencoders, arXiv:1312.5663, Algorithm 1.
    Rifai et al. (2011), Contractive Auto-Encoders, ICML, eq. (2) and (4).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def _per_sample_sum(values: Tensor) -> Tensor:
    return values.flatten(1).sum(dim=1)


def squared_error(recon: Tensor, target: Tensor) -> Tensor:
    """``||recon - target||_2^2`` per sample: the course's autoencoder loss."""
    return _per_sample_sum((recon - target).pow(2))


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample, in nats (Kingma & Welling,
    Appendix B): ``-1/2 * sum(1 + logvar - mu^2 - exp(logvar))``."""
    return 0.5 * _per_sample_sum(mu.pow(2) + logvar.exp() - 1.0 - logvar)


def bernoulli_log_likelihood(logits: Tensor, target: Tensor) -> Tensor:
    """``log p(x | z)`` per sample for independent Bernoulli pixels with ``logits``; ``target``
    in [0, 1] (grey levels are used as soft targets, as is common)."""
    return -_per_sample_sum(F.binary_cross_entropy_with_logits(logits, target, reduction="none"))


def gaussian_log_likelihood(mean: Tensor, target: Tensor, log_std: Tensor | float) -> Tensor:
    """``log N(target; mean, std^2 I)`` per sample, with a scalar or per-pixel ``log_std``."""
    log_std = torch.as_tensor(log_std, dtype=mean.dtype, device=mean.device)
    z = (target - mean) * torch.exp(-log_std)
    return _per_sample_sum(-0.5 * z.pow(2) - log_std - 0.5 * LOG_2PI)


def gaussian_log_density(z: Tensor, mu: Tensor | float = 0.0, logvar: Tensor | float = 0.0) -> Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return (-0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))).sum(dim=-1)


def l1_sparsity(code: Tensor) -> Tensor:
    """``sum_k |z_k|`` per sample: the L1 penalty on the code (course; Ranzato et al., 2007)."""
    return _per_sample_sum(code.abs())


def kl_sparsity(activations: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """KL sparsity penalty of a batch (a scalar, not per sample), Ng (2011):
    ``sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))`` with
    ``rho_hat_j`` the mean activation of unit ``j`` over the batch; activations in (0, 1)."""
    rho_hat = activations.mean(dim=0).clamp(eps, 1 - eps)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def k_sparse(code: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest units of each code vector and zero the rest (Makhzani & Frey,
    Algorithm 1: support ``Gamma = supp_k(z)``). Gradients flow only through the kept units."""
    if not 0 < k <= code.shape[-1]:
        raise ValueError(f"k must be in [1, {code.shape[-1]}], got {k}")
    if k == code.shape[-1]:
        return code
    indices = code.topk(k, dim=-1).indices
    mask = torch.zeros_like(code).scatter_(-1, indices, 1.0)
    return code * mask


def jacobian_frobenius_sq(code: Tensor, inputs: Tensor, create_graph: bool = True) -> Tensor:
    """``||J_f(x)||_F^2 = sum_{j,i} (dz_j / dx_i)^2`` per sample, exactly, by one
    vector-Jacobian product per code unit (Rifai et al., eq. (2)).

    ``inputs`` must require grad and ``code = f(inputs)``. Exact only when samples do not
    interact inside ``f`` (no batch-norm in training mode), which holds for lit-gen's encoders.
    ``create_graph=True`` keeps the result differentiable for training.
    """
    total = torch.zeros(len(code), dtype=code.dtype, device=code.device)
    for j in range(code.shape[1]):
        (grad,) = torch.autograd.grad(
            code[:, j].sum(), inputs, create_graph=create_graph, retain_graph=True
        )
        total = total + _per_sample_sum(grad.pow(2))
    return total


def sigmoid_layer_jacobian_frobenius_sq(hidden: Tensor, weight: Tensor) -> Tensor:
    """Closed form of ``||J||_F^2`` for ``h = sigmoid(W x + b)`` (Rifai et al., eq. (4)):
    ``sum_j (h_j (1 - h_j))^2 sum_i W_ji^2``; ``hidden`` is ``(N, d)``, ``weight`` ``(d, D)``."""
    return ((hidden * (1 - hidden)).pow(2) * weight.pow(2).sum(dim=1)).sum(dim=1)
