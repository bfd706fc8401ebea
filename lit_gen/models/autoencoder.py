"""Deterministic autoencoders of the course material.

* ``AutoEncoder``: ``min ||x - g(f(x))||_2^2`` (Hinton & Salakhutdinov, 2006, Science 313:504),
  with MLP, convolutional or **linear** encoder/decoder. The linear autoencoder's optimum spans
  the principal subspace: Baldi & Hornik (1989), Neural Networks 2:53, and the course's
  ``sum_i ||x_i - W_2^T W_1 x_i||^2`` (eq. 1).
* ``DenoisingAutoEncoder``: ``min ||x - g(f(x~))||^2`` with ``x~ ~ q(x~ | x)`` Gaussian, masking
  or salt-and-pepper corruption (Vincent et al., 2010, JMLR 11:3371, section 4.2).
* ``SparseAutoEncoder``: reconstruction plus ``lambda * sum_k |z_k|`` (L1), or ``beta * sum_j
  KL(rho || rho_hat_j)`` (Ng, 2011, CS294A notes, section 3), or k-sparse codes keeping the k
  largest units (Makhzani & Frey, 2014, arXiv:1312.5663, Algorithm 1).
* ``ContractiveAutoEncoder``: reconstruction plus ``lambda * ||J_f(x)||_F^2`` (Rifai et al., 2011,
  ICML, eq. (2)), computed exactly with autograd.

The reconstruction term is the per-image sum of squared errors (the course's ``||y - x||_2^2``),
averaged over the batch; regularization weights are in the same units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics.image import PeakSignalNoiseRatio

from lit_gen.errors import ConfigurationError
from lit_gen.losses.autoencoding import (
    jacobian_frobenius_sq,
    k_sparse,
    kl_sparsity,
    l1_sparsity,
    squared_error,
)
from lit_gen.models.base import GenerativeModule, configure_single_optimizer
from lit_gen.nets.autoencoder import Architecture, build_encoder_decoder
from lit_gen.nets.layers import activation as make_activation


class AutoEncoder(GenerativeModule):
    """An autoencoder ``x -> z = f(x) -> g(z)`` trained on ``||x - g(f(x))||_2^2``.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked from the data module).
        latent_dim: code size ``d``.
        architecture: ``mlp``, ``conv`` or ``linear`` (no non-linearity: the PCA autoencoder).
        hidden: MLP hidden widths, input side first (mirrored in the decoder).
        channels: conv widths, input side first (mirrored in the decoder).
        upsample: conv decoder upsampling, ``transpose`` or ``interpolate``.
        activation: hidden activation.
        code_activation: activation applied to the code (``none``: a linear code).
        output_activation: decoder output (``auto``: tanh/sigmoid by value range; ``none`` for
            the linear architecture).
        optimizer: optimizer factory, e.g. ``torch.optim.Adam`` (lr 1e-3).
        lr_scheduler: optional scheduler factory, stepped every epoch.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        latent_dim: int = 16,
        architecture: Architecture = "mlp",
        hidden: Sequence[int] = (256, 128),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        code_activation: str = "none",
        output_activation: str = "auto",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        if latent_dim < 1:
            raise ConfigurationError(f"latent_dim must be >= 1, got {latent_dim}")
        self.encoder, self.decoder = build_encoder_decoder(
            architecture, self.data_shape, self.value_range, latent_dim, latent_dim, hidden,
            channels, upsample, activation, output_activation,
        )
        self.code_activation = make_activation(code_activation)
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        span = self.value_range[1] - self.value_range[0]
        self.val_psnr = PeakSignalNoiseRatio(data_range=span)
        self.test_psnr = PeakSignalNoiseRatio(data_range=span)

    # -- the model -------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """The code ``z = f(x)``, ``(N, latent_dim)``."""
        return self.code_activation(self.encoder(x))

    def decode(self, z: Tensor) -> Tensor:
        """The reconstruction ``g(z)`` in the data's shape and range."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: Tensor) -> Tensor:
        """``g(f(x))`` for clean inputs."""
        return self(x)

    # -- the objective ---------------------------------------------------------------------
    def loss_terms(self, x: Tensor, stage: str) -> dict[str, Tensor]:
        """Batch means of the objective's terms; ``loss`` is what is minimized. Subclasses add
        their corruption or regularizer here."""
        recon = self(x)
        error = squared_error(recon, x).mean()
        return {"loss": error, "recon": error}

    def _log_terms(self, stage: str, terms: dict[str, Tensor], batch_size: int = 0) -> None:
        metrics = {f"{stage}/{k}": v for k, v in terms.items()}
        if stage == "train":
            self.log_step_metrics(metrics, prog_bar=["train/loss"])
        else:
            self.log_epoch_metrics(metrics, batch_size, prog_bar=[f"{stage}/loss"])

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, _ = batch
        terms = self.loss_terms(x, "train")
        self._log_terms("train", terms)
        return terms["loss"]

    def _evaluate(self, batch, stage: str, psnr: PeakSignalNoiseRatio) -> None:
        x, _ = batch
        terms = self.loss_terms(x, stage)
        self._log_terms(stage, terms, len(x))
        psnr(self.reconstruct(x), x)
        self.log(f"{stage}/psnr", psnr, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_psnr)

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_psnr)

    def predict_step(self, batch, batch_idx: int) -> Tensor:
        return self.reconstruct(batch[0])

    def configure_optimizers(self):
        return configure_single_optimizer(self, self.optimizer_factory, self.lr_scheduler_factory)


class DenoisingAutoEncoder(AutoEncoder):
    """Reconstruct the clean ``x`` from a corrupted ``x~ ~ q(x~ | x)`` (Vincent et al., 2010).

    Corruptions (section 4.2 of the paper), with ``noise_level`` its parameter:
    ``gaussian``: ``x~ = x + sigma * eps``; ``masking``: each pixel is set to the range's low
    value (black) with probability ``nu``; ``salt_pepper``: each pixel is set to the low or the
    high value (1/2 each) with probability ``nu``.

    Args:
        noise: ``gaussian``, ``masking`` or ``salt_pepper``.
        noise_level: ``sigma`` (in data units) or ``nu`` (a probability).
        **other**: as :class:`AutoEncoder`.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        noise: Literal["gaussian", "masking", "salt_pepper"] = "gaussian",
        noise_level: float = 0.5,
        latent_dim: int = 16,
        architecture: Architecture = "mlp",
        hidden: Sequence[int] = (256, 128),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        code_activation: str = "none",
        output_activation: str = "auto",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(
            data_shape, value_range, latent_dim, architecture, hidden, channels, upsample,
            activation, code_activation, output_activation, optimizer, lr_scheduler,
        )
        if noise not in ("gaussian", "masking", "salt_pepper"):
            raise ConfigurationError(f"noise must be gaussian, masking or salt_pepper, got {noise!r}")
        if noise_level < 0 or (noise != "gaussian" and noise_level > 1):
            raise ConfigurationError(
                f"noise_level must be >= 0 (and a probability <= 1 for {noise}), got {noise_level}"
            )
        self.noise = noise
        self.noise_level = noise_level

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A draw of ``x~ ~ q(x~ | x)``."""
        low, high = self.value_range

        def rand(like: Tensor, normal: bool = False) -> Tensor:
            device = generator.device if generator is not None else like.device
            draw = torch.randn if normal else torch.rand
            return draw(like.shape, generator=generator, device=device, dtype=like.dtype).to(like.device)

        if self.noise == "gaussian":
            return x + self.noise_level * rand(x, normal=True)
        hit = rand(x) < self.noise_level
        if self.noise == "masking":
            return torch.where(hit, torch.full_like(x, low), x)
        salt = rand(x) < 0.5
        return torch.where(hit, torch.where(salt, torch.full_like(x, high), torch.full_like(x, low)), x)

    def denoise(self, corrupted: Tensor) -> Tensor:
        """``g(f(x~))``: the estimate of the clean image."""
        return self(corrupted)

    def loss_terms(self, x: Tensor, stage: str) -> dict[str, Tensor]:
        recon = self(self.corrupt(x))
        error = squared_error(recon, x).mean()
        return {"loss": error, "recon": error}

    def extra_images(self, x: Tensor, labels: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Rows: corrupted input, its denoising, the clean image."""
        corrupted = self.corrupt(x, generator)
        return {"denoising": torch.cat([corrupted, self.denoise(corrupted), x])}


class SparseAutoEncoder(AutoEncoder):
    """An (often overcomplete) autoencoder with a sparse code.

    ``sparsity``:
      * ``l1``: loss ``+ sparsity_weight * sum_k |z_k|`` (code activation ``relu`` by default);
      * ``kl``: loss ``+ sparsity_weight * sum_j KL(rho || rho_hat_j)``, ``rho_hat_j`` the mean
        activation of unit j over the batch (needs a ``sigmoid`` code, the default);
      * ``topk``: only the ``k`` largest code units are kept, no penalty (linear code by
        default); encoding for evaluation keeps ``k_eval`` units (Makhzani & Frey use
        ``alpha * k`` with ``alpha >= 1``).

    Args:
        sparsity: ``l1``, ``kl`` or ``topk``.
        sparsity_weight: ``lambda`` (L1) or ``beta`` (KL).
        rho: target mean activation for ``kl``.
        k: units kept per code for ``topk``.
        k_eval: units kept when not training (default ``k``).
        code_activation: ``auto`` picks relu / sigmoid / none for l1 / kl / topk.
        **other**: as :class:`AutoEncoder` (``latent_dim`` defaults to an overcomplete 128).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        sparsity: Literal["l1", "kl", "topk"] = "l1",
        sparsity_weight: float = 0.1,
        rho: float = 0.05,
        k: int = 10,
        k_eval: int | None = None,
        latent_dim: int = 128,
        architecture: Architecture = "mlp",
        hidden: Sequence[int] = (256,),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        code_activation: str = "auto",
        output_activation: str = "auto",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        defaults = {"l1": "relu", "kl": "sigmoid", "topk": "none"}
        if sparsity not in defaults:
            raise ConfigurationError(f"sparsity must be l1, kl or topk, got {sparsity!r}")
        if code_activation == "auto":
            code_activation = defaults[sparsity]
        if sparsity == "kl" and code_activation != "sigmoid":
            raise ConfigurationError(
                "KL sparsity compares mean activations with rho in (0, 1): it needs "
                f"code_activation='sigmoid', got {code_activation!r}"
            )
        if sparsity == "kl" and not 0 < rho < 1:
            raise ConfigurationError(f"rho must be in (0, 1), got {rho}")
        if sparsity == "topk" and not (0 < k <= latent_dim and 0 < (k_eval or k) <= latent_dim):
            raise ConfigurationError(f"k and k_eval must be in [1, latent_dim={latent_dim}], got {k}, {k_eval}")
        super().__init__(
            data_shape, value_range, latent_dim, architecture, hidden, channels, upsample,
            activation, code_activation, output_activation, optimizer, lr_scheduler,
        )
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.rho = rho
        self.k = k
        self.k_eval = k_eval or k

    def encode(self, x: Tensor) -> Tensor:
        code = super().encode(x)
        if self.sparsity == "topk":
            code = k_sparse(code, self.k if self.training else self.k_eval)
        return code

    def loss_terms(self, x: Tensor, stage: str) -> dict[str, Tensor]:
        code = self.encode(x)
        recon = self.decode(code)
        error = squared_error(recon, x).mean()
        terms = {"recon": error}
        if self.sparsity == "l1":
            terms["sparsity"] = l1_sparsity(code).mean()
        elif self.sparsity == "kl":
            terms["sparsity"] = kl_sparsity(code, self.rho)
        else:
            terms["sparsity"] = torch.zeros((), device=x.device)
        terms["loss"] = error + self.sparsity_weight * terms["sparsity"]
        terms["active_fraction"] = (code.abs() > 1e-6).float().mean()
        return terms


class ContractiveAutoEncoder(AutoEncoder):
    """Reconstruction plus ``contractive_weight * ||J_f(x)||_F^2`` (Rifai et al., 2011).

    The Frobenius norm of the encoder's Jacobian is computed exactly, by one vector-Jacobian
    product per code unit (``latent_dim`` backward passes): exact for any encoder, with no
    finite-difference or stochastic estimate. The code is a sigmoid layer, as in the paper.

    Args:
        contractive_weight: ``lambda``.
        **other**: as :class:`AutoEncoder`.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        contractive_weight: float = 0.1,
        latent_dim: int = 16,
        architecture: Architecture = "mlp",
        hidden: Sequence[int] = (256,),
        channels: Sequence[int] = (32, 64),
        upsample: Literal["transpose", "interpolate"] = "transpose",
        activation: str = "relu",
        code_activation: str = "sigmoid",
        output_activation: str = "auto",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(
            data_shape, value_range, latent_dim, architecture, hidden, channels, upsample,
            activation, code_activation, output_activation, optimizer, lr_scheduler,
        )
        self.contractive_weight = contractive_weight

    def loss_terms(self, x: Tensor, stage: str) -> dict[str, Tensor]:
        # Validation runs under inference mode; the penalty needs autograd on x.
        with torch.inference_mode(False), torch.enable_grad():
            inputs = x.clone().requires_grad_(True)
            code = self.encode(inputs)
            penalty = jacobian_frobenius_sq(code, inputs, create_graph=stage == "train").mean()
        recon = self.decode(code if stage == "train" else code.detach())
        error = squared_error(recon, x).mean()
        loss = error + self.contractive_weight * penalty
        return {"loss": loss, "recon": error, "contractive": penalty}
