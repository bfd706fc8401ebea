"""Adversarial objectives, one small class each, with ``d_loss`` (minimized by the
discriminator/critic) and ``g_loss`` (minimized by the generator).

Networks output raw scores (logits for the probabilistic objectives, ``D(x) = sigmoid(score)``);
the losses are written with ``softplus`` for numerical stability:
``-log sigmoid(s) = softplus(-s)`` and ``-log(1 - sigmoid(s)) = softplus(s)``.

* ``Minimax`` - Goodfellow et al. (2014), arXiv:1406.2661, eq. (1). The discriminator loss is
  the course's ``L^(D) = -1/2 E[log D(x)] - 1/2 E[log(1 - D(G(z)))]`` (Goodfellow, 2016,
  NIPS tutorial, arXiv:1701.00160, eq. (8)), with its 1/2 factors; the generator minimizes the
  original, saturating ``E[log(1 - D(G(z)))]``.
* ``NonSaturating`` - same discriminator; the generator minimizes ``-E[log D(G(z))]``
  (Goodfellow et al., 2014, section 3, the heuristic used in practice).
* ``LeastSquares`` - Mao et al. (2017), arXiv:1611.04076, eq. (2) with a = 0, b = c = 1:
  ``D: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]``, ``G: 1/2 E[(D(G(z)) - 1)^2]``.
* ``Hinge`` - Lim & Ye (2017), arXiv:1705.02894; Miyato et al. (2018), arXiv:1802.05957, eq. (16):
  ``D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, ``G: -E[D(G(z))]``.
* ``Wasserstein`` - Arjovsky et al. (2017), arXiv:1701.07875, eq. (3) / the course's eq. (8):
  the critic maximizes ``E[f(x)] - E[f(G(z))]``, so ``D: E[f(G(z))] - E[f(x)]``, ``G: -E[f(G(z))]``.
  Needs a Lipschitz constraint: weight clipping or a gradient penalty (``penalties.py``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


class AdversarialLoss:
    """Interface: ``d_loss(real_scores, fake_scores)`` and ``g_loss(fake_scores)``, batch means."""

    #: True when the discriminator outputs logits of a probability (D = sigmoid(score)).
    probabilistic = True

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(AdversarialLoss):
    """The original saturating game (Goodfellow et al., 2014, eq. (1))."""

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * F.softplus(-real_scores).mean() + 0.5 * F.softplus(fake_scores).mean()

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return -F.softplus(fake_scores).mean()  # E[log(1 - D(G(z)))]


class NonSaturating(Minimax):
    """The non-saturating generator loss ``-E[log D(G(z))]`` (Goodfellow et al., 2014, sec. 3)."""

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return F.softplus(-fake_scores).mean()


class LeastSquares(AdversarialLoss):
    """LSGAN with the 0-1 coding (Mao et al., 2017, eq. (2))."""

    probabilistic = False

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * (real_scores - 1).pow(2).mean() + 0.5 * fake_scores.pow(2).mean()

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * (fake_scores - 1).pow(2).mean()


class Hinge(AdversarialLoss):
    """Hinge loss (Lim & Ye, 2017; Miyato et al., 2018, eq. (16))."""

    probabilistic = False

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


class Wasserstein(AdversarialLoss):
    """Wasserstein-1 critic loss (Arjovsky et al., 2017, eq. (3))."""

    probabilistic = False

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()
