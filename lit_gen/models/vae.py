"""Variational autoencoders.

``VAE`` (Kingma & Welling, 2014, arXiv:1312.6114) maximizes the ELBO
``E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I))`` with a diagonal Gaussian encoder
``q(z|x) = N(mu(x), diag(sigma^2(x)))``, the reparameterization ``z = mu + sigma * eps``
(section 2.4) and a Bernoulli or Gaussian decoder (Appendix C). ``beta = 1`` is the VAE;
``beta > 1`` the beta-VAE (Higgins et al., 2017, ICLR).

Reported per image, in nats: ``recon = -E_q[log p(x|z)]`` (one sample), ``kl``, and
``elbo = -(recon + kl)`` (always with beta = 1, so it bounds log p(x) whatever beta is).
``test`` also reports ``nll_iw``, the importance-weighted estimate of ``-log p(x)`` with K
samples (Burda et al., 2016, arXiv:1509.00519, eq. (8)):
``log p(x) ~ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)``, ``z_k ~ q(z|x)``.

``ConditionalVAE`` (Sohn, Lee & Yan, 2015, NeurIPS, "Learning Structured Output Representation
using Deep Conditional Generative Models") conditions encoder and decoder on the one-hot label:
``q(z|x, y)``, ``p(x|z, y)``, prior ``N(0, I)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.losses.autoencoding import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    gaussian_log_likelihood,
)
from lit_gen.models.base import GenerativeModule, configure_single_optimizer
from lit_gen.nets.autoencoder import build_encoder_decoder


class VAE(GenerativeModule):
    """Variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked); the Bernoulli likelihood needs ``[0, 1]``.
        latent_dim: size of ``z``.
        architecture: ``mlp`` or ``conv``.
        hidden: MLP hidden widths, input side first.
        channels: conv widths, input side first.
        upsample: conv decoder upsampling, ``transpose`` or ``interpolate``.
        activation: hidden activation.
        likelihood: ``bernoulli`` (decoder outputs logits) or ``gaussian`` (decoder outputs the
            mean, through tanh/sigmoid matching the data range).
        obs_std: standard deviation of the Gaussian likelihood; ``None`` learns one shared value
            (the "sigma-VAE" of Rybkin et al., 2021, arXiv:2006.13202).
        beta: weight of the KL term (1: the VAE's ELBO).
        iw_samples: ``K`` of the importance-weighted NLL estimate computed in ``test``.
        optimizer: optimizer factory (default Adam, lr 1e-3).
        lr_scheduler: optional scheduler factory, stepped every epoch.
    """

    evaluation_hparams = ("iw_samples",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        latent_dim: int = 16,
        architecture: Literal["mlp", "conv"] = "mlp",
        hidden: Sequence[int] = (512, 256),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        likelihood: Literal["bernoulli", "gaussian"] = "gaussian",
        obs_std: float | None = None,
        beta: float = 1.0,
        iw_samples: int = 100,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        if likelihood not in ("bernoulli", "gaussian"):
            raise ConfigurationError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if likelihood == "bernoulli" and self.value_range != (0.0, 1.0):
            raise ConfigurationError(
                "the Bernoulli likelihood models pixels in [0, 1]: set the data's value_range "
                "to [0, 1] (data.init_args.value_range) or use likelihood: gaussian"
            )
        if obs_std is not None and obs_std <= 0:
            raise ConfigurationError(f"obs_std must be > 0 (or null to learn it), got {obs_std}")
        if latent_dim < 1 or iw_samples < 1:
            raise ConfigurationError(f"latent_dim and iw_samples must be >= 1, got {latent_dim}, {iw_samples}")
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.beta = beta
        self.iw_samples = iw_samples
        self.num_classes = self._condition_classes()
        self.encoder, self.decoder = build_encoder_decoder(
            architecture, self.data_shape, self.value_range, 2 * latent_dim, latent_dim, hidden,
            channels, upsample, activation, "none" if likelihood == "bernoulli" else "auto",
            condition_dim=self.num_classes,
        )
        if likelihood == "gaussian":
            log_std = torch.tensor(math.log(obs_std) if obs_std else 0.0)
            self.log_std = nn.Parameter(log_std, requires_grad=obs_std is None)
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler

    # -- conditioning (none here; ConditionalVAE overrides) ---------------------------------
    def _condition_classes(self) -> int:
        """Width of the one-hot condition (0: unconditional)."""
        return 0

    def condition(self, labels: Tensor | None, n: int) -> Tensor | None:
        """The vector both networks are conditioned on (``None``: unconditional)."""
        return None

    # -- the model -------------------------------------------------------------------------
    def encode(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``mu`` and ``logvar`` of ``q(z | x)``, each ``(N, latent_dim)``."""
        mu, logvar = self.encoder(x, self.condition(labels, len(x))).chunk(2, dim=1)
        return mu, logvar

    def decoder_output(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Parameters of ``p(x | z)``: Bernoulli logits or the Gaussian mean."""
        cond = self.condition(labels, len(z))
        return self.decoder(z if cond is None else torch.cat([z, cond.to(z.dtype)], dim=1))

    def mean_image(self, params: Tensor) -> Tensor:
        """``E[x | z]`` in the data's range."""
        return torch.sigmoid(params) if self.likelihood == "bernoulli" else params

    def log_likelihood(self, params: Tensor, x: Tensor) -> Tensor:
        """``log p(x | z)`` per sample (nats)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(params, x)
        return gaussian_log_likelihood(params, x, self.log_std)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        """``z = mu + sigma * eps``, ``eps ~ N(0, I)`` (Kingma & Welling, section 2.4)."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.reconstruct(x, labels)

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """``E[x | z = mu(x)]``: the decoded posterior mean."""
        mu, _ = self.encode(x, labels)
        return self.mean_image(self.decoder_output(mu, labels))

    def sample(
        self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``E[x | z]`` for ``z ~ N(0, I)``: ``n`` images in the data's range."""
        z = self.latent_noise(n, self.latent_dim, generator)
        return self.mean_image(self.decoder_output(z, labels))

    # -- the objective ---------------------------------------------------------------------
    def elbo_terms(self, x: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Per-image ``recon`` (= -log p(x|z), one z), ``kl`` and ``elbo`` (nats), shape (N,)."""
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar)
        recon = -self.log_likelihood(self.decoder_output(z, labels), x)
        kl = gaussian_kl(mu, logvar)
        return {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    def _step(self, batch, stage: str) -> Tensor:
        x, labels = batch
        terms = {k: v.mean() for k, v in self.elbo_terms(x, labels).items()}
        loss = terms["recon"] + self.beta * terms["kl"]
        metrics = {f"{stage}/{k}": v for k, v in terms.items()}
        metrics[f"{stage}/loss"] = loss
        if stage == "train":
            self.log_step_metrics(metrics, prog_bar=["train/loss"])
        else:
            self.log_epoch_metrics(metrics, len(x))
        return loss

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    @torch.no_grad()
    def importance_weighted_nll(self, x: Tensor, labels: Tensor | None = None, k: int | None = None, chunk: int = 50) -> Tensor:
        """``-log p(x)`` per image estimated with ``k`` importance samples (Burda et al., eq. 8);
        never below the true NLL in expectation, and tighter than ``-elbo`` as ``k`` grows."""
        k = k or self.iw_samples
        mu, logvar = self.encode(x, labels)
        log_weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            z = mu.unsqueeze(0) + torch.exp(0.5 * logvar).unsqueeze(0) * torch.randn(m, *mu.shape, device=mu.device, dtype=mu.dtype)
            flat_z = z.reshape(m * len(x), -1)
            repeat = (m,) + (1,) * (x.ndim - 1)
            rep_labels = None if labels is None else labels.repeat(m)
            log_px_z = self.log_likelihood(self.decoder_output(flat_z, rep_labels), x.repeat(*repeat)).view(m, len(x))
            log_pz = gaussian_log_density(z)
            log_qz = gaussian_log_density(z, mu.unsqueeze(0), logvar.unsqueeze(0))
            log_weights.append(log_px_z + log_pz - log_qz)
        log_w = torch.cat(log_weights)
        return -(torch.logsumexp(log_w, dim=0) - math.log(k))

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")
        x, labels = batch
        self.log_epoch_metrics({"test/nll_iw": self.importance_weighted_nll(x, labels).mean()}, len(x))
        self.log("test/iw_samples", float(self.iw_samples), on_epoch=True, reduce_fx="max", sync_dist=True)

    def predict_step(self, batch, batch_idx: int) -> Tensor:
        return self.reconstruct(*batch)

    def configure_optimizers(self):
        return configure_single_optimizer(self, self.optimizer_factory, self.lr_scheduler_factory)


class ConditionalVAE(VAE):
    """VAE with encoder ``q(z | x, y)`` and decoder ``p(x | z, y)`` conditioned on the one-hot
    label ``y`` (Sohn et al., 2015); sampling takes the labels to generate.

    Args:
        num_classes: number of labels (linked from the data module).
        **other**: as :class:`VAE`.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_classes: int = 10,
        latent_dim: int = 16,
        architecture: Literal["mlp", "conv"] = "mlp",
        hidden: Sequence[int] = (512, 256),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        likelihood: Literal["bernoulli", "gaussian"] = "gaussian",
        obs_std: float | None = None,
        beta: float = 1.0,
        iw_samples: int = 100,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        if num_classes < 2:
            raise ConfigurationError(f"a conditional model needs num_classes >= 2, got {num_classes}")
        super().__init__(
            data_shape, value_range, latent_dim, architecture, hidden, channels, upsample,
            activation, likelihood, obs_std, beta, iw_samples, optimizer, lr_scheduler,
        )

    def _condition_classes(self) -> int:
        # Called from VAE.__init__, whose save_hyperparameters() collected this class's args.
        return int(self.hparams.num_classes)

    def condition(self, labels: Tensor | None, n: int) -> Tensor:
        if labels is None:
            raise ConfigurationError("ConditionalVAE needs labels: pass labels=... (N,) integers")
        if labels.ndim != 1 or len(labels) != n:
            raise ConfigurationError(
                f"labels must be a vector of {n} class indices, got shape {tuple(labels.shape)}"
            )
        return F.one_hot(labels.long(), self.num_classes).float()

    def sample(
        self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` images; ``labels`` default to ``0, 1, ..., num_classes - 1, 0, 1, ...``."""
        if labels is None:
            labels = torch.arange(n, device=self.device) % self.num_classes
        return super().sample(n, labels.to(self.device), generator)
