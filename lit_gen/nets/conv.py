"""Convolutional encoder and decoder for the autoencoder family (no Lightning).

Downsampling by strided convolutions (kernel 4, stride 2, padding 1: each layer halves the
side); upsampling either by transposed convolutions (same geometry, doubling the side) or by
nearest-neighbour interpolation followed by a 3x3 convolution, which avoids the checkerboard
artifacts of transposed convolutions (Odena et al., 2016, "Deconvolution and Checkerboard
Artifacts", Distill).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.layers import activation


def check_divisible(image_size: int, layers: int, what: str) -> int:
    """Side length after ``layers`` halvings; fails clearly if ``image_size`` does not allow it."""
    factor = 2**layers
    if image_size % factor or image_size < factor:
        raise ConfigurationError(
            f"image size {image_size} does not fit {what}: {layers} stride-2 layers need a side "
            f"divisible by {factor}. Use an image size that is a multiple of {factor} "
            f"(data.init_args.image_size) or fewer channels/layers."
        )
    return image_size // factor


class ConvEncoder(nn.Module):
    """Strided convolutions, then a linear map of the flattened features.

    Args:
        in_channels: input channels (image channels plus any label maps).
        image_size: input side (square images).
        channels: output channels of each stride-2 convolution.
        out_features: width of the output vector (the code, or 2x for mean and log-variance).
        act: activation after each convolution.
        batch_norm: BatchNorm after each convolution but the first.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        channels: Sequence[int],
        out_features: int,
        act: str = "leaky_relu",
        batch_norm: bool = False,
    ):
        super().__init__()
        if not channels:
            raise ConfigurationError("a convolutional encoder needs at least one entry in channels")
        side = check_divisible(image_size, len(channels), "the convolutional encoder")
        layers: list[nn.Module] = []
        widths = [in_channels, *channels]
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not (batch_norm and i > 0)))
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(activation(act))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1] * side * side, out_features)
        self.in_channels = in_channels
        self.image_size = image_size

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        if extra is not None:  # labels as constant feature maps (Mirza & Osindero style)
            maps = extra.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, maps], dim=1)
        if x.shape[1] != self.in_channels or x.shape[-1] != self.image_size:
            raise ConfigurationError(
                f"the encoder was built for {self.in_channels} channels of {self.image_size}px, "
                f"got input of shape {tuple(x.shape)}"
            )
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """A linear map to a small feature map, then upsampling blocks back to the image.

    Args:
        in_features: code width (plus any concatenated label vector).
        out_channels: image channels.
        image_size: output side.
        channels: channels of the feature maps, from the smallest map up; one upsampling block
            per entry, the last producing ``out_channels``.
        upsample: ``transpose`` (transposed convolution, kernel 4, stride 2) or ``interpolate``
            (nearest-neighbour x2 then 3x3 convolution).
        act: activation after each block but the last.
        batch_norm: BatchNorm after each block but the last.
        out_act: module applied to the output (e.g. ``nn.Tanh()``).
    """

    def __init__(
        self,
        in_features: int,
        out_channels: int,
        image_size: int,
        channels: Sequence[int],
        upsample: Literal["transpose", "interpolate"] = "transpose",
        act: str = "relu",
        batch_norm: bool = False,
        out_act: nn.Module | None = None,
    ):
        super().__init__()
        if not channels:
            raise ConfigurationError("a convolutional decoder needs at least one entry in channels")
        if upsample not in ("transpose", "interpolate"):
            raise ConfigurationError(f"upsample must be 'transpose' or 'interpolate', got {upsample!r}")
        self.side = check_divisible(image_size, len(channels), "the convolutional decoder")
        self.channels = list(channels)
        self.head = nn.Linear(in_features, self.channels[0] * self.side * self.side)
        layers: list[nn.Module] = [activation(act)]
        widths = [*self.channels, out_channels]
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            last = i == len(self.channels) - 1
            if upsample == "transpose":
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=last or not batch_norm))
            else:
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c_in, c_out, 3, 1, 1, bias=last or not batch_norm),
                ]
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(activation(act))
        self.blocks = nn.Sequential(*layers)
        self.out_act = out_act or nn.Identity()

    def forward(self, z: Tensor) -> Tensor:
        h = self.head(z).view(len(z), self.channels[0], self.side, self.side)
        return self.out_act(self.blocks(h))
