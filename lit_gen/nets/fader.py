"""Networks of Fader networks (Lample et al., 2017, arXiv:1706.00409, section 4 "Implementation"),
no Lightning.

* :class:`FaderEncoder`: ``C_k`` layers, each a 4x4 convolution of stride 2 (padding 1), batch
  norm (not on the first layer) and LeakyReLU(0.2); the paper's 256x256 encoder is
  ``C16-C32-C64-C128-C256-C512-C512``, giving a 512x2x2 latent map.
* :class:`FaderDecoder`: symmetric, 4x4 transposed convolutions of stride 2, batch norm and ReLU
  (none on the output layer); the attributes, each one-hot ``[1 - y, y]`` (``[1 - alpha, alpha]``
  when sliding), are appended as constant feature maps to the input of **every** layer.
* :class:`LatentDiscriminator`: a ``C512`` layer on the latent map, then two fully connected
  layers of 512 and ``n`` units, dropout 0.3; it outputs one logit per binary attribute.

MLP counterparts for small images (:class:`ConditionedMLP` appends the attributes to the input
of every layer as well) are used by ``architecture: mlp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lit_gen.nets.conv import check_divisible
from lit_gen.nets.layers import activation


def attribute_code(attributes: Tensor) -> Tensor:
    """Each attribute value ``y`` (0/1, or ``alpha`` in [0, 1] when sliding) as ``[1 - y, y]``:
    ``(N, K) -> (N, 2K)``."""
    y = attributes.float()
    return torch.stack([1 - y, y], dim=2).flatten(1)


def _with_maps(h: Tensor, code: Tensor) -> Tensor:
    maps = code.to(h.dtype)[:, :, None, None].expand(-1, -1, *h.shape[-2:])
    return torch.cat([h, maps], dim=1)


class FaderEncoder(nn.Module):
    """``x (N, C, S, S) -> z (N, channels[-1], S / 2^L, S / 2^L)``.

    Args:
        in_channels: image channels.
        image_size: image side.
        channels: width of each stride-2 layer (the paper: 16, 32, ..., 512, 512).
        batch_norm: batch norm after every convolution but the first.
    """

    def __init__(self, in_channels: int, image_size: int, channels: Sequence[int], batch_norm: bool = True):
        super().__init__()
        self.latent_side = check_divisible(image_size, len(channels), "the Fader encoder")
        layers: list[nn.Module] = []
        widths = [in_channels, *channels]
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not (batch_norm and i > 0)))
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)
        self.latent_shape = (channels[-1], self.latent_side, self.latent_side)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class FaderDecoder(nn.Module):
    """``(z, attributes) -> x``, the attribute code appended to every layer's input.

    Args:
        latent_channels: channels of the latent map.
        out_channels: image channels.
        channels: width of each upsampling layer's output but the last, from the latent side up
            (the paper: 512, 256, ..., 16), one layer per entry plus the output layer.
        num_attributes: ``K``; every layer gets ``2K`` extra input channels.
        batch_norm: batch norm after every layer but the output.
        out_act: output activation module (tanh/sigmoid matching the data range).
    """

    def __init__(
        self,
        latent_channels: int,
        out_channels: int,
        channels: Sequence[int],
        num_attributes: int,
        batch_norm: bool = True,
        out_act: nn.Module | None = None,
    ):
        super().__init__()
        extra = 2 * num_attributes
        widths = [latent_channels, *channels, out_channels]
        self.layers = nn.ModuleList()
        self.post = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            last = i == len(widths) - 2
            self.layers.append(nn.ConvTranspose2d(c_in + extra, c_out, 4, 2, 1, bias=last or not batch_norm))
            self.post.append(
                nn.Identity() if last else nn.Sequential(nn.BatchNorm2d(c_out) if batch_norm else nn.Identity(), nn.ReLU())
            )
        self.out_act = out_act or nn.Identity()

    def forward(self, z: Tensor, attributes: Tensor) -> Tensor:
        code = attribute_code(attributes)
        h = z
        for layer, post in zip(self.layers, self.post, strict=True):
            h = post(layer(_with_maps(h, code)))
        return self.out_act(h)


class ConditionedMLP(nn.Module):
    """An MLP whose every layer also receives a condition vector (concatenated to its input).

    Args:
        in_features: input width (without the condition).
        hidden: hidden widths.
        out_features: output width.
        condition_features: width of the condition vector.
        act: hidden activation.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, condition_features: int, act: str = "relu"):
        super().__init__()
        widths = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(
            nn.Linear(fan_in + condition_features, fan_out) for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.act = activation(act)

    def forward(self, h: Tensor, condition: Tensor) -> Tensor:
        condition = condition.to(h.dtype)
        for i, layer in enumerate(self.layers):
            h = layer(torch.cat([h, condition], dim=1))
            if i < len(self.layers) - 1:
                h = self.act(h)
        return h


class MLPFaderDecoder(nn.Module):
    """``(z (N, d), attributes) -> x``: :class:`ConditionedMLP` on the attribute code.

    Args:
        latent_dim: code width.
        out_shape: image shape.
        hidden: hidden widths (latent side first).
        num_attributes: ``K``.
        act: hidden activation.
        out_act: output activation module.
    """

    def __init__(self, latent_dim: int, out_shape: Sequence[int], hidden: Sequence[int], num_attributes: int, act: str = "relu", out_act: nn.Module | None = None):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.mlp = ConditionedMLP(latent_dim, hidden, math.prod(out_shape), 2 * num_attributes, act)
        self.out_act = out_act or nn.Identity()

    def forward(self, z: Tensor, attributes: Tensor) -> Tensor:
        return self.out_act(self.mlp(z, attribute_code(attributes)).view(len(z), *self.out_shape))


class LatentDiscriminator(nn.Module):
    """``z -> (N, K)`` attribute logits, with dropout before each fully connected layer.

    For a latent map ``(C, s, s)`` with ``s >= 2``: the paper's ``C512`` (4x4 stride-2
    convolution, batch norm, LeakyReLU(0.2)), then FC(hidden)-LeakyReLU-FC(K). For a latent
    vector ``(d,)``: FC(hidden)-LeakyReLU-FC(hidden)-LeakyReLU-FC(K).

    Args:
        latent_shape: shape of one latent code, ``(C, s, s)`` or ``(d,)``.
        num_attributes: ``K``.
        hidden: width of the convolution and of the hidden fully connected layers (512).
        dropout: dropout probability (0.3).
    """

    def __init__(self, latent_shape: Sequence[int], num_attributes: int, hidden: int = 512, dropout: float = 0.3):
        super().__init__()
        latent_shape = tuple(latent_shape)
        layers: list[nn.Module] = []
        if len(latent_shape) == 3 and latent_shape[-1] >= 2:
            side = latent_shape[-1] // 2
            layers += [nn.Conv2d(latent_shape[0], hidden, 4, 2, 1, bias=False), nn.BatchNorm2d(hidden), nn.LeakyReLU(0.2), nn.Flatten()]
            features = hidden * side * side
        else:
            layers.append(nn.Flatten())
            features = math.prod(latent_shape)
            layers += [nn.Dropout(dropout), nn.Linear(features, hidden), nn.LeakyReLU(0.2)]
            features = hidden
        layers += [nn.Dropout(dropout), nn.Linear(features, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.Linear(hidden, num_attributes)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
