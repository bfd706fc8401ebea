"""2-D mixtures of Gaussians on which mode collapse is measurable.

The protocol of VEEGAN (Srivastava et al., 2017, arXiv:1705.07761) and PacGAN (Lin et al.,
2018, arXiv:1712.04086, section 5.1 and its code's ``config.py``):

* ``ring``: 8 Gaussians with means ``(r cos(2 pi k / 8), r sin(2 pi k / 8))``, radius ``r = 1``,
  standard deviation ``sigma = 0.01``;
* ``grid``: 25 Gaussians with means ``{-4, -2, 0, 2, 4}^2`` (spacing 2), ``sigma = 0.05``;

equal weights, 100,000 training samples, batch size 100. Generated samples are scored by
:func:`lit_gen.metrics.mode_coverage.mode_coverage` (see :class:`lit_gen.callbacks.ModeCoverage`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import Dataset

from lit_gen.data.base import ImageDataModule
from lit_gen.errors import ConfigurationError

DEFAULT_SIGMA = {"ring": 0.01, "grid": 0.05}


@dataclass(frozen=True)
class GaussianMixture2D:
    """An equal-weight mixture of isotropic Gaussians in the plane.

    Attributes:
        means: ``(K, 2)`` mode centers.
        sigma: standard deviation of every component.
    """

    means: Tensor
    sigma: float

    @property
    def num_modes(self) -> int:
        return len(self.means)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points ``(n, 2)`` and the index of the component each came from ``(n,)``."""
        modes = torch.randint(self.num_modes, (n,), generator=generator)
        points = self.means[modes] + self.sigma * torch.randn(n, 2, generator=generator)
        return points, modes


def ring_mixture(num_modes: int = 8, radius: float = 1.0, sigma: float = 0.01) -> GaussianMixture2D:
    """``num_modes`` Gaussians evenly spaced on a circle of ``radius``."""
    angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture2D(means.float(), sigma)


def grid_mixture(
    grid_size: int = 5, spacing: float = 2.0, sigma: float = 0.05
) -> GaussianMixture2D:
    """``grid_size**2`` Gaussians on a square grid centered at 0 (``{-4, -2, 0, 2, 4}^2`` by
    default)."""
    coords = (torch.arange(grid_size, dtype=torch.float64) - (grid_size - 1) / 2) * spacing
    means = torch.cartesian_prod(coords, coords)
    return GaussianMixture2D(means.float(), sigma)


class PointDataset(Dataset):
    """Points ``(N, D)`` and integer labels ``(N,)`` in memory, served a batch at a time."""

    def __init__(self, points: Tensor, labels: Tensor):
        self.points = points
        self.labels = labels

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.points[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.points[index], self.labels[index]


class Toy2DDataModule(ImageDataModule):
    """Samples of a ring or grid mixture of 2-D Gaussians (``data_shape = (2,)``).

    The training, validation and test sets are drawn once from the mixture with fixed seeds.
    Labels are the index of the component a point was drawn from. The ``mixture`` attribute
    (means and sigma) is what the mode-coverage metric scores against.

    Args:
        kind: ``ring`` (8 modes) or ``grid`` (25 modes).
        num_samples: training points (PacGAN: 100,000).
        val_samples: validation points.
        test_samples: test points.
        sigma: standard deviation of each component (default: 0.01 for the ring, 0.05 for the
            grid).
        radius: ring radius.
        num_modes: number of modes on the ring.
        grid_size: modes per side of the grid.
        spacing: distance between neighbouring grid modes.
        batch_size: points per batch (PacGAN: 100).
        seed: seed of the sampled sets (not of training).
        num_workers: DataLoader workers (0: the data is in memory).
        drop_last: drop the last incomplete training batch.
    """

    def __init__(
        self,
        kind: Literal["ring", "grid"] = "ring",
        num_samples: int = 100_000,
        val_samples: int = 2_500,
        test_samples: int = 2_500,
        sigma: float | None = None,
        radius: float = 1.0,
        num_modes: int = 8,
        grid_size: int = 5,
        spacing: float = 2.0,
        batch_size: int = 100,
        seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
    ):
        super().__init__(batch_size, num_workers, (-1.0, 1.0), drop_last)
        if kind not in DEFAULT_SIGMA:
            raise ConfigurationError(f"kind must be 'ring' or 'grid', got {kind!r}")
        if min(num_samples, val_samples, test_samples) < 1:
            raise ConfigurationError(
                f"num_samples, val_samples and test_samples must be >= 1, got {num_samples}, "
                f"{val_samples}, {test_samples}"
            )
        sigma = DEFAULT_SIGMA[kind] if sigma is None else sigma
        if sigma <= 0:
            raise ConfigurationError(f"sigma must be > 0, got {sigma}")
        self.kind = kind
        self.num_samples = num_samples
        self.val_samples = val_samples
        self.test_samples = test_samples
        self.seed = seed
        if kind == "ring":
            self.mixture = ring_mixture(num_modes, radius, sigma)
        else:
            self.mixture = grid_mixture(grid_size, spacing, sigma)
        self._data_shape = (2,)
        self._num_classes = self.mixture.num_modes

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        sets = []
        for offset, n in enumerate((self.num_samples, self.val_samples, self.test_samples)):
            generator = torch.Generator().manual_seed(self.seed + offset)
            sets.append(PointDataset(*self.mixture.sample(n, generator)))
        self.train_set, self.val_set, self.test_set = sets
