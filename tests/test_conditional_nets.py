"""Conditional network wrappers: labels reach the networks, bad label shapes are refused, and
the projection discriminator is eq. (3) of Miyato & Koyama."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_gen.errors import ConfigurationError
from lit_gen.nets.conditional import (
    AuxiliaryClassifierDiscriminator,
    ConcatDiscriminator,
    ConditionalGenerator,
    LabelEmbedding,
    ProjectionDiscriminator,
)
from lit_gen.nets.mlp import FlattenMLP, MLPToImage


class TinyDiscriminator(nn.Module):
    """A base discriminator with the features/score protocol."""

    def __init__(self, data_shape):
        super().__init__()
        self.body = FlattenMLP(data_shape, [], 6)
        self.head = nn.Linear(6, 1)
        self.feature_dim = 6

    def features(self, x):
        return torch.relu(self.body(x))

    def score(self, h):
        return self.head(h).squeeze(1)

    def forward(self, x):
        return self.score(self.features(x))


def _generator(input_dim, data_shape):
    return MLPToImage(input_dim, [16], data_shape, out_act=nn.Tanh())


@pytest.mark.parametrize("embedding", ["onehot", "learned"])
def test_generator_label_changes_the_output(embedding):
    torch.manual_seed(0)
    net = ConditionalGenerator(_generator, 4, (1, 4, 4), 3, embedding, embedding_dim=5)
    z = torch.randn(2, 4)
    out_0 = net(z, torch.zeros(2, dtype=torch.long))
    out_2 = net(z, torch.full((2,), 2))
    assert out_0.shape == (2, 1, 4, 4) and not torch.allclose(out_0, out_2)
    # class weights: a one-hot row is the same as the index
    torch.testing.assert_close(net(z, torch.tensor([[0.0, 0, 1], [0, 0, 1]])), out_2)
    with pytest.raises(ConfigurationError, match=r"labels must be 2 class indices"):
        net(z, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigurationError, match=r"shape \(2, 3\)"):
        net(z, torch.zeros(2, 1, dtype=torch.long))


@pytest.mark.parametrize("shape", [(1, 4, 4), (2,)])
def test_concat_discriminator_sees_the_label(shape):
    torch.manual_seed(0)
    net = ConcatDiscriminator(lambda s: nn.Sequential(FlattenMLP(s, [8], 1), nn.Flatten(0)), shape, 3)
    x = torch.randn(5, *shape)
    assert not torch.allclose(net(x, torch.zeros(5, dtype=torch.long)), net(x, torch.ones(5, dtype=torch.long)))


def test_projection_discriminator_is_equation_3():
    torch.manual_seed(0)
    net = ProjectionDiscriminator(TinyDiscriminator, (1, 4, 4), 3)
    x, labels = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 1])
    phi = net.net.features(x)
    expected = net.net.net.head(phi).squeeze(1) + (net.embed.weight[labels] * phi).sum(1)
    torch.testing.assert_close(net(x, labels), expected)
    with pytest.raises(ConfigurationError, match="features\\(x\\), score\\(h\\) and feature_dim"):
        ProjectionDiscriminator(lambda s: FlattenMLP(s, [], 1), (1, 4, 4), 3)


def test_auxiliary_classifier_heads_share_features():
    torch.manual_seed(0)
    net = AuxiliaryClassifierDiscriminator(TinyDiscriminator, (1, 4, 4), 5)
    scores, logits = net(torch.randn(3, 1, 4, 4))
    assert scores.shape == (3,) and logits.shape == (3, 5)


def test_label_embedding_errors():
    with pytest.raises(ConfigurationError, match="num_classes >= 2"):
        LabelEmbedding(1)
    with pytest.raises(ConfigurationError, match="'onehot' or 'learned'"):
        LabelEmbedding(3, "table")
    with pytest.raises(ConfigurationError, match="integers"):
        LabelEmbedding(3)(torch.zeros(2))  # float indices are refused


@pytest.mark.parametrize("name", ["mlp", "dcgan", "resnet"])
def test_gan_discriminators_split_into_features_and_their_own_score(name):
    from lit_gen.nets import DCGANDiscriminator, MLPDiscriminator, ResNetDiscriminator
    from lit_gen.nets.conditional import FeatureSplit

    torch.manual_seed(0)
    base = {"mlp": lambda: MLPDiscriminator((1, 8, 8), hidden=(16,)),
            "dcgan": lambda: DCGANDiscriminator((1, 8, 8), base_channels=4),
            "resnet": lambda: ResNetDiscriminator((1, 8, 8), channels=4)}[name]().eval()
    split = FeatureSplit(base, "test")
    x = torch.randn(3, 1, 8, 8)
    assert split.features(x).shape == (3, split.feature_dim)
    torch.testing.assert_close(split(x), base(x))  # psi(phi(x)) is the unconditional score
    with pytest.raises(ConfigurationError, match="pack = 1"):
        FeatureSplit(MLPDiscriminator((1, 8, 8), pack=2), "projection discriminator")
