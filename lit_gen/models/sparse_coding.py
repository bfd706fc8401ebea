"""Sparse coding (Olshausen & Field, 1996, "Emergence of simple-cell receptive field properties by
learning a sparse code for natural images", Nature 381:607), in the course's formulation:

    min_{W, a}  sum_n ||x_n - sum_k a_{n,k} W_k||_2^2 + lambda * sum_k |a_{n,k}|

learned by alternating minimization, as in the paper: for each batch the codes are inferred with
the dictionary fixed (a Lasso, solved by ISTA or FISTA, :mod:`lit_gen.losses.sparse_coding`),
then the dictionary takes one gradient step on the reconstruction error with the codes fixed
(any torch optimizer; SGD by default), and every atom is rescaled to unit norm, so that the L1
penalty cannot be evaded by growing the atoms and shrinking the codes (Olshausen & Field keep
the atoms' norms in check for the same reason).

The learned atoms are written as an image grid (``images/atoms_epoch*.png``) by
:class:`~lit_gen.callbacks.ImageGrids`. Reported: ``objective`` (per image), ``recon`` (squared
error per image), ``l1`` (``||a||_1`` per image), ``active`` (fraction of non-zero codes), and
``val/psnr`` of the reconstructions ``a W``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics.image import PeakSignalNoiseRatio

from lit_gen.errors import ConfigurationError
from lit_gen.losses.sparse_coding import fista, ista, sparse_coding_objective
from lit_gen.models.base import GenerativeModule, configure_single_optimizer


class SparseCoding(GenerativeModule):
    """A dictionary of ``num_atoms`` unit-norm atoms and sparse codes inferred per image.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked). Sparse coding assumes a zero background, so use
            ``[0, 1]`` for digits.
        num_atoms: ``K`` (more than the pixel count gives an overcomplete dictionary).
        sparsity_weight: ``lambda``.
        inference: ``fista`` (monotone FISTA) or ``ista``.
        n_iter: inference iterations per batch.
        optimizer: dictionary optimizer (``None``: SGD with lr 0.05).
        lr_scheduler: optional scheduler, stepped every epoch.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (0.0, 1.0),
        num_atoms: int = 64,
        sparsity_weight: float = 0.1,
        inference: Literal["fista", "ista"] = "fista",
        n_iter: int = 100,
        optimizer: OptimizerCallable | None = None,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        if num_atoms < 1 or n_iter < 1 or sparsity_weight < 0:
            raise ConfigurationError(
                f"need num_atoms >= 1, n_iter >= 1 and sparsity_weight >= 0, got {num_atoms}, {n_iter}, {sparsity_weight}"
            )
        if inference not in ("fista", "ista"):
            raise ConfigurationError(f"inference must be 'fista' or 'ista', got {inference!r}")
        self.sparsity_weight = sparsity_weight
        self.inference = inference
        self.n_iter = n_iter
        self.dictionary = nn.Parameter(torch.randn(num_atoms, math.prod(self.data_shape)))
        self.normalize_atoms_()
        self.optimizer_factory = optimizer or (lambda params: torch.optim.SGD(params, lr=0.05))
        self.lr_scheduler_factory = lr_scheduler
        self.val_psnr = PeakSignalNoiseRatio(data_range=self.value_range[1] - self.value_range[0])

    @torch.no_grad()
    def normalize_atoms_(self) -> None:
        """Rescale every atom ``W_k`` to unit L2 norm (in place)."""
        self.dictionary.div_(self.dictionary.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def encode(self, x: Tensor) -> Tensor:
        """Sparse codes ``a`` ``(N, K)`` of images ``x`` for the current dictionary."""
        solver = fista if self.inference == "fista" else ista
        return solver(x.flatten(1), self.dictionary.detach(), self.sparsity_weight, self.n_iter)

    def decode(self, codes: Tensor) -> Tensor:
        """``sum_k a_k W_k`` as images."""
        return (codes @ self.dictionary).view(len(codes), *self.data_shape)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def atoms(self) -> Tensor:
        """The atoms as images in the data's range, each scaled by its largest absolute value so
        that 0 is mid-range: ``(K, *data_shape)``."""
        atoms = self.dictionary.detach()
        atoms = atoms / atoms.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)  # [-1, 1]
        low, high = self.value_range
        return (low + (atoms + 1) / 2 * (high - low)).view(-1, *self.data_shape)

    def extra_images(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The dictionary as an image grid (for :class:`~lit_gen.callbacks.ImageGrids`)."""
        return {"atoms": self.atoms()} if len(self.data_shape) == 3 else {}

    def terms(self, x: Tensor) -> dict[str, Tensor]:
        """The objective and its parts (batch means) with codes inferred for ``x``; ``objective``
        carries the gradient with respect to the dictionary."""
        flat = x.flatten(1)
        codes = self.encode(x)
        objective = sparse_coding_objective(flat, codes, self.dictionary, self.sparsity_weight).mean()
        l1 = codes.abs().sum(1).mean()
        return {
            "objective": objective,
            "recon": objective.detach() - self.sparsity_weight * l1,
            "l1": l1,
            "active": (codes != 0).float().mean(),
        }

    def training_step(self, batch, batch_idx: int) -> Tensor:
        terms = self.terms(batch[0])
        self.log_step_metrics({f"train/{k}": v for k, v in terms.items()}, prog_bar=["train/objective"])
        return terms["objective"]

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.normalize_atoms_()  # after the dictionary step: back onto the unit sphere

    def _evaluate(self, batch, stage: str) -> None:
        x = batch[0]
        terms = self.terms(x)
        self.log_dict({f"{stage}/{k}": v.detach() for k, v in terms.items()}, on_epoch=True, sync_dist=True)
        if stage == "val":
            self.val_psnr(self.reconstruct(x), x)
            self.log("val/psnr", self.val_psnr, on_epoch=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self):
        return configure_single_optimizer(self, self.optimizer_factory, self.lr_scheduler_factory)
