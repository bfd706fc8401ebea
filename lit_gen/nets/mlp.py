"""Fully connected networks: the original GAN's and the classic autoencoders' (no Lightning)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lit_gen.nets.layers import activation


class MLP(nn.Sequential):
    """Linear layers with an activation between them (none after the last layer).

    Args:
        in_features: input width.
        hidden: widths of the hidden layers (empty: a single linear map).
        out_features: output width.
        act: activation between layers (see :func:`lit_gen.nets.layers.activation`).
        dropout: dropout probability after each hidden activation.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        act: str = "relu",
        dropout: float = 0.0,
    ):
        widths = [in_features, *hidden, out_features]
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(widths) - 2:
                layers.append(activation(act))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features


class FlattenMLP(nn.Module):
    """Flatten ``(N, *shape)`` input and apply an :class:`MLP` (an MLP encoder/discriminator).

    Args:
        in_shape: shape of one input sample.
        hidden: hidden widths.
        out_features: output width.
        act: activation between layers.
        dropout: dropout after hidden activations.
        extra_features: width of a vector concatenated to the flattened input (labels).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        hidden: Sequence[int],
        out_features: int,
        act: str = "relu",
        dropout: float = 0.0,
        extra_features: int = 0,
    ):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.mlp = MLP(math.prod(in_shape) + extra_features, hidden, out_features, act, dropout)

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        if extra is not None:
            h = torch.cat([h, extra.to(h.dtype)], dim=1)
        return self.mlp(h)


class MLPToImage(nn.Module):
    """Apply an :class:`MLP` to a code and reshape to ``out_shape`` (an MLP decoder/generator).

    Args:
        in_features: code width (including any concatenated label vector).
        hidden: hidden widths.
        out_shape: shape of one output sample.
        act: activation between layers.
        out_act: module applied to the output (e.g. ``nn.Tanh()``).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_shape: Sequence[int],
        act: str = "relu",
        out_act: nn.Module | None = None,
    ):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.mlp = MLP(in_features, hidden, math.prod(out_shape), act)
        self.out_act = out_act or nn.Identity()

    def forward(self, z: Tensor) -> Tensor:
        return self.out_act(self.mlp(z).view(len(z), *self.out_shape))
