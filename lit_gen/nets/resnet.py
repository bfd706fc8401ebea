"""The ResNet generator and discriminator of WGAN-GP and SN-GAN for CIFAR-10.

Gulrajani et al. (2017), arXiv:1704.00028, appendix F (``gan_cifar_resnet.py``) and Miyato et
al. (2018), arXiv:1802.05957, appendix B.4, Table 4:

* generator: ``z -> linear -> 4x4 x ch -> 3 x ResBlock(up) -> BN, ReLU, conv3x3 -> tanh``;
  a block is ``BN, ReLU, upsample x2 (nearest), conv3x3, BN, ReLU, conv3x3`` plus a shortcut
  ``upsample, conv1x1``. SN-GAN uses ``ch = 256``, WGAN-GP 128.
* discriminator: ``ResBlock(down, optimized first block) -> ResBlock(down) -> ResBlock ->
  ResBlock -> ReLU -> global sum pooling -> linear`` with 128 channels; a block is ``ReLU,
  conv3x3, ReLU, conv3x3, avgpool 2x2`` plus a shortcut ``conv1x1, avgpool`` (identity when the
  shape does not change). The first block applies no ReLU to the image and pools its shortcut
  before the 1x1 convolution. No normalization, optionally spectral normalization everywhere
  (SN-GAN). WGAN-GP averages instead of summing over positions (``pooling="mean"``).

Depths follow the image size: ``log2(S) - 2`` up-blocks in the generator (3 at 32x32) and
``max(1, log2(S) - 3)`` down-blocks in the discriminator (2 at 32x32), so 8x8 and 16x16 digits
also work. Weights use Xavier-uniform initialization (gain sqrt(2) in residual branches, 1
elsewhere), as in SN-GAN's code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn
from torch.nn import functional as F

from lit_gen.errors import ConfigurationError
from lit_gen.nets.dcgan import pyramid_depth
from lit_gen.nets.layers import activation, apply_spectral_norm


def _conv(c_in: int, c_out: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


class GeneratorBlock(nn.Module):
    """Residual up-block: ``BN, ReLU, up x2, conv3x3, BN, ReLU, conv3x3`` + ``up, conv1x1``."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DiscriminatorBlock(nn.Module):
    """Residual block: ``ReLU, conv3x3, ReLU, conv3x3[, avgpool]`` + ``[conv1x1][, avgpool]``;
    ``first`` is the "optimized" block on the image (no leading ReLU, shortcut pooled first)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0) if (down or c_in != c_out) else None
        self.down = down
        self.first = first

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.shortcut(F.avg_pool2d(s, 2))
        elif self.shortcut is not None:
            s = self.shortcut(s)
            if self.down:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    """``z (N, latent_dim) -> image (N, C, S, S)`` with residual up-blocks.

    Args:
        latent_dim: size of ``z`` (given by the GAN module; 128 in both papers).
        data_shape: ``(C, S, S)``, ``S`` a power of two >= 8 (given by the module).
        channels: channels of every block (SN-GAN 256, WGAN-GP 128).
        out_act: output activation (``tanh`` for data in [-1, 1]).
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        channels: int = 256,
        out_act: str = "tanh",
    ):
        super().__init__()
        depth = pyramid_depth(data_shape, "ResNetGenerator")
        self.channels = channels
        self.head = nn.Linear(latent_dim, 4 * 4 * channels)
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.blocks = nn.Sequential(*[GeneratorBlock(channels, channels) for _ in range(depth)])
        self.out = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            _conv(channels, data_shape[0], 3, 1.0),
            activation(out_act),
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.head(z).view(len(z), self.channels, 4, 4)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    """``image (N, C, S, S) -> score (N,)`` with residual blocks.

    Args:
        data_shape: ``(C, S, S)``, ``S`` a power of two >= 8 (given by the GAN module).
        channels: channels of every block (128 in both papers).
        spectral_norm: spectral normalization of every convolution and the linear layer
            (SN-GAN).
        pooling: ``sum`` (SN-GAN) or ``mean`` (WGAN-GP) over positions before the linear layer.
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        channels: int = 128,
        spectral_norm: bool = False,
        pooling: Literal["sum", "mean"] = "sum",
    ):
        super().__init__()
        if pooling not in ("sum", "mean"):
            raise ConfigurationError(f"pooling must be 'sum' or 'mean', got {pooling!r}")
        downs = max(1, pyramid_depth(data_shape, "ResNetDiscriminator") - 1)
        blocks = [DiscriminatorBlock(data_shape[0], channels, down=True, first=True)]
        blocks += [DiscriminatorBlock(channels, channels, down=True) for _ in range(downs - 1)]
        blocks += [DiscriminatorBlock(channels, channels, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, 1)
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.pooling = pooling
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.blocks(x))
        h = h.sum(dim=(2, 3)) if self.pooling == "sum" else h.mean(dim=(2, 3))
        return self.head(h).squeeze(1)
