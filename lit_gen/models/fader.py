"""Fader networks (Lample, Zeghidour, Usunier, Bordes, Denoyer & Ranzato, 2017, "Fader Networks:
Manipulating Images by Sliding Attributes", NeurIPS, arXiv:1706.00409).

An encoder-decoder ``x -> z = E(x) -> D(z, y)`` conditioned on binary attributes ``y`` whose
latent code is made invariant to ``y`` by a latent discriminator ``P(y | z)``:

* discriminator (eq. (2)): ``L_dis = -log P(y | E(x))``;
* encoder-decoder (eq. (3)): ``L = ||D(E(x), y) - x||^2 + lambda_E * (-log P(1 - y | E(x)))``,
  i.e. the encoder is rewarded when the discriminator predicts the *flipped* attributes;
* ``lambda_E`` grows linearly from 0 to its final value over the first ``warmup_steps``
  iterations (section 4.2: 0.0001 reached after 500,000 iterations), since a strong adversary
  from the start would keep the decoder from learning to use ``y``.

Each iteration updates the discriminator once (on the encoder's detached code), then the
encoder-decoder, as in the authors' implementation (with the discriminator in eval mode, i.e.
without dropout, during the encoder-decoder step). The reconstruction error is averaged over
pixels, as in the authors' implementation, so that the paper's ``lambda_E`` keeps its meaning;
with several attributes both attribute terms sum over attributes. Attributes are encoded for the
decoder as one-hot pairs ``[1 - y, y]``; at inference ``y`` may be any ``alpha`` in [0, 1] (the
"fader": :meth:`FaderNetwork.slide`).

Data: batches ``(images, attributes)`` with attributes ``(N, K)`` in {0, 1}, from
:class:`~lit_gen.data.CelebADataModule` (e.g. ``Male``, ``Young``, ``Eyeglasses``) or
:class:`~lit_gen.data.DigitsAttributesDataModule` (``thick``: ink mass above the class median).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor
from torchmetrics.image import PeakSignalNoiseRatio

from lit_gen.errors import ConfigurationError
from lit_gen.models.base import GenerativeModule
from lit_gen.nets.fader import FaderDecoder, FaderEncoder, LatentDiscriminator, MLPFaderDecoder
from lit_gen.nets.layers import output_activation as make_output_activation
from lit_gen.nets.mlp import FlattenMLP

#: The paper's Adam settings (section 4.2): learning rate 0.002, beta_1 = 0.5.
DEFAULT_LR = 2e-3
DEFAULT_BETAS = (0.5, 0.999)


class FaderNetwork(GenerativeModule):
    """Fader network: attribute-conditioned autoencoder with an adversarial latent discriminator.

    Args:
        data_shape: shape of one image (linked from the data module).
        value_range: range of the data (linked from the data module).
        num_attributes: ``K``, binary attributes per image (checked against the data module).
        architecture: ``conv`` (the paper's networks) or ``mlp`` (small images).
        channels: conv encoder widths (the paper at 256x256: 16, 32, 64, 128, 256, 512, 512); the
            decoder mirrors them.
        latent_dim: code width of the ``mlp`` architecture.
        hidden: MLP hidden widths, image side first (mirrored in the decoder).
        discriminator_hidden: width of the latent discriminator's layers (512).
        dropout: dropout of the latent discriminator (0.3).
        lambda_e: final weight ``lambda_E`` of the adversarial term (0.0001).
        warmup_steps: iterations over which ``lambda_E`` grows linearly from 0 (500,000).
        output_activation: decoder output (``auto``: tanh/sigmoid by value range).
        optimizer_ae: encoder-decoder optimizer (``None``: Adam(2e-3, betas (0.5, 0.999))).
        optimizer_d: discriminator optimizer (``None``: the same Adam).
        fader_steps: values of ``alpha`` in the fader grid written with the image grids.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 16, 16),
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_attributes: int = 1,
        architecture: Literal["conv", "mlp"] = "conv",
        channels: Sequence[int] = (16, 32, 64, 128, 256, 512, 512),
        latent_dim: int = 32,
        hidden: Sequence[int] = (512, 256),
        discriminator_hidden: int = 512,
        dropout: float = 0.3,
        lambda_e: float = 1e-4,
        warmup_steps: int = 500_000,
        output_activation: str = "auto",
        optimizer_ae: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        fader_steps: int = 6,
    ):
        super().__init__(data_shape, value_range)
        self.automatic_optimization = False
        self.save_hyperparameters(ignore=["optimizer_ae", "optimizer_d"])
        if num_attributes < 1:
            raise ConfigurationError(f"num_attributes must be >= 1, got {num_attributes}")
        if lambda_e < 0 or warmup_steps < 0:
            raise ConfigurationError(f"lambda_e and warmup_steps must be >= 0, got {lambda_e} and {warmup_steps}")
        if not 0 <= dropout < 1:
            raise ConfigurationError(f"dropout must be in [0, 1), got {dropout}")
        self.num_attributes = num_attributes
        self.lambda_e = lambda_e
        self.warmup_steps = warmup_steps
        self.fader_steps = fader_steps
        final = make_output_activation(output_activation, self.value_range)
        if architecture == "conv":
            if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
                raise ConfigurationError(f"the conv Fader network needs square images (C, S, S), got {self.data_shape}")
            if not channels:
                raise ConfigurationError("channels must list at least one encoder layer")
            self.encoder = FaderEncoder(self.data_shape[0], self.data_shape[1], channels)
            self.decoder = FaderDecoder(
                channels[-1], self.data_shape[0], list(reversed(channels[:-1])), num_attributes, out_act=final
            )
            latent_shape = self.encoder.latent_shape
        elif architecture == "mlp":
            if latent_dim < 1:
                raise ConfigurationError(f"latent_dim must be >= 1, got {latent_dim}")
            self.encoder = FlattenMLP(self.data_shape, hidden, latent_dim)
            self.decoder = MLPFaderDecoder(latent_dim, self.data_shape, list(reversed(hidden)), num_attributes, out_act=final)
            latent_shape = (latent_dim,)
        else:
            raise ConfigurationError(f"architecture must be 'conv' or 'mlp', got {architecture!r}")
        self.latent_shape = tuple(latent_shape)
        self.discriminator = LatentDiscriminator(latent_shape, num_attributes, discriminator_hidden, dropout)
        self.optimizer_ae = optimizer_ae
        self.optimizer_d = optimizer_d
        span = self.value_range[1] - self.value_range[0]
        self.val_psnr = PeakSignalNoiseRatio(data_range=span)
        self.attribute_names: tuple[str, ...] = tuple(f"attribute{k}" for k in range(num_attributes))
        #: completed encoder-decoder updates (the iteration count of the warm-up; checkpointed).
        self.ae_steps = 0

    # -- the model ---------------------------------------------------------------------------
    def check_attributes(self, attributes: Tensor, n: int) -> Tensor:
        """Attributes as a float ``(n, K)`` tensor, or a clear error."""
        if attributes.ndim == 1 and self.num_attributes == 1 and len(attributes) == n:
            attributes = attributes.unsqueeze(1)
        if attributes.ndim != 2 or attributes.shape != (n, self.num_attributes):
            raise ConfigurationError(
                f"FaderNetwork expects attributes of shape ({n}, {self.num_attributes}) (one 0/1 value per "
                f"attribute), got {tuple(attributes.shape)}; train it on a data module with attributes "
                f"(DigitsAttributesDataModule, CelebADataModule)"
            )
        return attributes.float()

    def encode(self, x: Tensor) -> Tensor:
        """``z = E(x)``: a latent map ``(N, C, s, s)`` (conv) or vector ``(N, d)`` (mlp)."""
        return self.encoder(x)

    def decode(self, z: Tensor, attributes: Tensor) -> Tensor:
        """``D(z, y)``; ``y`` in {0, 1} or any ``alpha`` in [0, 1]."""
        return self.decoder(z, self.check_attributes(attributes, len(z)))

    def forward(self, x: Tensor, attributes: Tensor) -> Tensor:
        return self.decode(self.encode(x), attributes)

    def reconstruct(self, x: Tensor, labels: Tensor) -> Tensor:
        """``D(E(x), y)`` with the image's own attributes ``y``."""
        return self(x, labels)

    def swap(self, x: Tensor, attributes: Tensor, which: Sequence[int] | None = None) -> Tensor:
        """``D(E(x), y')`` with attributes ``which`` (default all) flipped."""
        y = self.check_attributes(attributes, len(x)).clone()
        columns = list(range(self.num_attributes)) if which is None else list(which)
        y[:, columns] = 1 - y[:, columns]
        return self(x, y)

    def slide(self, x: Tensor, attributes: Tensor, attribute: int, alphas: Sequence[float]) -> Tensor:
        """The fader: ``D(E(x), y)`` with attribute ``attribute`` set to each ``alpha`` (the
        others kept): ``(len(alphas) * N, ...)``, one block of N images per alpha."""
        y = self.check_attributes(attributes, len(x))
        z = self.encode(x)
        rows = []
        for alpha in alphas:
            y_alpha = y.clone()
            y_alpha[:, attribute] = float(alpha)
            rows.append(self.decode(z, y_alpha))
        return torch.cat(rows)

    def extra_images(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Fader grids for :class:`~lit_gen.callbacks.ImageGrids`, one per attribute: the
        inputs, then one row per ``alpha`` from 0 to 1."""
        if self.fader_steps < 2:
            return {}
        alphas = torch.linspace(0, 1, self.fader_steps).tolist()
        return {
            f"fader_{name}": torch.cat([images, self.slide(images, labels, k, alphas)])
            for k, name in enumerate(self.attribute_names)
        }

    # -- the objective -----------------------------------------------------------------------
    def lambda_at(self, step: int) -> float:
        """``lambda_E`` after ``step`` encoder-decoder updates: ``lambda_e * min(1, step /
        warmup_steps)`` (the paper's linear schedule)."""
        if self.warmup_steps == 0:
            return self.lambda_e
        return self.lambda_e * min(1.0, step / self.warmup_steps)

    def discriminator_loss(self, z: Tensor, attributes: Tensor) -> tuple[Tensor, Tensor]:
        """``-log P(y | z)`` summed over attributes, averaged over the batch (eq. (2)); also
        the fraction of attributes predicted right."""
        logits = self.discriminator(z)
        loss = F.binary_cross_entropy_with_logits(logits, attributes, reduction="none").sum(1).mean()
        accuracy = ((logits > 0).float() == attributes).float().mean()
        return loss, accuracy

    def adversarial_loss(self, z: Tensor, attributes: Tensor) -> Tensor:
        """``-log P(1 - y | z)`` summed over attributes, averaged over the batch (eq. (3))."""
        logits = self.discriminator(z)
        return F.binary_cross_entropy_with_logits(logits, 1 - attributes, reduction="none").sum(1).mean()

    @staticmethod
    def reconstruction_loss(recon: Tensor, x: Tensor) -> Tensor:
        """Mean squared error over pixels and batch (the authors' normalization)."""
        return F.mse_loss(recon, x)

    # -- training ----------------------------------------------------------------------------
    def update(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        real, attributes = batch
        y = self.check_attributes(attributes, len(real))
        opt_ae, opt_d = self.optimizers()
        z = self.encode(real)  # one encoding per batch: the discriminator step leaves E unchanged

        with self.toggled_optimizer(opt_d):  # latent discriminator: eq. (2)
            d_loss, d_accuracy = self.discriminator_loss(z.detach(), y)
            self.update(opt_d, d_loss)

        lambda_e = self.lambda_at(self.ae_steps)
        with self.toggled_optimizer(opt_ae):  # encoder-decoder: eq. (3)
            self.discriminator.eval()  # no dropout when the discriminator judges the encoder
            recon = self.reconstruction_loss(self.decoder(z, y), real)
            adversarial = self.adversarial_loss(z, y)
            self.discriminator.train()
            loss = recon + lambda_e * adversarial
            self.update(opt_ae, loss)
        self.ae_steps += 1

        self.log_step_metrics({
            "train/loss": loss, "train/recon": recon, "train/adversarial": adversarial,
            "train/d_loss": d_loss, "train/d_accuracy": d_accuracy,
            "train/lambda_e": torch.tensor(lambda_e),
        }, prog_bar=["train/loss"])
        return {"loss": loss.detach(), "recon": recon.detach(), "d_loss": d_loss.detach()}

    def _evaluate(self, batch, stage: str) -> None:
        real, attributes = batch
        y = self.check_attributes(attributes, len(real))
        z = self.encode(real)
        recon_images = self.decoder(z, y)
        d_loss, d_accuracy = self.discriminator_loss(z, y)
        values = {"recon": self.reconstruction_loss(recon_images, real), "d_loss": d_loss, "d_accuracy": d_accuracy}
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, on_epoch=True, sync_dist=True)
        if stage == "val":
            self.val_psnr(recon_images, real)
            self.log("val/psnr", self.val_psnr, on_epoch=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self):
        def default(params):
            return torch.optim.Adam(params, lr=DEFAULT_LR, betas=DEFAULT_BETAS)

        autoencoder = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return [
            (self.optimizer_ae or default)(autoencoder),
            (self.optimizer_d or default)(self.discriminator.parameters()),
        ]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["fader_ae_steps"] = self.ae_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.ae_steps = int(checkpoint.get("fader_ae_steps", 0))

    def setup(self, stage: str) -> None:
        super().setup(stage)
        data = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if data is not None:
            count = getattr(data, "num_attributes", None)
            if count is None:
                raise ConfigurationError(
                    f"FaderNetwork needs a data module that yields binary attributes "
                    f"(DigitsAttributesDataModule, CelebADataModule), got {type(data).__name__}"
                )
            if count != self.num_attributes:
                raise ConfigurationError(
                    f"FaderNetwork has num_attributes={self.num_attributes} but the data yields {count} "
                    f"attributes; set model.init_args.num_attributes={count}"
                )
            self.attribute_names = tuple(getattr(data, "attribute_names", self.attribute_names))
        strategy = self.trainer.strategy if self._trainer is not None else None
        if stage == "fit" and isinstance(strategy, DDPStrategy) and not getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters", False):
            raise ConfigurationError(
                "FaderNetwork updates the discriminator and the encoder-decoder in separate backward "
                "passes, which plain DDP rejects: use trainer.strategy=ddp_find_unused_parameters_true"
            )

