"""Objectives and penalties (no Lightning): adversarial losses, discriminator constraints and
the autoencoding terms."""

from lit_gen.losses.adversarial import (
    AdversarialLoss,
    Hinge,
    LeastSquares,
    Minimax,
    NonSaturating,
    Wasserstein,
)
from lit_gen.losses.penalties import clip_weights_, gradient_penalty, r1_penalty

__all__ = [
    "AdversarialLoss",
    "Hinge",
    "LeastSquares",
    "Minimax",
    "NonSaturating",
    "Wasserstein",
    "clip_weights_",
    "gradient_penalty",
    "r1_penalty",
]
