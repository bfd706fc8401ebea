"""Mode coverage of a generator trained on a 2-D mixture (:class:`~lit_gen.data.Toy2DDataModule`),
scored during validation: ``val/modes``, ``val/high_quality``, ``val/kl_modes`` (see
:mod:`lit_gen.metrics.mode_coverage`), plus a scatter plot of the samples in
``<run dir>/images/mode_coverage_epoch<E>.png`` and in the image-capable loggers."""

from __future__ import annotations

import os

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import save_image

from lit_gen.callbacks.images import log_image_to_loggers
from lit_gen.errors import ConfigurationError
from lit_gen.metrics.mode_coverage import (
    MIN_MODE_COUNT,
    NUM_SAMPLES,
    THRESHOLD_SIGMAS,
    CoverageScores,
    figure_to_tensor,
    mode_coverage,
    scatter_figure,
)


class ModeCoverage(L.Callback):
    """Score ``num_samples`` samples of ``pl_module.sample`` against the data module's
    ``mixture`` after every ``every_n_epochs``-th validation epoch.

    The samples come from fixed noise (``seed``), so successive scores and plots follow the same
    latent points. Every rank computes the same values (same weights, same noise), so nothing
    is gathered under DDP; only rank 0 writes the plot.

    Args:
        num_samples: samples per evaluation (the protocol's 2,500).
        every_n_epochs: score after every n-th validation epoch.
        seed: seed of the fixed noise.
        threshold: high-quality radius in standard deviations (3).
        min_count: high-quality samples a mode needs to count as covered (20).
        plot: write the scatter plot.
    """

    def __init__(
        self,
        num_samples: int = NUM_SAMPLES,
        every_n_epochs: int = 1,
        seed: int = 0,
        threshold: float = THRESHOLD_SIGMAS,
        min_count: int = MIN_MODE_COUNT,
        plot: bool = True,
    ):
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.seed = seed
        self.threshold = threshold
        self.min_count = min_count
        self.plot = plot
        self.last: CoverageScores | None = None
        self.last_samples: torch.Tensor | None = None
        self.last_file: str | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if getattr(trainer.datamodule, "mixture", None) is None:
            raise ConfigurationError(
                "the ModeCoverage callback scores samples against a known mixture: use it with "
                "lit_gen.data.Toy2DDataModule (the data module has no 'mixture')"
            )
        if not hasattr(pl_module, "sample"):
            raise ConfigurationError(
                f"the ModeCoverage callback needs a model with sample(n); {type(pl_module).__name__} has none"
            )

    @torch.no_grad()
    def score(self, trainer: L.Trainer, pl_module: L.LightningModule) -> CoverageScores:
        """Sample and score now (without logging)."""
        mixture = trainer.datamodule.mixture
        was_training = pl_module.training
        pl_module.eval()
        samples = pl_module.sample(
            self.num_samples, generator=torch.Generator().manual_seed(self.seed)
        )
        if was_training:
            pl_module.train()
        self.last_samples = samples.float().cpu()
        return mode_coverage(
            self.last_samples, mixture.means, mixture.sigma, self.threshold, self.min_count
        )

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        scores = self.score(trainer, pl_module)
        self.last = scores
        pl_module.log_dict(
            {
                "val/modes": float(scores.modes),
                "val/high_quality": scores.high_quality,
                "val/kl_modes": scores.kl,
            },
            on_step=False,
            on_epoch=True,
        )
        if self.plot:
            self._write_plot(trainer, pl_module, scores)

    @rank_zero_only
    def _write_plot(
        self, trainer: L.Trainer, pl_module: L.LightningModule, scores: CoverageScores
    ) -> None:
        mixture = trainer.datamodule.mixture
        title = (
            f"epoch {trainer.current_epoch}: {scores.modes}/{scores.num_modes} modes, "
            f"{100 * scores.high_quality:.1f}% high quality, KL {scores.kl:.3f}"
        )
        grid = figure_to_tensor(
            scatter_figure(self.last_samples, mixture.means, mixture.sigma, title, self.threshold)
        )
        folder = os.path.join(trainer.log_dir or trainer.default_root_dir, "images")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"mode_coverage_epoch{trainer.current_epoch:04d}.png")
        save_image(grid, path)
        self.last_file = path
        log_image_to_loggers(trainer, "images/mode_coverage", grid)
