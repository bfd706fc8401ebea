"""Lipschitz and smoothness constraints on the discriminator (critic).

* ``gradient_penalty`` - WGAN-GP, Gulrajani et al. (2017), arXiv:1704.00028, Algorithm 1,
  lines 4-7 and eq. (3): ``eps ~ U[0, 1]`` per sample, ``x_hat = eps * x + (1 - eps) * x_tilde``,
  penalty ``E[(||grad_x_hat D(x_hat)||_2 - 1)^2]``, weighted by ``lambda = 10``
  (:data:`GP_WEIGHT`) in the critic's loss.
* ``r1_penalty`` - Mescheder, Geiger & Nowozin (2018), arXiv:1801.04406, eq. (9):
  ``R1 = gamma / 2 * E_{x ~ p_data}[||grad_x D(x)||^2]``. The function returns the expectation;
  the caller multiplies by ``gamma / 2``.
* ``clip_weights_`` - WGAN, Arjovsky et al. (2017), arXiv:1701.07875, Algorithm 1, line 7:
  after each critic update every weight is clipped to ``[-c, c]``, ``c = 0.01``
  (:data:`CLIP_VALUE`).

Spectral normalization (Miyato et al., 2018, arXiv:1802.05957) constrains the networks rather
than the loss; it is a network option (``spectral_norm=True``, see
:func:`lit_gen.nets.layers.apply_spectral_norm`), implemented by
``torch.nn.utils.parametrizations.spectral_norm``.

Scores are the discriminator's raw outputs (logits for probabilistic objectives). Gradient norms
are computed in float32 even under autocast.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

#: lambda of WGAN-GP (Gulrajani et al., 2017, Algorithm 1 defaults).
GP_WEIGHT = 10.0
#: c of WGAN's weight clipping (Arjovsky et al., 2017, Algorithm 1 defaults).
CLIP_VALUE = 0.01


def input_gradients(scores: Tensor, inputs: Tensor) -> Tensor:
    """``grad_x sum_i D(x_i)``, i.e. each sample's gradient ``grad_x D(x_i)`` (the samples do
    not interact unless the network mixes the batch, e.g. by batch norm), with the graph kept so
    that a penalty on it can be minimized."""
    (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return grad


def _at_least_float32(x: Tensor) -> Tensor:
    # norms of half-precision gradients (autocast) are computed in float32
    return x.to(torch.promote_types(x.dtype, torch.float32))


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's penalty ``E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates.

    Args:
        critic: the critic ``D``; called once on the batch of interpolates.
        real: real samples ``x``, ``(N, ...)``.
        fake: generated samples ``x_tilde``, same shape (detached from the generator here).
        generator: optional random generator for ``eps`` (tests).

    Returns:
        The batch mean of ``(||grad_x_hat D(x_hat)||_2 - 1)^2`` (unweighted; multiply by
        ``lambda``).
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    shape = (len(real),) + (1,) * (real.ndim - 1)
    eps = torch.rand(
        shape, generator=generator, device=generator.device if generator else real.device
    )
    eps = eps.to(device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # line 6
    grad = input_gradients(critic(x_hat), x_hat)
    norm = _at_least_float32(grad).flatten(1).norm(2, dim=1)
    return (norm - 1).pow(2).mean()  # line 7, without lambda


def r1_penalty(real_scores: Tensor, real: Tensor) -> Tensor:
    """``E[||grad_x D(x)||_2^2]`` on real data (Mescheder et al., 2018, eq. (9) without the
    ``gamma / 2`` factor).

    Args:
        real_scores: ``D(real)``, computed from ``real`` with ``real.requires_grad`` set, so the
            same forward pass serves the adversarial loss and the penalty.
        real: the real batch that produced ``real_scores``.
    """
    if not real.requires_grad:
        raise ValueError(
            "r1_penalty needs real.requires_grad_(True) before computing real_scores = D(real)"
        )
    grad = input_gradients(real_scores, real)
    return _at_least_float32(grad).flatten(1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip_value: float = CLIP_VALUE) -> None:
    """Clamp every parameter of ``module`` to ``[-clip_value, clip_value]`` in place (WGAN)."""
    if clip_value <= 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value}")
    for param in module.parameters():
        param.clamp_(-clip_value, clip_value)
