"""The pix2pix U-Net generator (Isola et al., 2017, "Image-to-Image Translation with Conditional
Adversarial Networks", arXiv:1611.07004, sec. 3.2.1 and appendix 6.1.1).

An encoder-decoder whose layer ``i`` of the decoder is concatenated with layer ``n - i`` of the
encoder (Ronneberger et al., 2015), so low-level structure (edges, layout) shuttles across the
bottleneck. At 256 px (``num_downs = 8``) this is the paper's

    encoder: C64-C128-C256-C512-C512-C512-C512-C512
    decoder: CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128  (widths after concatenation)

with 4x4 convolutions of stride 2, LeakyReLU(0.2) in the encoder, ReLU in the decoder, no norm
on the first encoder layer, and tanh at the output. Details follow the official code
(``UnetGenerator`` in github.com/junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``):
the innermost (bottleneck) convolution has no norm, and dropout(0.5) - pix2pix's only noise
source - sits in the decoder of the ``ngf * 8`` blocks between the innermost block and the
``ngf * 4 -> ngf * 8`` block (three of them at 256 px, two at 128 px, none below 64 px).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.layers import activation
from lit_gen.nets.translation_layers import conv_bias, norm_layer


def default_num_downs(size: int) -> int:
    """Halvings until the side is odd or 1: 8 for 256 px (the paper's ``unet_256``), 7 for 128,
    4 for 16; the bottleneck is then 1x1 for powers of two."""
    n = 0
    while size % 2 == 0 and size > 1:
        size //= 2
        n += 1
    return n


def unet_widths(ngf: int, num_downs: int) -> list[int]:
    """Output width of encoder layer ``i``: ``ngf * min(2^i, 8)``."""
    return [ngf * min(2**i, 8) for i in range(num_downs)]


class UNetGenerator(nn.Module):
    """U-Net generator.

    Args:
        in_channels: channels of the input image.
        out_channels: channels of the output image.
        ngf: width of the first encoder layer (64 in the paper).
        num_downs: stride-2 encoder layers; images must be divisible by ``2 ** num_downs``.
        norm: ``batch`` (paper), ``instance`` or ``none``.
        dropout: dropout(0.5) in the decoder of the deep ``ngf * 8`` blocks (paper: on).
        dropout_blocks: how many decoder blocks above the bottleneck get dropout. ``None``
            keeps the official rule (the ``ngf * 8`` blocks: ``max(num_downs - 5, 0)``); an
            integer applies it to that many blocks, e.g. for small images.
        output: output activation (``tanh`` for data in [-1, 1], ``sigmoid`` for [0, 1]).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        num_downs: int = 8,
        norm: str = "batch",
        dropout: bool = True,
        dropout_blocks: int | None = None,
        output: str = "tanh",
    ):
        super().__init__()
        if num_downs < 2:
            raise ConfigurationError(f"the U-Net needs num_downs >= 2, got {num_downs}")
        widths = unet_widths(ngf, num_downs)
        bias = conv_bias(norm)
        n = num_downs
        if dropout_blocks is None:
            dropout_blocks = max(n - 5, 0)
        if not 0 <= dropout_blocks <= n - 2:
            raise ConfigurationError(
                f"dropout_blocks must be between 0 and num_downs - 2 = {n - 2}, got {dropout_blocks}"
            )
        # Blocks n-2, n-3, ... directly above the bottleneck get dropout in their decoder.
        dropout_at = set(range(n - 1 - dropout_blocks, n - 1)) if dropout else set()
        self.dropout_at = sorted(dropout_at)

        self.downs = nn.ModuleList()
        for i in range(n):
            conv = nn.Conv2d(
                in_channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1, bias=bias
            )
            if i == 0:
                self.downs.append(conv)  # C64: no activation before it, no norm after it
            elif i == n - 1:
                self.downs.append(nn.Sequential(nn.LeakyReLU(0.2), conv))  # bottleneck: no norm
            else:
                self.downs.append(
                    nn.Sequential(nn.LeakyReLU(0.2), conv, norm_layer(norm, widths[i]))
                )

        self.ups = nn.ModuleList()
        for i in range(n):
            if i == 0:  # outermost: back to the image
                self.ups.append(
                    nn.Sequential(
                        nn.ReLU(),
                        nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1),
                        activation(output),
                    )
                )
                continue
            in_width = (
                widths[i] if i == n - 1 else 2 * widths[i]
            )  # skip concatenated above the bottleneck
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(in_width, widths[i - 1], 4, 2, 1, bias=bias),
                norm_layer(norm, widths[i - 1]),
            ]
            if i in dropout_at:
                layers.append(nn.Dropout(0.5))
            self.ups.append(nn.Sequential(*layers))
        self.num_downs = n

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 2**self.num_downs or x.shape[-2] % 2**self.num_downs:
            raise ConfigurationError(
                f"the U-Net with {self.num_downs} downsamplings needs image sides divisible by "
                f"{2**self.num_downs}; got {tuple(x.shape[-2:])}"
            )
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = self.ups[-1](skips[-1])  # innermost decoder layer
        for i in range(self.num_downs - 2, -1, -1):
            h = self.ups[i](torch.cat([skips[i], h], dim=1))  # skip: encoder layer i
        return h
