"""Latent priors ``p(z)`` to sample from: the targets of the adversarial autoencoder's
regularization (Makhzani et al., 2015, arXiv:1511.05644, section 2 and Figure 2: a Gaussian and
a mixture of 10 Gaussians).

A prior is a small object with ``sample(n, dim, labels=None, generator=None, device=None) ->
(n, dim)``: drawn on the generator's device when a generator is given (fixed-noise grids agree
across devices), else on ``device`` (or the labels' device). ``labels`` select mixture components (the label-conditioned
regularization of the paper's section 4, Figure 6); a prior without components refuses them.
Injected in YAML by ``class_path``::

    prior: {class_path: lit_gen.losses.priors.GaussianMixturePrior, init_args: {num_components: 10}}
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lit_gen.errors import ConfigurationError


class Prior:
    """Base of the latent priors."""

    #: number of mixture components that labels may select (0: labels are refused).
    num_components: int = 0

    def sample(
        self, n: int, dim: int, labels: Tensor | None = None, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def _device(labels: Tensor | None, generator: torch.Generator | None, device) -> torch.device | None:
        if generator is not None:
            return generator.device
        if device is not None:
            return torch.device(device)
        return labels.device if labels is not None else None

    def _check_labels(self, labels: Tensor | None, n: int) -> Tensor | None:
        if labels is None:
            return None
        if not self.num_components:
            raise ConfigurationError(
                f"{type(self).__name__} has no components for labels to select; use "
                f"GaussianMixturePrior for the label-conditioned adversarial autoencoder"
            )
        if labels.ndim != 1 or len(labels) != n:
            raise ConfigurationError(f"labels must be a vector of {n} class indices, got shape {tuple(labels.shape)}")
        # Value check on CPU tensors only: on an accelerator it would synchronize the host.
        if labels.device.type == "cpu" and len(labels) and (labels.min() < 0 or labels.max() >= self.num_components):
            raise ConfigurationError(
                f"labels must be in [0, {self.num_components - 1}] (the prior's components), got "
                f"values in [{int(labels.min())}, {int(labels.max())}]"
            )
        return labels.long()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class GaussianPrior(Prior):
    """``z ~ N(0, std^2 I)``: mean 0, covariance ``std^2 I``.

    Args:
        std: standard deviation of every coordinate.
    """

    def __init__(self, std: float = 1.0):
        if std <= 0:
            raise ConfigurationError(f"std must be > 0, got {std}")
        self.std = float(std)

    def sample(self, n, dim, labels=None, generator=None, device=None):
        self._check_labels(labels, n)
        device = self._device(labels, generator, device)
        return self.std * torch.randn(n, dim, generator=generator, device=device)


class GaussianMixturePrior(Prior):
    """A mixture of ``K`` equally weighted Gaussians arranged on a circle, as the paper's
    mixture of 10 2-D Gaussians (Figure 2).

    Component ``k`` has, in the first two coordinates, its mean at ``radius * (cos t_k, sin t_k)``
    with ``t_k = 2 pi k / K``, standard deviation ``radial_std`` along the radius and
    ``tangential_std`` across it (the paper's elongated clusters); any further coordinate is
    ``N(0, 1)``. Moments (``K >= 3``): mean 0; covariance of the first two coordinates
    ``(radius^2 + radial_std^2 + tangential_std^2) / 2 * I``; within component k, mean ``mu_k``.

    Args:
        num_components: ``K`` (10 for the digit classes).
        radius: distance of the means from the origin.
        radial_std: standard deviation along the radius.
        tangential_std: standard deviation across it.
    """

    def __init__(self, num_components: int = 10, radius: float = 4.0, radial_std: float = 1.0, tangential_std: float = 0.25):
        if num_components < 2 or radius <= 0 or radial_std <= 0 or tangential_std <= 0:
            raise ConfigurationError(
                f"need num_components >= 2 and positive radius and standard deviations, got "
                f"{num_components}, {radius}, {radial_std}, {tangential_std}"
            )
        self.num_components = int(num_components)
        self.radius = float(radius)
        self.radial_std = float(radial_std)
        self.tangential_std = float(tangential_std)

    def angles(self) -> Tensor:
        """``t_k``, ``(K,)``."""
        return 2 * math.pi * torch.arange(self.num_components, dtype=torch.float32) / self.num_components

    def means(self, dim: int) -> Tensor:
        """Component means ``(K, dim)``."""
        mu = torch.zeros(self.num_components, dim)
        t = self.angles()
        mu[:, 0] = self.radius * torch.cos(t)
        mu[:, 1] = self.radius * torch.sin(t)
        return mu

    def sample(self, n, dim, labels=None, generator=None, device=None):
        if dim < 2:
            raise ConfigurationError(f"GaussianMixturePrior lays its components out in 2 dimensions: latent_dim must be >= 2, got {dim}")
        labels = self._check_labels(labels, n)
        device = self._device(labels, generator, device)
        if labels is None:
            labels = torch.randint(0, self.num_components, (n,), generator=generator, device=device)
        eps = torch.randn(n, dim, generator=generator, device=device)
        t = self.angles().to(eps.device)[labels.to(eps.device)]
        radial = torch.stack([torch.cos(t), torch.sin(t)], dim=1)  # unit vectors (n, 2)
        tangential = torch.stack([-torch.sin(t), torch.cos(t)], dim=1)
        z = eps.clone()
        z[:, :2] = (self.radius + self.radial_std * eps[:, :1]) * radial + self.tangential_std * eps[:, 1:2] * tangential
        return z
