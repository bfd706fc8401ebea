"""Reconstruction terms of image-to-image translation, and CycleGAN's least-squares variant.

* ``l1_loss`` - pix2pix's ``L_L1(G) = E[||y - G(x, z)||_1]`` (Isola et al., 2017,
  arXiv:1611.07004, eq. (3)), weighted by ``lambda_l1 = 100`` in eq. (4).
* ``cycle_consistency_loss`` - CycleGAN's ``L_cyc(G, F) = E_x[||F(G(x)) - x||_1] +
  E_y[||G(F(y)) - y||_1]`` (Zhu et al., 2017, arXiv:1703.10593, eq. (2)), weighted by
  ``lambda_cycle = 10`` in eq. (3).
* ``identity_loss`` - ``L_identity(G, F) = E_y[||G(y) - y||_1] + E_x[||F(x) - x||_1]`` (Zhu et al.,
  sec. 5.2, after Taigman et al., 2017), weighted by ``0.5 * lambda_cycle``.

As in the official code (``nn.L1Loss``), the norms are means over pixels and channels, so the
weights do not depend on the image size.

* ``CycleGANLeastSquares`` - the least-squares objective as CycleGAN states it (sec. 4,
  "Training details"): ``G`` minimizes ``E[(D(G(x)) - 1)^2]`` and ``D`` minimizes
  ``1/2 (E[(D(y) - 1)^2] + E[D(G(x))^2])`` ("we divide the objective by 2 while optimizing D").
  Compared with :class:`~lit_gen.losses.adversarial.LeastSquares` (Mao et al.'s eq. (2), with 1/2
  on the generator term too), the generator term is twice as large, which sets its weight
  against ``lambda_cycle`` as in the paper and the official code (``MSELoss`` to the target 1).
"""

from __future__ import annotations

from torch import Tensor

from lit_gen.losses.adversarial import LeastSquares


def l1_loss(output: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over all elements."""
    return (output - target).abs().mean()


def cycle_consistency_loss(real_a: Tensor, rec_a: Tensor, real_b: Tensor, rec_b: Tensor) -> Tensor:
    """``||F(G(a)) - a||_1 + ||G(F(b)) - b||_1`` (means), with ``rec_a = F(G(a))``, ``rec_b = G(F(b))``."""
    return l1_loss(rec_a, real_a) + l1_loss(rec_b, real_b)


def identity_loss(real_a: Tensor, idt_a: Tensor, real_b: Tensor, idt_b: Tensor) -> Tensor:
    """``||F(a) - a||_1 + ||G(b) - b||_1`` (means), with ``idt_a = F(a)``, ``idt_b = G(b)``."""
    return l1_loss(idt_a, real_a) + l1_loss(idt_b, real_b)


class CycleGANLeastSquares(LeastSquares):
    """LSGAN as in CycleGAN: ``D: 1/2 E[(D(y) - 1)^2] + 1/2 E[D(G(x))^2]``,
    ``G: E[(D(G(x)) - 1)^2]`` (Zhu et al., 2017, sec. 4)."""

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        return (fake_scores - 1).pow(2).mean()
