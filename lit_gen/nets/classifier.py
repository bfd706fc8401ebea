"""A small convolutional classifier for grey digits (no Lightning).

Used as the domain feature extractor of the embedded digits: the penultimate activations are
the features of the Frechet distance, KID and precision/recall, the logits those of the
Inception Score (see :mod:`lit_gen.metrics.digits_classifier`).
"""

from __future__ import annotations

from torch import Tensor, nn


class DigitsCNN(nn.Module):
    """``conv3x3(32)-ReLU-pool-conv3x3(64)-ReLU-pool-linear(feature_dim)-ReLU-linear(classes)``.

    Input ``(N, 1, 16, 16)`` in [0, 1]; ``features`` is ``(N, feature_dim)``, ``forward`` the
    ``(N, num_classes)`` logits.

    Args:
        num_classes: number of output classes.
        feature_dim: width of the penultimate (feature) layer.
        channels: widths of the two convolutions.
        image_size: input side (divisible by 4).
        dropout: dropout before the classification layer (training only).
    """

    def __init__(
        self,
        num_classes: int = 10,
        feature_dim: int = 64,
        channels: tuple[int, int] = (32, 64),
        image_size: int = 16,
        dropout: float = 0.3,
    ):
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, c1, S/2, S/2)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, c2, S/4, S/4)
            nn.Flatten(),
            nn.Linear(c2 * (image_size // 4) ** 2, feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``(N, feature_dim)`` (non-negative, after ReLU)."""
        return self.body(2.0 * x - 1.0)  # [0, 1] -> [-1, 1]

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(x)))
