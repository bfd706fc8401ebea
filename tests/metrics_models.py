"""Small models and data for the metrics tests (also imported by the DDP script)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lit_gen.data import DigitsDataModule
from lit_gen.data.base import TensorImageDataset
from lit_gen.models.base import GenerativeModule


class _NoTraining(GenerativeModule):
    """Validation/test steps that do nothing, one dummy parameter to optimize."""

    def __init__(self, data_shape=(1, 16, 16), value_range=(-1.0, 1.0)):
        super().__init__(data_shape, value_range)
        self.dummy = nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):
        return self.dummy * 0.0

    def validation_step(self, batch, batch_idx):
        return None

    def test_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


class TinyGenerator(_NoTraining):
    """Unconditional: ``tanh(W z)`` with a fixed random ``W`` (seeded), ``z ~ N(0, I)``."""

    def __init__(self, data_shape=(1, 16, 16), value_range=(-1.0, 1.0), latent_dim: int = 8, seed: int = 0):
        super().__init__(data_shape, value_range)
        self.latent_dim = latent_dim
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(math.prod(data_shape), latent_dim, generator=generator) / latent_dim**0.5)

    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        z = self.latent_noise(n, self.latent_dim, generator)
        return torch.tanh(z @ self.weight.T).view(n, *self.data_shape)


class DigitBank(_NoTraining):
    """A "conditional generator" that returns real digits of the requested labels, drawn from
    a bank of images with ``generator``; ``shift`` makes it answer the wrong class."""

    def __init__(self, images: Tensor, labels: Tensor, shift: int = 0, value_range=(-1.0, 1.0)):
        super().__init__(tuple(images.shape[1:]), value_range)
        self.register_buffer("bank", images)
        self.register_buffer("bank_labels", labels)
        self.num_classes = 10
        self.shift = shift
        self.seen_labels: list[Tensor] = []

    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        assert labels is not None and len(labels) == n
        self.seen_labels.append(labels.cpu())
        out = []
        for label in ((labels.cpu() + self.shift) % 10).tolist():
            candidates = torch.nonzero(self.bank_labels.cpu() == label).flatten()
            out.append(self.bank[candidates[torch.randint(len(candidates), (1,), generator=generator)]])
        return torch.cat(out)


class TwoDomainDigits(DigitsDataModule):
    """Digits (domain A) and their negatives (domain B), as a translation data module would
    give them with ``reference_set(split, domain)``."""

    def reference_set(self, split: str, domain: str | None = None) -> TensorImageDataset:
        if self.train_set is None:
            self.setup("fit")
        dataset = getattr(self, f"{split}_set")
        images, labels = dataset.__getitems__(list(range(len(dataset))))
        return TensorImageDataset(images if domain == "A" else -images, labels)


class Negator(_NoTraining):
    """Translates A <-> B by negation (exact, ``identity=False``) or not at all (``identity=True``)."""

    translation_directions = (("A", "B"), ("B", "A"))

    def __init__(self, identity: bool = False):
        super().__init__()
        self.identity = identity
        self.calls: list[tuple[str, str]] = []

    def translate_for_metrics(self, images: Tensor, direction: tuple[str, str]) -> Tensor:
        self.calls.append(direction)
        return images if self.identity else -images
