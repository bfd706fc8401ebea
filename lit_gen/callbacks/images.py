"""Image grids written during training: reconstructions, samples from fixed noise, and any
model-specific pictures (``extra_images``), as PNG files in the run directory and to the
active loggers (W&B, TensorBoard)."""

from __future__ import annotations

import inspect
import os

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid, save_image


def log_image_to_loggers(trainer: L.Trainer, key: str, grid: Tensor) -> None:
    """Send a ``(3, H, W)`` grid in [0, 1] to every logger that shows images."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[grid], step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid, global_step=trainer.global_step)


class ImageGrids(L.Callback):
    """Writes ``images/<kind>_epoch<E>.png`` under the run directory every ``every_n_epochs``.

    Kinds: ``reconstructions`` (rows of inputs then reconstructions, for modules with
    ``reconstruct``), ``samples`` (``sample(n)`` from a fixed seed, so successive grids show the
    same latent points), and whatever ``extra_images`` of the module returns. Only rank 0 works.

    Args:
        every_n_epochs: write grids after every n-th validation epoch.
        num_samples: images in the sample grid.
        num_reconstructions: inputs in the reconstruction grid (taken from the first
            validation batch, the same every time).
        nrow: images per grid row.
        seed: seed of the fixed noise.
        min_side: images smaller than this are enlarged (nearest neighbour) so that 8x8 or
            16x16 digits stay legible in the grid.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 64,
        num_reconstructions: int = 16,
        nrow: int = 16,
        seed: int = 0,
        min_side: int = 32,
    ):
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.num_reconstructions = num_reconstructions
        self.nrow = nrow
        self.seed = seed
        self.min_side = min_side
        self._batch: tuple[Tensor, Tensor] | None = None
        self.last_files: dict[str, str] = {}

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self._batch is None and batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking:
            images, labels = batch[0], batch[1]
            self._batch = (images[: self.num_reconstructions].detach().cpu().clone(),
                           labels[: self.num_reconstructions].detach().cpu().clone())

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        # On every rank: under DDP ``trainer.log_dir`` is a broadcast from rank 0 (a collective),
        # which must not be inside the rank-0-only ``write``.
        self.write(trainer, pl_module, os.path.join(trainer.log_dir or trainer.default_root_dir, "images"))

    @rank_zero_only
    @torch.no_grad()
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, folder: str | None = None) -> None:
        """Make and save every grid now (into ``folder``, default ``<log_dir>/images``; only
        in a single process or on rank 0)."""
        if len(getattr(pl_module, "data_shape", ())) != 3:
            return  # not images (e.g. 2-D toy data): the module draws its own figures
        was_training = pl_module.training
        pl_module.eval()
        grids: dict[str, tuple[Tensor, int]] = {}
        generator = torch.Generator().manual_seed(self.seed)
        if hasattr(pl_module, "sample"):
            grids["samples"] = (pl_module.sample(self.num_samples, generator=generator), self.nrow)
        if self._batch is not None:
            images, labels = (t.to(pl_module.device) for t in self._batch)
            n = len(images)
            if hasattr(pl_module, "reconstruct"):
                recon = pl_module.reconstruct(images, labels) if _takes_labels(pl_module) else pl_module.reconstruct(images)
                grids["reconstructions"] = (torch.cat([images, recon]), n)
            if hasattr(pl_module, "extra_images"):
                for name, rows in pl_module.extra_images(images, labels, generator).items():
                    grids[name] = (rows, n)
        if was_training:
            pl_module.train()
        folder = folder or os.path.join(trainer.log_dir or trainer.default_root_dir, "images")
        os.makedirs(folder, exist_ok=True)
        for name, (batch, nrow) in grids.items():
            images = pl_module.to_unit_range(batch.float()).cpu()
            if images.shape[-1] < self.min_side:
                images = torch.nn.functional.interpolate(images, scale_factor=-(-self.min_side // images.shape[-1]), mode="nearest")
            grid = make_grid(images, nrow=nrow, padding=2, pad_value=0.5)
            path = os.path.join(folder, f"{name}_epoch{trainer.current_epoch:04d}.png")
            save_image(grid, path)
            self.last_files[name] = path
            log_image_to_loggers(trainer, f"images/{name}", grid)


def _takes_labels(module: L.LightningModule) -> bool:
    return "labels" in inspect.signature(module.reconstruct).parameters
