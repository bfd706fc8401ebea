"""DCGAN generator and discriminator (Radford, Metz & Chintala, 2016, arXiv:1511.06434).

Section 3's guidelines: strided convolutions instead of pooling, batch norm in both networks
(not on the generator's output nor the discriminator's input), ReLU in the generator with tanh
on the output, LeakyReLU (slope 0.2) in the discriminator, no fully connected hidden layers;
section 4: weights ~ N(0, 0.02).

The generator projects ``z`` to a 4x4 map (a 4x4 transposed convolution), then doubles the side
with 4x4 stride-2 transposed convolutions, halving the channels each time, up to the image size:
Figure 1's 64x64 network is ``base_channels = 128`` (1024 channels at 4x4). The discriminator
mirrors it: stride-2 4x4 convolutions down to 4x4, then a 4x4 convolution to one score. The
number of layers follows the image size (any power of two from 8: 8x8 and 16x16 digits, 32x32
CIFAR-10/MNIST, 64x64 as in the paper).

Options used by later papers: ``norm="layer"`` (layer norm in the critic, as WGAN-GP
recommends instead of batch norm, arXiv:1704.00028 section 4) or ``"none"``, and
``spectral_norm=True`` (SN-GAN, arXiv:1802.05957).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.layers import activation, apply_spectral_norm, init_normal_

Norm = Literal["batch", "layer", "none"]


def pyramid_depth(data_shape: Sequence[int], network: str) -> int:
    """Number of stride-2 layers between a 4x4 map and the image: ``log2(side) - 2``.

    Raises a :class:`ConfigurationError` unless the data are square images whose side is a
    power of two of at least 8.
    """
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigurationError(
            f"{network} needs square images (C, S, S), got data shape {tuple(data_shape)}; use "
            f"the MLP networks for other data"
        )
    side = int(data_shape[1])
    depth = int(round(math.log2(side))) - 2 if side > 0 else 0
    if side < 8 or 2 ** (depth + 2) != side:
        raise ConfigurationError(
            f"{network} needs an image side that is a power of two >= 8 (8, 16, 32, 64, ...), got "
            f"{side}; set data.init_args.image_size (e.g. 32 for MNIST)"
        )
    return depth


def norm_layer(norm: Norm, channels: int) -> nn.Module:
    """Batch norm, layer norm over (C, H, W) with per-channel affine (GroupNorm with one group),
    or nothing."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "none":
        return nn.Identity()
    raise ConfigurationError(f"norm must be 'batch', 'layer' or 'none', got {norm!r}")


class DCGANGenerator(nn.Module):
    """``z (N, latent_dim) -> image (N, C, S, S)``.

    Args:
        latent_dim: size of ``z`` (given by the GAN module).
        data_shape: ``(C, S, S)`` with ``S`` a power of two >= 8 (given by the module).
        base_channels: channels of the last hidden layer; the 4x4 map has
            ``base_channels * S / 8`` channels (64 at 64x64 gives 512; the paper's figure 128).
        batch_norm: batch norm after every layer but the output.
        out_act: output activation (``tanh`` for data in [-1, 1]).
        init_std: standard deviation of the N(0, std) initialization.
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        base_channels: int = 64,
        batch_norm: bool = True,
        out_act: str = "tanh",
        init_std: float = 0.02,
    ):
        super().__init__()
        depth = pyramid_depth(data_shape, "DCGANGenerator")
        widths = [base_channels * 2 ** (depth - 1 - i) for i in range(depth)]  # 4x4 map first
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=not batch_norm)
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                nn.BatchNorm2d(c_in) if batch_norm else nn.Identity(),
                nn.ReLU(),
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not batch_norm),
            ]
        layers += [
            nn.BatchNorm2d(widths[-1]) if batch_norm else nn.Identity(),
            nn.ReLU(),
            nn.ConvTranspose2d(widths[-1], data_shape[0], 4, 2, 1),
            activation(out_act),
        ]
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim
        init_normal_(self, init_std)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(len(z), self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """``image (N, C, S, S) -> score (N,)`` (a raw score: a logit for probabilistic objectives).

    Args:
        data_shape: ``(C, S, S)`` with ``S`` a power of two >= 8 (given by the GAN module).
        base_channels: channels of the first convolution, doubled at every halving.
        norm: ``batch`` (DCGAN), ``layer`` (WGAN-GP's critic) or ``none``; never on the first
            layer.
        spectral_norm: spectral normalization of every convolution (SN-GAN).
        init_std: standard deviation of the N(0, std) initialization.
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        base_channels: int = 64,
        norm: Norm = "batch",
        spectral_norm: bool = False,
        init_std: float = 0.02,
    ):
        super().__init__()
        depth = pyramid_depth(data_shape, "DCGANDiscriminator")
        widths = [base_channels * 2**i for i in range(depth)]
        layers: list[nn.Module] = [nn.Conv2d(data_shape[0], widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"),
                norm_layer(norm, c_out),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        init_normal_(self, init_std)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()
