"""Normalization and weight initialization shared by the image-to-image networks (U-Net,
PatchGAN, ResNet translation generator), as in the official pix2pix/CycleGAN code
(github.com/junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``).

* ``batch``: ``BatchNorm2d`` (affine, running statistics), pix2pix's choice (Isola et al., 2017,
  arXiv:1611.07004, sec. 6.1 "batch normalization").
* ``instance``: ``InstanceNorm2d`` without affine parameters or running statistics, CycleGAN's
  choice (Zhu et al., 2017, arXiv:1703.10593, sec. 4 and appendix 7.2, after Ulyanov et al.).
* ``none``: no normalization.

Convolutions carry a bias unless a batch norm follows them (the norm's shift makes it
redundant); the official code does the same for batch and instance norm.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from lit_gen.errors import ConfigurationError

Norm = Literal["batch", "instance", "none"]
NORMS = ("batch", "instance", "none")


def check_norm(kind: str) -> str:
    if kind not in NORMS:
        raise ConfigurationError(f"norm must be one of {', '.join(NORMS)}; got {kind!r}")
    return kind


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalization layer after a convolution with ``channels`` outputs."""
    check_norm(kind)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(kind: str) -> bool:
    """Whether a convolution followed by norm ``kind`` needs its own bias."""
    return check_norm(kind) != "batch"


def init_normal_(net: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialize in place as the official ``init_weights(net, 'normal', 0.02)``: convolution
    and linear weights ~ N(0, std), biases 0; batch-norm scales ~ N(1, std), shifts 0.
    (Radford et al., 2016, arXiv:1511.06434, sec. 4, introduced N(0, 0.02) for GANs.)"""
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)
    return net
