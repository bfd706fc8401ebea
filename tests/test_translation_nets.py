"""Image-to-image networks: shapes at several sizes, the official architectures' parameter counts,
dropout placement, the PatchGAN receptive field against autograd, initialization."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.patchgan import (
    PatchGANDiscriminator,
    check_patchgan_size,
    patchgan_output_size,
    patchgan_receptive_field,
)
from lit_gen.nets.resnet_translation import ResNetTranslationGenerator, default_resnet_blocks
from lit_gen.nets.translation_layers import init_normal_, norm_layer
from lit_gen.nets.unet import UNetGenerator, default_num_downs, unet_widths


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_parameter_counts_match_the_official_networks():
    # The official code prints 54.414 M (unet_256), 11.378 M (resnet_9blocks) and 2.769 M
    # (basic 70x70 PatchGAN on 6 channels) for 3-channel images. (Built on the meta device: no memory.)
    with torch.device("meta"):
        assert n_params(UNetGenerator(3, 3, 64, num_downs=8)) == 54_413_955
        assert n_params(ResNetTranslationGenerator(3, 3, 64, n_blocks=9)) == 11_378_179
        assert n_params(PatchGANDiscriminator(6, 64, n_layers=3, norm="batch")) == 2_768_705


@pytest.mark.parametrize("size, channels", [(16, 1), (32, 3), (64, 3), (256, 3)])
def test_unet_shapes(size, channels):
    num_downs = default_num_downs(size)
    assert 2**num_downs == size  # powers of two reach a 1x1 bottleneck (unet_256: 8)
    net = UNetGenerator(channels, channels, ngf=4, num_downs=num_downs, norm="batch")
    x = torch.randn(2, channels, size, size)
    y = net(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1  # tanh


def test_unet_skip_connections_double_the_decoder_inputs():
    net = UNetGenerator(3, 2, ngf=4, num_downs=5)
    widths = unet_widths(4, 5)
    assert widths == [4, 8, 16, 32, 32]
    assert net.ups[-1][1].in_channels == widths[-1]  # bottleneck: no skip
    for i in range(4):
        assert net.ups[i][1].in_channels == 2 * widths[i]  # decoder input = [encoder i, decoder]
    assert net.ups[0][1].out_channels == 2


def test_unet_dropout_placement():
    # The official rule: dropout in the ngf*8 blocks between the bottleneck and ngf*4 -> ngf*8.
    assert UNetGenerator(3, 3, 4, num_downs=8).dropout_at == [
        4,
        5,
        6,
    ]  # 256 px: the paper's CD512 x 3
    assert UNetGenerator(3, 3, 4, num_downs=7).dropout_at == [4, 5]  # 128 px
    assert UNetGenerator(3, 3, 4, num_downs=4).dropout_at == []
    small = UNetGenerator(1, 1, 4, num_downs=4, dropout_blocks=2)
    assert small.dropout_at == [1, 2]
    assert sum(isinstance(m, nn.Dropout) for m in small.modules()) == 2
    assert UNetGenerator(3, 3, 4, num_downs=8, dropout=False).dropout_at == []
    with pytest.raises(ConfigurationError, match="dropout_blocks"):
        UNetGenerator(1, 1, 4, num_downs=4, dropout_blocks=3)


def test_unet_rejects_indivisible_sizes():
    with pytest.raises(ConfigurationError, match="divisible by 16"):
        UNetGenerator(1, 1, 4, num_downs=4)(torch.randn(1, 1, 24, 24))


@pytest.mark.parametrize("size, n_blocks", [(16, 6), (64, 6), (128, 6)])
def test_resnet_generator_shapes(size, n_blocks):
    net = ResNetTranslationGenerator(3, 3, ngf=4, n_blocks=n_blocks)
    x = torch.randn(2, 3, size, size)
    assert net(x).shape == x.shape
    residuals = [m for m in net.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(residuals) == n_blocks


def test_resnet_blocks_follow_the_paper_and_reject_bad_sizes():
    assert (
        default_resnet_blocks(128) == 6
        and default_resnet_blocks(256) == 9
        and default_resnet_blocks(512) == 9
    )
    net = ResNetTranslationGenerator(1, 1, ngf=4, n_blocks=1)
    with pytest.raises(ConfigurationError, match="divisible by 4"):
        net(torch.randn(1, 1, 18, 18))


@pytest.mark.parametrize(
    "size, n_layers, expected", [(256, 3, 30), (128, 3, 14), (32, 3, 2), (16, 2, 2), (16, 1, 6)]
)
def test_patchgan_output_size(size, n_layers, expected):
    net = PatchGANDiscriminator(2, ndf=4, n_layers=n_layers, norm="instance")
    out = net(torch.randn(1, 2, size, size))
    assert out.shape == (1, 1, expected, expected)
    assert patchgan_output_size(size, n_layers) == expected


@pytest.mark.parametrize("n_layers, field", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field_against_autograd(n_layers, field):
    """The input region that moves one central score: the paper's 16x16 / 70x70 patches."""
    assert patchgan_receptive_field(n_layers) == field
    torch.manual_seed(0)
    net = PatchGANDiscriminator(1, ndf=4, n_layers=n_layers, norm="none")
    x = torch.randn(1, 1, 160, 160, requires_grad=True)
    out = net(x)
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert int(rows.max() - rows.min() + 1) == field
    assert int(cols.max() - cols.min() + 1) == field


def test_patchgan_size_check():
    check_patchgan_size(24, 3)
    with pytest.raises(ConfigurationError, match="too small"):
        check_patchgan_size(16, 3)


def test_norm_layers_and_normal_init():
    assert isinstance(norm_layer("batch", 4), nn.BatchNorm2d)
    instance = norm_layer("instance", 4)
    assert (
        isinstance(instance, nn.InstanceNorm2d)
        and not instance.affine
        and not instance.track_running_stats
    )
    with pytest.raises(ConfigurationError, match="norm must be"):
        norm_layer("group", 4)
    torch.manual_seed(0)
    net = init_normal_(UNetGenerator(3, 3, 32, num_downs=6, norm="batch"), 0.02).requires_grad_(
        False
    )
    weights = torch.cat(
        [m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    )
    assert abs(float(weights.std()) - 0.02) < 0.001 and abs(float(weights.mean())) < 0.001
    bn = torch.cat([m.weight for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(bn.mean()) - 1.0) < 0.01
    biases = [
        m.bias
        for m in net.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.BatchNorm2d) and m.bias is not None
    ]
    assert biases and all(float(b.abs().max()) == 0 for b in biases)
