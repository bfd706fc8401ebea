"""The PatchGAN discriminator (Isola et al., 2017, arXiv:1611.07004, sec. 3.2.2 and appendix
6.1.2; also CycleGAN's discriminator, Zhu et al., 2017, arXiv:1703.10593, appendix 7.2).

A fully convolutional classifier that scores every ``N x N`` patch of its input as real or fake;
the loss averages the scores. With ``n_layers = 3`` it is the paper's 70x70 PatchGAN
``C64-C128-C256-C512`` followed by a 1-channel convolution: 4x4 kernels, LeakyReLU(0.2), no norm
on C64, stride 2 except the last two convolutions (stride 1), as ``NLayerDiscriminator`` in the
official code (github.com/junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``). The
output is a map of raw scores: ``H / 2^n_layers - 2`` per side (30x30 for 256 px, n_layers = 3).
``n_layers`` 1, 3 and 5 give the paper's 16x16, 70x70 and 286x286 discriminators.
"""

from __future__ import annotations

from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.translation_layers import conv_bias, norm_layer


def patchgan_receptive_field(n_layers: int) -> int:
    """Side of the input patch that one output score sees: 70 for ``n_layers = 3``.

    ``n_layers`` stride-2 4x4 convolutions then two stride-1 4x4 convolutions; the field grows
    by ``(k - 1) * (product of earlier strides)`` per layer."""
    strides = [2] * n_layers + [1, 1]
    field, jump = 1, 1
    for stride in strides:
        field += 3 * jump
        jump *= stride
    return field


def patchgan_output_size(size: int, n_layers: int) -> int:
    """Side of the score map for a ``size`` input (0 or less: the image is too small)."""
    for _ in range(n_layers):
        size = size // 2  # 4x4, stride 2, padding 1
    return size - 2  # two 4x4, stride 1, padding 1 convolutions remove one pixel each


class PatchGANDiscriminator(nn.Module):
    """PatchGAN: one raw score per ``patchgan_receptive_field(n_layers)``-pixel patch.

    Args:
        in_channels: input channels (pix2pix: input + output image channels, concatenated).
        ndf: width of the first layer (64 in the papers).
        n_layers: stride-2 layers (3: the 70x70 PatchGAN).
        norm: ``batch`` (pix2pix), ``instance`` (CycleGAN) or ``none``.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if n_layers < 1:
            raise ConfigurationError(f"n_layers must be >= 1, got {n_layers}")
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = ndf
        for n in range(1, n_layers + 1):
            next_width = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last widening convolution keeps the size
            layers += [
                nn.Conv2d(width, next_width, 4, stride, 1, bias=bias),
                norm_layer(norm, next_width),
                nn.LeakyReLU(0.2),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))  # one score per patch
        self.model = nn.Sequential(*layers)
        self.n_layers = n_layers

    @property
    def receptive_field(self) -> int:
        return patchgan_receptive_field(self.n_layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def check_patchgan_size(size: int, n_layers: int) -> None:
    """Fail clearly when images are too small for ``n_layers``."""
    if patchgan_output_size(size, n_layers) < 1:
        smallest = 3 * 2**n_layers
        raise ConfigurationError(
            f"images of {size} px are too small for a PatchGAN with n_layers={n_layers} (needs "
            f">= {smallest} px); lower n_layers (1: 16x16 patches, 2: 34x34) or raise image_size"
        )
