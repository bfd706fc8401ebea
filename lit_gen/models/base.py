"""What every lit-gen LightningModule shares.

* ``data_shape`` and ``value_range`` come from the data module (the CLI links them), so networks
  are built for the data they will see.
* Generative modules implement ``sample(n, labels=None, generator=None)``; autoencoders
  ``reconstruct(x)``. Both return images in the data's ``value_range``; the image-grid and
  metric callbacks rely on nothing else.
* Optimizers and schedulers are injected as callables (``OptimizerCallable``), so a YAML chooses
  ``torch.optim.Adam`` and its arguments; code defaults are the papers' values.
* Log keys are ``stage/name`` (``train/loss``, ``val/elbo``).
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lit_gen.data.base import check_value_range
from lit_gen.errors import ConfigurationError


class GenerativeModule(L.LightningModule):
    """Base of lit-gen's modules.

    Args:
        data_shape: shape of one sample, ``(C, H, W)``; linked from the data module by the CLI.
        value_range: range of the data, ``[-1, 1]`` or ``[0, 1]``; linked from the data module.
    """

    #: constructor arguments that only affect evaluation, not the weights: ``lit-gen test
    #: --ckpt_path ...`` may change them (other hyperparameters come from the checkpoint).
    evaluation_hparams: tuple[str, ...] = ()

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
    ):
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        self.value_range = check_value_range(value_range)

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets ``_current_fx_name`` (a str or None) ~40 times per training step;
        # nn.Module.__setattr__ runs Parameter/Module/buffer checks each time, measured at
        # ~0.3 ms per step on a small CPU model. The attribute is never a tensor or module.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def setup(self, stage: str) -> None:
        """Check the module against the data it is given (models built by hand in Python are
        not linked to their data module as the CLI's are)."""
        data = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if data is None:
            return
        shape = getattr(data, "data_shape", None)
        if shape is not None and tuple(shape) != self.data_shape:
            raise ConfigurationError(
                f"{type(self).__name__} was built for data of shape {self.data_shape} but the data "
                f"module yields {tuple(shape)}; pass data_shape={tuple(shape)}"
            )
        classes = getattr(self, "num_classes", 0)
        if classes and getattr(data, "num_classes", classes) != classes:
            raise ConfigurationError(
                f"{type(self).__name__} has num_classes={classes} but the data has "
                f"{data.num_classes} classes; set model.init_args.num_classes={data.num_classes}"
            )

    def log_step_metrics(self, metrics: dict[str, Tensor], prog_bar: Sequence[str] = ()) -> None:
        """Log per-step training scalars, only on the steps whose values reach the loggers.

        Each ``self.log`` call costs Lightning ~0.1-1 ms of Python (it re-files the value in its
        result collection), more than a small model's whole step on CPU. Values logged on other
        steps would be overwritten before Lightning writes them (every ``log_every_n_steps``), so
        skipping those calls loses nothing; the progress bar refreshes at the same rate.
        """
        trainer = self._trainer
        if trainer is None:
            return  # called outside a Trainer (tests, notebooks): nothing to log to
        connector = getattr(trainer, "_logger_connector", None)
        if connector is not None and not (connector.should_update_logs or trainer.fast_dev_run):
            return
        for key, value in metrics.items():
            self.log(key, value.detach(), on_step=True, on_epoch=False, prog_bar=key in prog_bar)

    def log_epoch_metrics(self, metrics: dict[str, Tensor], batch_size: int, prog_bar: Sequence[str] = ()) -> None:
        """Log batch values whose epoch mean (weighted by ``batch_size``) is reported.

        Under DDP the mean covers all ranks' batches (``sync_dist``: one all-reduce per metric at
        the end of the epoch) and is exact when ranks hold different numbers of images (lit-gen's
        evaluation shards are not padded with repeated images). The batch size is passed as a
        float because Lightning (2.6) accumulates it in an integer tensor and averages that over
        ranks with integer division (e.g. shards of 135 and 134 images count as 134 each).
        """
        for key, value in metrics.items():
            self.log(key, value.detach(), on_step=False, on_epoch=True, sync_dist=True,
                     batch_size=float(batch_size), prog_bar=key in prog_bar)

    def to_unit_range(self, images: Tensor) -> Tensor:
        """Map images from ``value_range`` to [0, 1] (for grids, PNG files and metrics)."""
        low, high = self.value_range
        return ((images - low) / (high - low)).clamp(0.0, 1.0)

    def latent_noise(self, n: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
        """``z ~ N(0, I)`` of shape ``(n, dim)`` on this module's device. With a ``generator``
        the draw happens on the generator's device, so a CPU generator gives the same noise on
        every device (fixed-noise grids stay comparable between CPU and GPU runs)."""
        device = generator.device if generator is not None else self.device
        return torch.randn(n, dim, generator=generator, device=device).to(self.device)


def configure_single_optimizer(
    module: L.LightningModule,
    optimizer: OptimizerCallable,
    lr_scheduler: LRSchedulerCallable | None,
    interval: str = "epoch",
):
    """``configure_optimizers`` for modules trained by one optimizer."""
    opt = optimizer(module.parameters())
    if lr_scheduler is None:
        return opt
    return {"optimizer": opt, "lr_scheduler": {"scheduler": lr_scheduler(opt), "interval": interval}}
