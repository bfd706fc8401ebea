"""Adversarial autoencoders (Makhzani, Shlens, Jaitly, Goodfellow & Frey, 2015, arXiv:1511.05644).

An autoencoder whose aggregated posterior ``q(z) = E_x[q(z|x)]`` is matched to a prior ``p(z)``
by a GAN on the code: a discriminator tells prior samples ("real") from codes ``E(x)``
("fake"), and the encoder, playing the generator, learns to fool it. Section 2: "the
adversarial network and the autoencoder are trained jointly with SGD in two phases - the
reconstruction phase and the regularization phase - executed on each mini-batch":

1. reconstruction: encoder and decoder minimize ``||x - Dec(Enc(x))||^2``;
2. regularization: the discriminator is updated on ``z ~ p(z)`` vs ``Enc(x)``, then the encoder
   is updated to make the discriminator call its codes real (the GAN objective of
   :mod:`lit_gen.losses.adversarial`, non-saturating by default).

The encoder is deterministic (the paper's first choice of ``q(z|x)``). Priors
(:mod:`lit_gen.losses.priors`): a Gaussian or a mixture of Gaussians on a circle (Figure 2).
With labels, ``conditioning`` selects one of the paper's supervised variants:

* ``prior`` (section 4, Figure 6): the discriminator also sees the one-hot label, and the prior
  sample paired with an image of class ``k`` comes from mixture component ``k``, so each class
  occupies its own component;
* ``decoder`` (section 5, Figure 8): the decoder gets the one-hot label, so the code keeps the
  style and the label the content; decoding one code with every label transfers the style.

Reported: ``recon`` (per-image squared error, as :class:`~lit_gen.models.AutoEncoder`),
``d_loss``, ``g_loss``, and ``d_accuracy``, the discriminator's accuracy on prior samples vs
codes (0.5 when ``q(z)`` matches ``p(z)`` as far as the discriminator can tell).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor
from torchmetrics.image import PeakSignalNoiseRatio

from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import AdversarialLoss, NonSaturating
from lit_gen.losses.autoencoding import squared_error
from lit_gen.losses.priors import GaussianPrior, Prior
from lit_gen.models.base import GenerativeModule
from lit_gen.nets.autoencoder import Architecture, build_encoder_decoder
from lit_gen.nets.mlp import MLP

Conditioning = Literal["none", "prior", "decoder"]


class AdversarialAutoEncoder(GenerativeModule):
    """Adversarial autoencoder: reconstruction phase, then regularization phase, every batch.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked from the data module).
        latent_dim: code size ``d``.
        architecture: ``mlp``, ``conv`` or ``linear`` encoder/decoder.
        hidden: MLP hidden widths, input side first (the paper's MNIST networks: two layers of
            1000 ReLU units).
        channels: conv widths, input side first.
        upsample: conv decoder upsampling, ``transpose`` or ``interpolate``.
        activation: hidden activation of encoder and decoder.
        output_activation: decoder output (``auto``: tanh/sigmoid by value range).
        prior: the prior ``p(z)`` (default ``N(0, I)``).
        discriminator_hidden: hidden widths of the code discriminator (two layers of 1000).
        objective: GAN objective of the regularization phase (default non-saturating).
        conditioning: ``none``, ``prior`` (label selects the mixture component, discriminator
            sees the label) or ``decoder`` (decoder sees the label).
        num_classes: number of labels (needed by ``prior`` and ``decoder``; for ``prior`` it must
            equal the prior's number of components).
        optimizer_ae: reconstruction-phase optimizer of encoder and decoder (``None``: Adam(1e-3)).
        optimizer_d: discriminator optimizer (``None``: Adam(2e-4, betas (0.5, 0.999))).
        optimizer_g: encoder optimizer of the regularization phase (``None``: the same Adam).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        latent_dim: int = 8,
        architecture: Architecture = "mlp",
        hidden: Sequence[int] = (1000, 1000),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        output_activation: str = "auto",
        prior: Prior = GaussianPrior(),
        discriminator_hidden: Sequence[int] = (1000, 1000),
        objective: AdversarialLoss = NonSaturating(),
        conditioning: Conditioning = "none",
        num_classes: int = 0,
        optimizer_ae: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        optimizer_g: OptimizerCallable | None = None,
    ):
        super().__init__(data_shape, value_range)
        self.automatic_optimization = False
        self.save_hyperparameters(ignore=["optimizer_ae", "optimizer_d", "optimizer_g"])
        if latent_dim < 1:
            raise ConfigurationError(f"latent_dim must be >= 1, got {latent_dim}")
        if conditioning not in ("none", "prior", "decoder"):
            raise ConfigurationError(f"conditioning must be 'none', 'prior' or 'decoder', got {conditioning!r}")
        if conditioning != "none" and num_classes < 2:
            raise ConfigurationError(f"conditioning={conditioning!r} needs num_classes >= 2, got {num_classes}")
        if not isinstance(prior, Prior):
            raise ConfigurationError(f"prior must be one of lit_gen.losses.priors (GaussianPrior, GaussianMixturePrior), got {prior!r}")
        if conditioning == "prior" and prior.num_components != num_classes:
            raise ConfigurationError(
                f"conditioning='prior' draws class k from mixture component k: the prior needs "
                f"num_components = num_classes = {num_classes}, got {prior!r}"
            )
        if not isinstance(objective, AdversarialLoss):
            raise ConfigurationError(f"objective must be one of lit_gen.losses.adversarial's losses, got {objective!r}")
        prior.sample(2, latent_dim)  # fail now if the prior cannot live in latent_dim dimensions
        self.latent_dim = latent_dim
        self.prior = prior
        self.objective = objective
        self.conditioning = conditioning
        self.num_classes = num_classes if conditioning != "none" else 0
        decoder_condition = self.num_classes if conditioning == "decoder" else 0
        self.encoder, _ = build_encoder_decoder(
            architecture, self.data_shape, self.value_range, latent_dim, latent_dim, hidden,
            channels, upsample, activation, output_activation,
        )
        _, self.decoder = build_encoder_decoder(
            architecture, self.data_shape, self.value_range, latent_dim, latent_dim, hidden,
            channels, upsample, activation, output_activation, condition_dim=decoder_condition,
        )
        discriminator_condition = self.num_classes if conditioning == "prior" else 0
        self.discriminator = MLP(latent_dim + discriminator_condition, discriminator_hidden, 1, act=activation)
        self.optimizer_ae = optimizer_ae
        self.optimizer_d = optimizer_d
        self.optimizer_g = optimizer_g
        span = self.value_range[1] - self.value_range[0]
        self.val_psnr = PeakSignalNoiseRatio(data_range=span)

    # -- the model ---------------------------------------------------------------------------
    def one_hot(self, labels: Tensor | None, n: int) -> Tensor:
        """The one-hot labels ``(n, num_classes)``, or a clear error."""
        if labels is None:
            raise ConfigurationError(f"this AdversarialAutoEncoder (conditioning={self.conditioning!r}) needs labels")
        if labels.ndim != 1 or len(labels) != n:
            raise ConfigurationError(f"labels must be a vector of {n} class indices, got shape {tuple(labels.shape)}")
        # Value check on CPU tensors only: on an accelerator it would synchronize the host.
        if labels.device.type == "cpu" and len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ConfigurationError(f"labels must be in [0, {self.num_classes - 1}]")
        return F.one_hot(labels.long(), self.num_classes).float()

    def encode(self, x: Tensor) -> Tensor:
        """The code ``z = Enc(x)``, ``(N, latent_dim)``."""
        return self.encoder(x)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``Dec(z)`` (``Dec(z, y)`` with ``conditioning='decoder'``), in the data's range."""
        if self.conditioning == "decoder":
            z = torch.cat([z, self.one_hot(labels, len(z)).to(z.dtype)], dim=1)
        return self.decoder(z)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(x), labels)

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """``Dec(Enc(x))`` (with the images' labels for ``conditioning='decoder'``)."""
        return self(x, labels)

    def sample_prior(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``z ~ p(z)`` (component ``labels`` with ``conditioning='prior'``), on this device."""
        prior_labels = labels if self.conditioning == "prior" else None
        if prior_labels is not None and generator is not None:
            prior_labels = prior_labels.to(generator.device)
        return self.prior.sample(n, self.latent_dim, prior_labels, generator, device=self.device).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``Dec(z)``, ``z ~ p(z)``; conditioned variants take ``labels`` (default ``0, 1, ...``)."""
        if self.conditioning == "none":
            if labels is not None:
                raise ConfigurationError("this AdversarialAutoEncoder is unconditional: call sample(n) without labels")
        elif labels is None:
            labels = torch.arange(n) % self.num_classes
        z = self.sample_prior(n, labels, generator)
        return self.decode(z, None if labels is None else labels.to(self.device))

    def extra_images(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """With ``conditioning='decoder'``: the style grid of the paper's Figure 8, each input's
        code decoded with every label (one row per label)."""
        if self.conditioning != "decoder":
            return {}
        z = self.encode(images)
        rows = [self.decode(z, torch.full((len(z),), k, device=z.device)) for k in range(self.num_classes)]
        return {"style_transfer": torch.cat([images, *rows])}

    # -- the objective -----------------------------------------------------------------------
    def _discriminate(self, z: Tensor, labels: Tensor | None) -> Tensor:
        if self.conditioning == "prior":
            z = torch.cat([z, self.one_hot(labels, len(z)).to(z.dtype)], dim=1)
        return self.discriminator(z).squeeze(1)

    def reconstruction_loss(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Reconstruction phase: ``||x - Dec(Enc(x))||^2`` per image, batch mean."""
        return squared_error(self(x, labels), x).mean()

    def discriminator_loss(self, z_prior: Tensor, z_codes: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Regularization phase, discriminator: prior samples real, codes fake; also returns
        the discriminator's accuracy on both."""
        prior_scores = self._discriminate(z_prior, labels)
        code_scores = self._discriminate(z_codes, labels)
        accuracy = 0.5 * ((prior_scores > 0).float().mean() + (code_scores <= 0).float().mean())
        return self.objective.d_loss(prior_scores, code_scores), accuracy

    def generator_loss(self, z_codes: Tensor, labels: Tensor | None = None) -> Tensor:
        """Regularization phase, encoder: make the discriminator call the codes real."""
        return self.objective.g_loss(self._discriminate(z_codes, labels))

    # -- training ----------------------------------------------------------------------------
    def update(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        real, labels = batch
        labels = labels if self.conditioning != "none" else None
        opt_ae, opt_d, opt_g = self.optimizers()

        with self.toggled_optimizer(opt_ae):  # 1. reconstruction phase
            recon = self.reconstruction_loss(real, labels)
            self.update(opt_ae, recon)

        z_codes = self.encode(real)  # codes of the updated encoder
        z_prior = self.sample_prior(len(real), labels)
        with self.toggled_optimizer(opt_d):  # 2a. regularization phase: discriminator
            d_loss, d_accuracy = self.discriminator_loss(z_prior, z_codes.detach(), labels)
            self.update(opt_d, d_loss)

        with self.toggled_optimizer(opt_g):  # 2b. regularization phase: encoder as generator
            g_loss = self.generator_loss(z_codes, labels)
            self.update(opt_g, g_loss)

        self.log_step_metrics({
            "train/recon": recon, "train/d_loss": d_loss, "train/g_loss": g_loss, "train/d_accuracy": d_accuracy,
        }, prog_bar=["train/recon"])
        return {"recon": recon.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def _evaluate(self, batch, stage: str) -> None:
        real, labels = batch
        labels = labels if self.conditioning != "none" else None
        z_codes = self.encode(real)
        recon_images = self.decode(z_codes, labels)
        d_loss, d_accuracy = self.discriminator_loss(self.sample_prior(len(real), labels), z_codes, labels)
        values = {
            "recon": squared_error(recon_images, real).mean(), "d_loss": d_loss,
            "g_loss": self.generator_loss(z_codes, labels), "d_accuracy": d_accuracy,
        }
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, on_epoch=True, sync_dist=True)
        if stage == "val":
            self.val_psnr(recon_images, real)
            self.log("val/psnr", self.val_psnr, on_epoch=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self):
        def reconstruction_default(params):
            return torch.optim.Adam(params, lr=1e-3)

        def adversarial_default(params):
            return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

        autoencoder = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return [
            (self.optimizer_ae or reconstruction_default)(autoencoder),
            (self.optimizer_d or adversarial_default)(self.discriminator.parameters()),
            (self.optimizer_g or adversarial_default)(self.encoder.parameters()),
        ]

    def setup(self, stage: str) -> None:
        super().setup(stage)
        strategy = self.trainer.strategy if self._trainer is not None else None
        if stage == "fit" and isinstance(strategy, DDPStrategy) and not getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters", False):
            raise ConfigurationError(
                "AdversarialAutoEncoder updates its networks in separate backward passes, which plain "
                "DDP rejects: use trainer.strategy=ddp_find_unused_parameters_true"
            )
