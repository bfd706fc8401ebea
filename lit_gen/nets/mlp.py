"""Fully connected networks: the original GAN's and the classic autoencoders' (no Lightning)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.layers import Maxout, activation, apply_spectral_norm


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


class MLPGenerator(nn.Module):
    """Fully connected generator ``z -> x`` of the original GAN (Goodfellow et al., 2014,
    arXiv:1406.2661) and of the 2-D mixture experiments (PacGAN, arXiv:1712.04086: four hidden
    ReLU layers of 400 units with batch norm).

    Args:
        latent_dim: size of ``z`` (given by the GAN module).
        data_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 28, 28)`` (given by the module).
        hidden: hidden widths.
        act: hidden activation.
        batch_norm: BatchNorm after each hidden linear layer.
        out_act: output activation: ``tanh`` for data in [-1, 1], ``sigmoid`` for [0, 1],
            ``none`` for unbounded data (2-D points).
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        act: str = "relu",
        batch_norm: bool = False,
        out_act: str = "tanh",
    ):
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        widths = [latent_dim, *hidden]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            layers.append(nn.Linear(fan_in, fan_out, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(activation(act))
        layers += [nn.Linear(widths[-1], math.prod(self.data_shape)), activation(out_act)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(len(z), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """Fully connected discriminator ``x -> score`` (one raw score per sample).

    The original GAN used maxout hidden units with dropout (Goodfellow et al., 2014, section 5);
    PacGAN's 2-D experiments three maxout layers of 200 units with 5 pieces.

    With ``pack = m`` the discriminator judges ``m`` samples at once (PacGAN, Lin et al., 2018,
    arXiv:1712.04086, section 3): a batch ``(N, ...)`` is cut into ``N / m`` groups of
    consecutive samples (independent draws: shuffled data, independent noise), each group is
    concatenated into one input, and one score is returned per group. Every objective averages
    scores, so the losses need no change. Gradient penalties then differentiate a group's score
    with respect to each of its samples.

    Args:
        data_shape: shape of one sample (given by the GAN module).
        hidden: hidden widths.
        act: hidden activation (ignored when ``maxout_pieces > 0``).
        maxout_pieces: use maxout units with this many pieces instead of ``act`` (0: off).
        dropout: dropout probability after each hidden layer (the original GAN: 0.5).
        input_dropout: dropout probability on the input (the original GAN: 0.2).
        spectral_norm: spectral normalization of every linear layer (SN-GAN).
        pack: samples per discriminator input (PacGAN's ``m``; 1: no packing).
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        act: str = "leaky_relu",
        maxout_pieces: int = 0,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        spectral_norm: bool = False,
        pack: int = 1,
    ):
        super().__init__()
        if pack < 1:
            raise ConfigurationError(f"pack must be >= 1, got {pack}")
        self.pack = pack
        widths = [math.prod(data_shape) * pack, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        if input_dropout > 0:
            layers.append(nn.Dropout(input_dropout))
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            if maxout_pieces:
                layers.append(Maxout(fan_in, fan_out, maxout_pieces))
            else:
                layers += [nn.Linear(fan_in, fan_out), activation(act)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)
        if spectral_norm:
            apply_spectral_norm(self.net)

    def forward(self, x: Tensor) -> Tensor:
        if len(x) % self.pack:
            raise ConfigurationError(
                f"the discriminator packs {self.pack} samples per input, so batch sizes must be "
                f"multiples of {self.pack}; got a batch of {len(x)}"
            )
        return self.net(x.reshape(len(x) // self.pack, -1)).squeeze(1)
