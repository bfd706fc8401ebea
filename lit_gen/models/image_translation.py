"""Training pieces shared by :class:`~lit_gen.models.Pix2Pix` and :class:`~lit_gen.models.CycleGAN`,
both as in the official code (github.com/junyanz/pytorch-CycleGAN-and-pix2pix):

* Adam(lr = 2e-4, betas = (0.5, 0.999)) for every network (Isola et al., 2017, sec. 3.3;
  Zhu et al., 2017, sec. 4);
* the learning rate kept constant for ``n_epochs`` epochs and then decayed linearly towards zero
  over ``n_epochs_decay`` epochs (100 + 100 in CycleGAN's sec. 4; the official ``linear`` policy,
  stepped once per epoch; :class:`LinearDecay`);
* pix2pix's inference protocol (sec. 3.3): "we apply dropout at test time, and we apply batch
  normalization using the statistics of the test batch" (:func:`batch_statistics_mode`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from lit_gen.errors import ConfigurationError

#: The papers' optimizer settings.
PAPER_LR = 2e-4
PAPER_BETAS = (0.5, 0.999)


def paper_adam(params: Iterable) -> torch.optim.Optimizer:
    """``Adam(params, lr=2e-4, betas=(0.5, 0.999))``."""
    return torch.optim.Adam(params, lr=PAPER_LR, betas=PAPER_BETAS)


class LinearDecay:
    """Learning-rate factor of (0-based) epoch ``e``: constant, then linear towards zero,

        factor(e) = 1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1),

    the official ``lambda_rule`` (``models/networks.py``, ``epoch_count = 1``) with the
    scheduler stepped at the end of each epoch: epochs ``0 .. n_epochs - 1`` run at the base
    rate, epoch ``n_epochs + k`` at ``(n_epochs_decay - k) / (n_epochs_decay + 1)`` of it, the
    last of the ``n_epochs + n_epochs_decay`` epochs at ``1 / (n_epochs_decay + 1)``; later
    epochs stay at 0. A class, not a lambda, so it pickles into checkpoints.
    """

    def __init__(self, n_epochs: int, n_epochs_decay: int):
        if n_epochs < 0 or n_epochs_decay < 0:
            raise ConfigurationError(
                f"n_epochs and n_epochs_decay must be >= 0, got {n_epochs} and {n_epochs_decay}"
            )
        self.n_epochs = n_epochs
        self.n_epochs_decay = n_epochs_decay

    def __call__(self, epoch: int) -> float:
        return max(0.0, 1.0 - max(0, epoch + 1 - self.n_epochs) / (self.n_epochs_decay + 1))


def linear_decay_schedulers(
    optimizers: Iterable[torch.optim.Optimizer], n_epochs: int, n_epochs_decay: int
) -> list[torch.optim.lr_scheduler.LambdaLR]:
    """One :class:`LinearDecay` ``LambdaLR`` per optimizer (returned from
    ``configure_optimizers``, so Lightning saves and restores them; the module steps them in
    ``on_train_epoch_end`` since it optimizes manually)."""
    return [
        torch.optim.lr_scheduler.LambdaLR(opt, LinearDecay(n_epochs, n_epochs_decay))
        for opt in optimizers
    ]


class LinearDecayTraining:
    """Mixin of the translation modules: steps the :func:`linear_decay_schedulers` once per
    epoch (manual optimization: Lightning does not), and warns at the start of ``fit`` when
    ``trainer.max_epochs`` differs from the schedule's ``n_epochs + n_epochs_decay`` (saved in
    ``hparams``), since the rate would then not end at zero."""

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def on_fit_start(self) -> None:
        super().on_fit_start()
        total = self.hparams.n_epochs + self.hparams.n_epochs_decay
        if self.trainer.max_epochs not in (None, -1, total):
            rank_zero_warn(
                f"the learning rate decays to zero over n_epochs + n_epochs_decay = {total} epochs "
                f"but trainer.max_epochs = {self.trainer.max_epochs}"
            )


@contextmanager
def batch_statistics_mode(net: nn.Module) -> Iterator[nn.Module]:
    """Run ``net`` as during training - dropout active, batch norm normalizing with the current
    batch's statistics - without changing its state: running statistics are left untouched
    (momentum 0 while inside) and the train/eval flags are restored afterwards."""
    modes = {m: m.training for m in net.modules()}
    saved = []
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            counter = m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None
            saved.append((m, m.momentum, counter))
            m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    net.train()
    try:
        yield net
    finally:
        for m, momentum, counter in saved:
            m.momentum = momentum
            if counter is not None:
                m.num_batches_tracked.copy_(counter)
        for m, training in modes.items():
            m.training = training
