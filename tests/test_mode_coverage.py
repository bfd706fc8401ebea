"""The 2-D mixtures and the mode-coverage metric on synthetic sample sets."""

from __future__ import annotations

import math

import pytest
import torch

from lit_gen.data import Toy2DDataModule
from lit_gen.data.toy2d import grid_mixture, ring_mixture
from lit_gen.errors import ConfigurationError
from lit_gen.metrics.mode_coverage import mode_coverage

RING = ring_mixture()
GRID = grid_mixture()


def test_mixtures_follow_the_protocol():
    assert RING.num_modes == 8 and RING.sigma == 0.01
    torch.testing.assert_close(RING.means.norm(dim=1), torch.ones(8))
    assert GRID.num_modes == 25 and GRID.sigma == 0.05
    assert sorted(set(GRID.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    points, modes = GRID.sample(20_000, torch.Generator().manual_seed(0))
    offsets = points - GRID.means[modes]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.03)
    assert torch.bincount(modes, minlength=25).min() > 600


def test_data_module():
    data = Toy2DDataModule(kind="ring", num_samples=1000, val_samples=300, batch_size=100)
    assert data.data_shape == (2,) and data.num_classes == 8
    data.setup("fit")
    points, labels = next(iter(data.train_dataloader()))
    assert points.shape == (100, 2) and labels.shape == (100,)
    again = Toy2DDataModule(kind="ring", num_samples=1000, val_samples=300)
    again.setup("fit")
    torch.testing.assert_close(data.val_set.points, again.val_set.points)  # fixed seeds
    with pytest.raises(ConfigurationError, match="kind must be 'ring' or 'grid'"):
        Toy2DDataModule(kind="spiral")
    with pytest.raises(ConfigurationError, match="sigma must be > 0"):
        Toy2DDataModule(sigma=0.0)


@pytest.mark.parametrize("mixture", [RING, GRID], ids=["ring", "grid"])
def test_real_samples_cover_every_mode(mixture):
    samples, _ = mixture.sample(2500, torch.Generator().manual_seed(1))
    scores = mode_coverage(samples, mixture.means, mixture.sigma)
    assert scores.modes == mixture.num_modes
    # in 2-D, P(||offset|| <= 3 sigma) = 1 - exp(-9/2) = 0.9889
    assert scores.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0 <= scores.kl < 0.02


def test_one_mode():
    samples = RING.means[3] + RING.sigma * torch.randn(
        2500, 2, generator=torch.Generator().manual_seed(2)
    )
    scores = mode_coverage(samples, RING.means, RING.sigma)
    assert scores.modes == 1
    assert scores.counts[3] == sum(scores.counts)
    assert scores.kl == pytest.approx(math.log(8))  # all mass on one of 8 modes


def test_half_the_modes():
    modes = torch.arange(2500) % 4 * 2  # modes 0, 2, 4, 6 equally
    samples = RING.means[modes] + RING.sigma * torch.randn(
        2500, 2, generator=torch.Generator().manual_seed(3)
    )
    scores = mode_coverage(samples, RING.means, RING.sigma)
    assert scores.modes == 4
    assert scores.kl == pytest.approx(math.log(2), abs=0.01)


def test_uniform_noise_covers_no_mode():
    """Spread uniformly over the square, a few samples land within 3 sigma of each mode, but far
    fewer than 20: no mode counts as covered."""
    samples = torch.rand(2500, 2, generator=torch.Generator().manual_seed(4)) * 3 - 1.5
    scores = mode_coverage(samples, RING.means, RING.sigma)
    assert 0 < sum(scores.counts) < 8 * 20
    assert scores.modes == 0
    assert scores.high_quality < 0.01


def test_no_high_quality_sample():
    scores = mode_coverage(torch.full((100, 2), 10.0), RING.means, RING.sigma)
    assert scores.modes == 0 and scores.high_quality == 0.0 and math.isnan(scores.kl)
    with pytest.raises(ValueError, match="expected samples"):
        mode_coverage(torch.zeros(5, 3), RING.means, RING.sigma)
