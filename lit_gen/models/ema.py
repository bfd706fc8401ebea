"""Exponential moving averages of generator weights, shared by the GAN family and CycleGAN.

The average is ``torch.optim.swa_utils.AveragedModel`` (Yazici et al., 2019, "The Unusual
Effectiveness of Averaging in GAN Training", arXiv:1806.04498) with a ramp-up of its half-life as
in StyleGAN2-ADA (Karras et al., 2020, arXiv:2006.06676, ``ema_rampup`` of the official training
loop): the update made after ``t`` earlier updates uses the decay of half-life
``min(h, rampup * t)`` steps, ``h = ln 0.5 / ln beta`` being the half-life of the target decay
``beta``, i.e. ``min(beta, 0.5 ** (1 / (rampup * t)))``. Without it ``AveragedModel``'s first update
(a copy of the near-random initial network) keeps the weight ``beta ** (T - 1)`` after ``T``
updates (9% for 0.999 after 2,400 updates).
"""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lit_gen.errors import ConfigurationError


def check_ema(decay: float | None, rampup: float | None) -> None:
    """Refuse a decay outside (0, 1) and a ramp-up <= 0 (``None`` switches either off)."""
    if decay is not None and not 0 < decay < 1:
        raise ConfigurationError(f"ema_decay must be in (0, 1) (or null for no EMA), got {decay}")
    if rampup is not None and not rampup > 0:
        raise ConfigurationError(f"ema_rampup must be > 0 (or null for no ramp-up), got {rampup}")


def rampup_decay(decay: float, rampup: float | None, t: int) -> float:
    """The decay of the update made after ``t`` earlier updates: ``decay`` without ramp-up,
    else ``min(decay, 0.5 ** (1 / (rampup * t)))`` (0 for ``t = 0``: a copy)."""
    if rampup is None:
        return decay
    if t == 0:
        return 0.0  # half-life 0: a copy (AveragedModel's first update copies anyway)
    return min(decay, 0.5 ** (1.0 / (rampup * t)))


def averaged(net: nn.Module, decay: float) -> AveragedModel:
    """An EMA of ``net``'s parameters and buffers, without gradients."""
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    return ema.requires_grad_(False)


def update_averaged(ema: AveragedModel, net: nn.Module, decay: float, rampup: float | None, t: int) -> None:
    """Fold ``net`` into ``ema`` with :func:`rampup_decay` of ``t`` earlier updates."""
    if rampup is not None:
        ema.multi_avg_fn = get_ema_multi_avg_fn(rampup_decay(decay, rampup, t))
    ema.update_parameters(net)
