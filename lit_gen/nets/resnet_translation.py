"""CycleGAN's ResNet generator (Zhu et al., 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", arXiv:1703.10593, appendix 7.2; after Johnson et al.,
2016, "Perceptual Losses for Real-Time Style Transfer", arXiv:1603.08155).

    c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3

``c7s1-k``: 7x7 convolution, stride 1, reflection padding 3, norm, ReLU; ``dk``: 3x3 stride-2
convolution, norm, ReLU; ``Rk``: residual block of two reflection-padded 3x3 convolutions
(norm, ReLU, [dropout], norm) added to its input; ``uk``: 3x3 stride-1/2 transposed convolution,
norm, ReLU. The last ``c7s1-3`` has no norm and ends in tanh. The paper uses 6 blocks for 128 px
training images and 9 for 256 px and higher; instance norm. Details as ``ResnetGenerator`` in
the official code (github.com/junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``).
"""

from __future__ import annotations

from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.layers import activation
from lit_gen.nets.translation_layers import conv_bias, norm_layer


def default_resnet_blocks(size: int) -> int:
    """The paper's choice: 9 residual blocks from 256 px up, 6 below."""
    return 9 if size >= 256 else 6


class ResidualBlock(nn.Module):
    """``x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)``."""

    def __init__(self, width: int, norm: str = "instance", dropout: bool = False):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3, bias=bias),
            norm_layer(norm, width),
            nn.ReLU(),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3, bias=bias),
            norm_layer(norm, width),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ResNetTranslationGenerator(nn.Module):
    """ResNet generator: two stride-2 downsamplings, ``n_blocks`` residual blocks, two
    upsamplings. Image sides must be divisible by 4.

    Args:
        in_channels: input image channels.
        out_channels: output image channels.
        ngf: width of the first layer (64 in the paper).
        n_blocks: residual blocks (paper: 6 at 128 px, 9 at 256 px).
        norm: ``instance`` (paper), ``batch`` or ``none``.
        dropout: dropout(0.5) inside the residual blocks (off for CycleGAN).
        output: output activation (``tanh`` for [-1, 1] data, ``sigmoid`` for [0, 1]).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        dropout: bool = False,
        output: str = "tanh",
    ):
        super().__init__()
        if n_blocks < 0:
            raise ConfigurationError(f"n_blocks must be >= 0, got {n_blocks}")
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(),
        ]
        width = ngf
        for _ in range(2):  # d128, d256
            layers += [
                nn.Conv2d(width, 2 * width, 3, 2, 1, bias=bias),
                norm_layer(norm, 2 * width),
                nn.ReLU(),
            ]
            width *= 2
        layers += [ResidualBlock(width, norm, dropout) for _ in range(n_blocks)]
        for _ in range(2):  # u128, u64
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1, bias=bias),
                norm_layer(norm, width // 2),
                nn.ReLU(),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), activation(output)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4 or min(x.shape[-2:]) < 8:
            raise ConfigurationError(
                f"the ResNet generator needs image sides divisible by 4 and at least 8 px; got "
                f"{tuple(x.shape[-2:])}"
            )
        return self.model(x)
