"""Class-conditional wrappers around any lit-gen generator and discriminator (no Lightning).

* :class:`ConditionalGenerator`: ``G(z, y)`` = the base generator on ``[z, e(y)]``, ``e`` a
  one-hot code or a learned embedding (Mirza & Osindero, 2014, arXiv:1411.1784, section 4.1:
  ``z`` and ``y`` are mapped and joined before the generator's hidden layers).
* :class:`ConcatDiscriminator`: ``D(x, y)`` = the base discriminator on ``x`` with ``y``
  appended to its input, as constant one-hot feature maps for images (the usual convolutional
  form of the paper's concatenation) or as a vector for flat data.
* :class:`ProjectionDiscriminator`: ``D(x, y) = psi(phi(x)) + <V e_y, phi(x)>`` (Miyato &
  Koyama, 2018, arXiv:1802.05637, eq. (3)), with ``phi`` the base discriminator's features and
  ``psi`` its score layer.
* :class:`AuxiliaryClassifierDiscriminator`: the base discriminator's features feed two heads,
  the source score and ``K`` class logits (Odena et al., 2017, arXiv:1610.09585, section 3).

The base networks are built by the same factories as for :class:`~lit_gen.models.GAN`:
``generator(latent_dim, data_shape)`` and ``discriminator(data_shape)``. The projection and
auxiliary-classifier forms need a base discriminator that exposes ``features(x) -> (N, F)``,
``score(h) -> (N,)`` and ``feature_dim``, or be one of lit-gen's MLP, DCGAN and ResNet
discriminators, which :class:`FeatureSplit` splits at their last (linear) layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError

Embedding = Literal["onehot", "learned"]


def check_labels(labels: Tensor, n: int, num_classes: int) -> Tensor:
    """Class indices ``(n,)`` or class weights ``(n, num_classes)`` (e.g. for label
    interpolation); anything else is a clear error."""
    if labels.ndim == 1 and len(labels) == n and not labels.is_floating_point():
        return labels
    if labels.ndim == 2 and labels.shape == (n, num_classes):
        return labels
    raise ConfigurationError(
        f"labels must be {n} class indices (shape ({n},), integers) or class weights of shape "
        f"({n}, {num_classes}), got shape {tuple(labels.shape)} ({labels.dtype})"
    )


class LabelEmbedding(nn.Module):
    """``y -> e(y)``: one-hot (``onehot``, width K) or a learned table (``learned``, width
    ``dim``). Class weights ``(N, K)`` give the weighted mix of the codes.

    Args:
        num_classes: ``K``.
        mode: ``onehot`` or ``learned``.
        dim: width of a learned embedding (default ``K``).
    """

    def __init__(self, num_classes: int, mode: Embedding = "onehot", dim: int | None = None):
        super().__init__()
        if num_classes < 2:
            raise ConfigurationError(f"a conditional network needs num_classes >= 2, got {num_classes}")
        if mode not in ("onehot", "learned"):
            raise ConfigurationError(f"embedding must be 'onehot' or 'learned', got {mode!r}")
        self.num_classes = num_classes
        self.mode = mode
        self.dim = num_classes if mode == "onehot" else int(dim or num_classes)
        self.table = nn.Embedding(num_classes, self.dim) if mode == "learned" else None

    def forward(self, labels: Tensor, n: int | None = None) -> Tensor:
        labels = check_labels(labels, len(labels) if n is None else n, self.num_classes)
        if labels.ndim == 2:
            weights = labels.float()
            return weights if self.table is None else weights @ self.table.weight
        if self.table is None:
            return F.one_hot(labels.long(), self.num_classes).float()
        return self.table(labels.long())


class ConditionalGenerator(nn.Module):
    """``G(z, y)``: the base generator applied to ``[z, e(y)]``.

    Args:
        generator: factory ``generator(input_dim, data_shape)`` of the base network.
        latent_dim: size of ``z``.
        data_shape: shape of one sample.
        num_classes: ``K``.
        embedding: ``onehot`` or ``learned``.
        embedding_dim: width of a learned embedding.
    """

    def __init__(self, generator: Callable, latent_dim: int, data_shape: Sequence[int], num_classes: int,
                 embedding: Embedding = "onehot", embedding_dim: int | None = None):
        super().__init__()
        self.embed = LabelEmbedding(num_classes, embedding, embedding_dim)
        self.net = generator(latent_dim + self.embed.dim, data_shape)
        self.latent_dim = latent_dim

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        code = self.embed(labels, len(z)).to(z.dtype)
        return self.net(torch.cat([z, code], dim=1))


class ConcatDiscriminator(nn.Module):
    """``D(x, y)``: the base discriminator on ``x`` with the one-hot ``y`` appended (as ``K``
    constant feature maps for images, as a vector for flat data).

    Args:
        discriminator: factory ``discriminator(data_shape)`` of the base network.
        data_shape: shape of one sample.
        num_classes: ``K``.
    """

    def __init__(self, discriminator: Callable, data_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.embed = LabelEmbedding(num_classes, "onehot")
        shape = tuple(data_shape)
        self.images = len(shape) == 3
        widened = (shape[0] + num_classes, *shape[1:]) if self.images else (math.prod(shape) + num_classes,)
        self.net = discriminator(widened)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        code = self.embed(labels, len(x)).to(x.dtype)
        if self.images:
            maps = code[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            return self.net(torch.cat([x, maps], dim=1))
        return self.net(torch.cat([x.flatten(1), code], dim=1))


class FeatureSplit(nn.Module):
    """A base discriminator seen as features ``phi(x) -> (N, F)`` and a linear score
    ``psi(h) -> (N,)``, as the projection and auxiliary-classifier forms need.

    A network exposing ``features(x)``, ``score(h)`` and ``feature_dim`` is used as it is. lit-gen's
    GAN discriminators are split at their last layer, which is linear in the features:
    :class:`~lit_gen.nets.MLPDiscriminator` (``pack = 1``) before its last ``Linear``,
    :class:`~lit_gen.nets.DCGANDiscriminator` before its last 4x4 convolution (on a 4x4 map, a
    linear map of the flattened ``C * 16`` features), :class:`~lit_gen.nets.ResNetDiscriminator`
    after its pooling. ``psi(phi(x))`` is then exactly the unconditional score.
    """

    def __init__(self, net: nn.Module, what: str):
        super().__init__()
        from lit_gen.nets.dcgan import DCGANDiscriminator
        from lit_gen.nets.mlp import MLPDiscriminator
        from lit_gen.nets.resnet import ResNetDiscriminator

        self.net = net
        if all(hasattr(net, name) for name in ("features", "score", "feature_dim")):
            self.kind, self.feature_dim = "protocol", int(net.feature_dim)
        elif isinstance(net, MLPDiscriminator):
            if net.pack != 1:
                raise ConfigurationError(f"the {what} needs an unpacked MLPDiscriminator (pack = 1), got pack = {net.pack}")
            self.kind, self.feature_dim = "mlp", int(net.net[-1].in_features)
        elif isinstance(net, DCGANDiscriminator):
            self.kind, self.feature_dim = "dcgan", int(net.net[-1].in_channels) * 16
        elif isinstance(net, ResNetDiscriminator):
            self.kind, self.feature_dim = "resnet", int(net.head.in_features)
        else:
            raise ConfigurationError(
                f"the {what} needs a base discriminator with features(x), score(h) and feature_dim, or one of "
                f"lit-gen's MLPDiscriminator, DCGANDiscriminator, ResNetDiscriminator; got {type(net).__name__}"
            )

    def features(self, x: Tensor) -> Tensor:
        net = self.net
        if self.kind == "protocol":
            return net.features(x)
        if self.kind == "mlp":
            return net.net[:-1](x.flatten(1))
        if self.kind == "dcgan":
            return net.net[:-1](x).flatten(1)
        h = F.relu(net.blocks(x))
        return h.sum(dim=(2, 3)) if net.pooling == "sum" else h.mean(dim=(2, 3))

    def score(self, h: Tensor) -> Tensor:
        net = self.net
        if self.kind == "protocol":
            return net.score(h)
        if self.kind == "mlp":
            return net.net[-1](h).squeeze(1)
        if self.kind == "dcgan":
            return net.net[-1](h.view(len(h), -1, 4, 4)).flatten()
        return net.head(h).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = psi(phi(x)) + <V e_y, phi(x)>`` (Miyato & Koyama, eq. (3)).

    Args:
        discriminator: factory ``discriminator(data_shape)`` of the base network (``phi``, ``psi``).
        data_shape: shape of one sample.
        num_classes: ``K``.
        spectral_norm: spectral normalization of the class embedding ``V`` (as the paper does
            when the base network is spectrally normalized).
    """

    def __init__(self, discriminator: Callable, data_shape: Sequence[int], num_classes: int, spectral_norm: bool = False):
        super().__init__()
        self.net = FeatureSplit(discriminator(tuple(data_shape)), "projection discriminator")
        features = self.net.feature_dim
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, features)
        nn.init.xavier_uniform_(self.embed.weight)
        if spectral_norm:
            nn.utils.parametrizations.spectral_norm(self.embed)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        labels = check_labels(labels, len(x), self.num_classes)
        phi = self.net.features(x)
        class_vectors = labels.to(phi.dtype) @ self.embed.weight if labels.ndim == 2 else self.embed(labels.long())
        return self.net.score(phi) + (class_vectors * phi).sum(dim=1)


class AuxiliaryClassifierDiscriminator(nn.Module):
    """Shared features, a source score and class logits: ``x -> ((N,), (N, K))``.

    Args:
        discriminator: factory ``discriminator(data_shape)`` of the base network.
        data_shape: shape of one sample.
        num_classes: ``K``.
    """

    def __init__(self, discriminator: Callable, data_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.net = FeatureSplit(discriminator(tuple(data_shape)), "auxiliary-classifier discriminator")
        features = self.net.feature_dim
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        phi = self.net.features(x)
        return self.net.score(phi), self.classifier(phi)
