"""pix2pix: Isola, Zhu, Zhou & Efros (2017), "Image-to-Image Translation with Conditional
Adversarial Networks", CVPR, arXiv:1611.07004.

Objective, eq. (4): ``G* = arg min_G max_D L_cGAN(G, D) + lambda_l1 * L_L1(G)`` with
``L_cGAN = E_{x,y}[log D(x, y)] + E_x[log(1 - D(x, G(x)))]`` (eq. (1); the discriminator sees the
input concatenated with the real or generated output) and ``L_L1 = E[||y - G(x)||_1]`` (eq. (3)),
``lambda_l1 = 100``. The generator minimizes ``-log D(x, G(x))`` (non-saturating, sec. 3.3) and the
discriminator's objective is halved ("we divide the objective by 2 while optimizing D"), as
:class:`~lit_gen.losses.adversarial.NonSaturating` computes. Noise is dropout only (sec. 2.1).

Networks: U-Net generator (:mod:`lit_gen.nets.unet`), 70x70 PatchGAN (:mod:`lit_gen.nets.patchgan`),
batch norm, weights ~ N(0, 0.02); Adam(2e-4, 0.5, 0.999), one discriminator step then one
generator step per batch; learning rate constant for ``n_epochs`` then linearly decayed over
``n_epochs_decay`` (the official code's defaults, 100 + 100). Inference as the paper: dropout on
and batch norm with the test batch's statistics (``inference="train"``).

Batches are ``(real_a, real_b, ...)``: the input and the target image (the data module's
``direction`` decides which folder half is which).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import AdversarialLoss, NonSaturating
from lit_gen.losses.translation import l1_loss
from lit_gen.metrics.translation import psnr
from lit_gen.models.base import GenerativeModule
from lit_gen.models.image_translation import (
    LinearDecayTraining,
    batch_statistics_mode,
    linear_decay_schedulers,
    paper_adam,
)
from lit_gen.nets.patchgan import PatchGANDiscriminator, check_patchgan_size
from lit_gen.nets.translation_layers import check_norm, init_normal_
from lit_gen.nets.unet import UNetGenerator, default_num_downs


class Pix2Pix(LinearDecayTraining, GenerativeModule):
    """Conditional GAN for paired image-to-image translation.

    Args:
        data_shape: ``(C, H, W)`` of both images (linked from the data module).
        value_range: range of the data (linked).
        ngf: generator width (64 in the paper).
        ndf: discriminator width (64).
        num_downs: U-Net downsamplings; ``None``: halve down to an odd side (8 at 256 px, the
            paper's ``unet_256``).
        n_layers: PatchGAN stride-2 layers (3: 70x70 patches; 1: 16x16; 5: 286x286).
        norm: ``batch`` (paper), ``instance`` or ``none``.
        dropout: dropout in the U-Net decoder, the generator's noise (paper: on).
        dropout_blocks: see :class:`~lit_gen.nets.unet.UNetGenerator` (``None``: official rule).
        lambda_l1: weight of the L1 term (100).
        adversarial: the cGAN objective on raw scores; ``None``: ``NonSaturating`` (the paper's).
        optimizer_g: generator optimizer factory; ``None``: Adam(2e-4, betas=(0.5, 0.999)).
        optimizer_d: discriminator optimizer factory; ``None``: the same Adam.
        n_epochs: epochs at the initial learning rate (100).
        n_epochs_decay: epochs of linear decay towards zero (100); set the trainer's
            ``max_epochs`` to ``n_epochs + n_epochs_decay``.
        init_std: standard deviation of the N(0, std) weight initialization (0.02).
        inference: ``train`` (paper: dropout on, batch-norm statistics of the test batch) or
            ``eval`` (dropout off, running statistics) for validation, test, prediction and grids.
    """

    #: ``lit-gen test/predict --ckpt_path`` may change these (they do not affect the weights).
    evaluation_hparams = ("inference",)

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        value_range: tuple[float, float] = (-1.0, 1.0),
        ngf: int = 64,
        ndf: int = 64,
        num_downs: int | None = None,
        n_layers: int = 3,
        norm: Literal["batch", "instance", "none"] = "batch",
        dropout: bool = True,
        dropout_blocks: int | None = None,
        lambda_l1: float = 100.0,
        adversarial: AdversarialLoss | None = None,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        init_std: float = 0.02,
        inference: Literal["train", "eval"] = "train",
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["adversarial", "optimizer_g", "optimizer_d"])
        self.automatic_optimization = False
        if len(self.data_shape) != 3:
            raise ConfigurationError(
                f"Pix2Pix translates images (C, H, W); got data_shape {self.data_shape}"
            )
        if inference not in ("train", "eval"):
            raise ConfigurationError(f"inference must be 'train' or 'eval', got {inference!r}")
        if lambda_l1 < 0:
            raise ConfigurationError(f"lambda_l1 must be >= 0, got {lambda_l1}")
        check_norm(norm)
        channels, height, width = self.data_shape
        side = min(height, width)
        num_downs = default_num_downs(side) if num_downs is None else num_downs
        if height % 2**num_downs or width % 2**num_downs:
            raise ConfigurationError(
                f"the U-Net with num_downs={num_downs} needs image sides divisible by "
                f"{2**num_downs}; got {height}x{width}"
            )
        check_patchgan_size(side, n_layers)
        out = "tanh" if self.value_range[0] < 0 else "sigmoid"  # the data's range
        self.generator = UNetGenerator(
            channels, channels, ngf, num_downs, norm, dropout, dropout_blocks, out
        )
        # D(x, y): input and output image concatenated along channels (sec. 2.1, eq. (1)).
        self.discriminator = PatchGANDiscriminator(2 * channels, ndf, n_layers, norm)
        init_normal_(self.generator, init_std)
        init_normal_(self.discriminator, init_std)
        self.adversarial = adversarial or NonSaturating()
        self.lambda_l1 = lambda_l1
        self.optimizer_g_factory = optimizer_g or paper_adam
        self.optimizer_d_factory = optimizer_d or paper_adam

    # -- the model ---------------------------------------------------------------------------
    def forward(self, real_a: Tensor) -> Tensor:
        return self.generator(real_a)

    @torch.no_grad()
    def translate(self, real_a: Tensor) -> Tensor:
        """``G(x)`` in the data's range, with the configured inference protocol."""
        if self.hparams.inference == "train":
            with batch_statistics_mode(self.generator):
                return self.generator(real_a)
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(real_a)
        finally:
            self.generator.train(was_training)

    # -- the objective -----------------------------------------------------------------------
    def discriminator_loss(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> Tensor:
        """``1/2 [-log D(x, y) - log(1 - D(x, G(x)))]``, batch and patch means."""
        real_scores = self.discriminator(torch.cat([real_a, real_b], dim=1))
        fake_scores = self.discriminator(torch.cat([real_a, fake_b], dim=1))
        return self.adversarial.d_loss(real_scores, fake_scores)

    def generator_loss(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """``g_gan = -log D(x, G(x))``, ``g_l1 = ||y - G(x)||_1`` and their sum ``g_loss``."""
        g_gan = self.adversarial.g_loss(self.discriminator(torch.cat([real_a, fake_b], dim=1)))
        g_l1 = l1_loss(fake_b, real_b)
        return {"g_gan": g_gan, "g_l1": g_l1, "g_loss": g_gan + self.lambda_l1 * g_l1}

    def update(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        real_a, real_b = batch[0], batch[1]
        opt_g, opt_d = self.optimizers()
        fake_b = self.generator(real_a)  # G(x, z): z is the dropout noise

        with self.toggled_optimizer(opt_d):  # D: max log D(x, y) + log(1 - D(x, G(x))), halved
            d_loss = self.discriminator_loss(real_a, real_b, fake_b.detach())
            self.update(opt_d, d_loss)

        with self.toggled_optimizer(opt_g):  # G: min -log D(x, G(x)) + lambda_l1 ||y - G(x)||_1
            terms = self.generator_loss(real_a, real_b, fake_b)
            self.update(opt_g, terms["g_loss"])

        losses = {"d_loss": d_loss, **terms}
        self.log_step_metrics({f"train/{k}": v for k, v in losses.items()})
        return losses  # read by NonFiniteLossGuard

    def _evaluate(self, batch, stage: str) -> None:
        real_a, real_b = batch[0], batch[1]
        fake_b = self.translate(real_a)
        self.log_epoch_metrics(
            {
                f"{stage}/l1": l1_loss(fake_b, real_b),
                f"{stage}/psnr": psnr(
                    self.to_unit_range(fake_b), self.to_unit_range(real_b)
                ).mean(),
            },
            len(real_a),
        )

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx: int) -> dict:
        """Translate ``batch["real"]`` (a folder of input images); returns the outputs and names."""
        return {"images": self.translate(batch["real"]), "names": batch["name"]}

    # -- evaluation protocol of lit_gen.callbacks.GenerativeMetrics (FID of translations) --------
    translation_directions = (("A", "B"),)

    def translate_for_metrics(self, images: Tensor, direction: tuple[str, str]) -> Tensor:
        """Input images (domain A) translated to the output domain B."""
        if tuple(direction) != ("A", "B"):
            raise ConfigurationError(f"Pix2Pix translates A (input) to B (output), not {direction}")
        return self.translate(images)

    def extra_images(self, images: Tensor, targets: Tensor, generator=None) -> dict[str, Tensor]:
        """Rows: inputs, translations, targets (the first validation batch's images)."""
        return {"translations": torch.cat([images, self.translate(images), targets])}

    def configure_optimizers(self):
        opt_g = self.optimizer_g_factory(self.generator.parameters())
        opt_d = self.optimizer_d_factory(self.discriminator.parameters())
        return [opt_g, opt_d], linear_decay_schedulers(
            [opt_g, opt_d], self.hparams.n_epochs, self.hparams.n_epochs_decay
        )
