"""Encoder/decoder pairs for the autoencoder family, by architecture name (no Lightning)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.conv import ConvDecoder, ConvEncoder
from lit_gen.nets.layers import output_activation
from lit_gen.nets.mlp import FlattenMLP, MLPToImage

Architecture = Literal["mlp", "conv", "linear"]


def build_encoder_decoder(
    architecture: Architecture,
    data_shape: Sequence[int],
    value_range: tuple[float, float],
    encoder_out: int,
    decoder_in: int,
    hidden: Sequence[int] = (256, 128),
    channels: Sequence[int] = (32, 64),
    upsample: Literal["transpose", "interpolate"] = "transpose",
    act: str = "relu",
    out_act: str = "auto",
    condition_dim: int = 0,
) -> tuple[nn.Module, nn.Module]:
    """An encoder ``x -> R^encoder_out`` and a decoder ``R^decoder_in -> x``.

    Args:
        architecture: ``mlp`` (hidden widths ``hidden``, mirrored in the decoder), ``conv``
            (stride-2 convolutions of widths ``channels``, mirrored), or ``linear`` (one linear
            map each way, no non-linearity anywhere: the PCA autoencoder).
        data_shape: shape of one sample.
        value_range: the data's range (picks the output activation when ``out_act="auto"``).
        encoder_out: encoder output width (``d`` for a code, ``2d`` for a Gaussian posterior).
        decoder_in: code width fed to the decoder (without the condition).
        hidden: MLP hidden widths, input side first.
        channels: convolution widths, input side first.
        upsample: ``transpose`` or ``interpolate`` (conv decoder only).
        act: hidden activation.
        out_act: decoder output activation (``auto``: tanh for [-1, 1] data, sigmoid for [0, 1];
            ``none`` for logits or for the linear autoencoder).
        condition_dim: width of a one-hot condition given to both networks (conditional models).
    """
    if architecture == "linear":
        encoder = FlattenMLP(data_shape, [], encoder_out, extra_features=condition_dim)
        decoder = MLPToImage(decoder_in + condition_dim, [], data_shape)
        if out_act not in ("auto", "none"):
            decoder.out_act = output_activation(out_act, value_range)
        return encoder, decoder
    final = output_activation(out_act, value_range)
    if architecture == "mlp":
        encoder = FlattenMLP(data_shape, hidden, encoder_out, act, extra_features=condition_dim)
        decoder = MLPToImage(decoder_in + condition_dim, list(reversed(hidden)), data_shape, act, final)
        return encoder, decoder
    if architecture == "conv":
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ConfigurationError(
                f"the conv architecture needs square images (C, S, S), got data shape {tuple(data_shape)}"
            )
        channels_in, size = data_shape[0], data_shape[1]
        encoder = ConvEncoder(channels_in + condition_dim, size, channels, encoder_out, act)
        decoder = ConvDecoder(
            decoder_in + condition_dim, channels_in, size, list(reversed(channels)), upsample, act,
            out_act=final,
        )
        return encoder, decoder
    raise ConfigurationError(f"architecture must be 'mlp', 'conv' or 'linear', got {architecture!r}")
