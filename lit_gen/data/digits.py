"""The embedded default dataset: scikit-learn's bundled handwritten digits.

1,797 grey 8x8 images of the digits 0-9 (UCI "Optical Recognition of Handwritten Digits",
pixel values 0-16), shipped inside scikit-learn: real data, offline, CPU-sized. Every quickstart
config uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sklearn.datasets import load_digits

from lit_gen.data.base import ImageDataModule, TensorImageDataset, resize_images, stratified_split
from lit_gen.errors import ConfigurationError


def load_digit_images(image_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as float images in [0, 1], ``(N, 1, S, S)``, and their labels."""
    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = resize_images(images, image_size).clamp_(0.0, 1.0)
    return images, torch.as_tensor(bunch.target, dtype=torch.long)


class DigitsDataModule(ImageDataModule):
    """Handwritten digits (scikit-learn), resized and split deterministically.

    The split is stratified by class with a fixed seed: by default 70% train (1,259), 15%
    validation (269), 15% test (269). The same ``split_seed`` always yields the same split.

    Two options serve the autoencoder applications (both leave the test split untouched, and the
    split itself does not depend on them):

    * ``exclude_classes``: digits removed from the training and validation splits, e.g. ``[9]``
      to train an anomaly detector on the other nine digits and score the test split;
    * ``train_per_class``: keep only this many training images per class (chosen with
      ``split_seed``), e.g. 5 for the 50-label fine-tuning experiment.

    Args:
        image_size: side of the square images (8 is native; 16 and 32 are bilinear upsamplings).
        batch_size: images per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_fraction: fraction of each class held out for validation.
        test_fraction: fraction of each class held out for testing.
        split_seed: seed of the split (not of training).
        num_workers: DataLoader workers (0 is fastest here: the data is in memory).
        drop_last: drop the last incomplete training batch.
        exclude_classes: digits left out of the training and validation splits.
        train_per_class: training images kept per class (``None``: all of them).
    """

    def __init__(
        self,
        image_size: int = 8,
        batch_size: int = 64,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
        exclude_classes: Sequence[int] = (),
        train_per_class: int | None = None,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        exclude_classes = tuple(sorted({int(c) for c in exclude_classes}))
        if any(not 0 <= c < 10 for c in exclude_classes) or len(exclude_classes) >= 10:
            raise ConfigurationError(
                f"exclude_classes must be digits 0-9 leaving at least one class, got {list(exclude_classes)}"
            )
        if train_per_class is not None and train_per_class < 1:
            raise ConfigurationError(f"train_per_class must be >= 1 (or null for all), got {train_per_class}")
        self.exclude_classes = exclude_classes
        self.train_per_class = train_per_class
        if image_size < 4:
            raise ConfigurationError(f"image_size must be >= 4, got {image_size}")
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ConfigurationError(
                f"val_fraction and test_fraction must be in [0, 1) with a sum below 1, got "
                f"{val_fraction} and {test_fraction}"
            )
        self.image_size = image_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self._data_shape = (1, image_size, image_size)
        self._num_classes = 10

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels = load_digit_images(self.image_size)
        low, high = self.value_range
        train, val, test = self.split_indices(labels)
        self.train_set, self.val_set, self.test_set = (
            TensorImageDataset(images[idx], self.targets(images, labels, idx, train), scale=high - low, shift=low)
            for idx in (train, val, test)
        )

    def split_indices(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Indices of the train, validation and test images after ``exclude_classes`` and
        ``train_per_class``."""
        train, val, test = stratified_split(
            labels, [1 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction],
            self.split_seed,
        )
        if self.exclude_classes:
            excluded = torch.as_tensor(self.exclude_classes)
            train = train[~torch.isin(labels[train], excluded)]
            val = val[~torch.isin(labels[val], excluded)]
        if self.train_per_class is not None:
            generator = torch.Generator().manual_seed(self.split_seed)
            kept = []
            for cls in torch.unique(labels[train]):
                members = train[labels[train] == cls]
                if len(members) < self.train_per_class:
                    raise ConfigurationError(
                        f"train_per_class={self.train_per_class} but digit {int(cls)} has only "
                        f"{len(members)} training images"
                    )
                kept.append(members[torch.randperm(len(members), generator=generator)[: self.train_per_class]])
            train = torch.sort(torch.cat(kept)).values
        return train, val, test

    def targets(self, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
        """What the loaders yield next to the images of ``index`` (the digit's class here;
        subclasses yield attributes computed from the images, calibrated on ``train``)."""
        return labels[index]


def ink_mass(images: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Mean pixel intensity of each image, mapped to [0, 1] from ``value_range``: ``(N,)``."""
    low, high = value_range
    return ((images.float() - low) / (high - low)).clamp(0, 1).flatten(1).mean(1)


class DigitsAttributesDataModule(DigitsDataModule):
    """The digits with a binary attribute instead of the class: **thick**, whether the digit's
    ink mass (mean pixel intensity) is above the median ink mass of its class on the training
    split. Within each class, half the digits are thick; the attribute is about the stroke
    (width, boldness, size), not about which digit it is, so an attribute-conditioned model
    (e.g. a Fader network) can make a given digit thicker or thinner, and the success of such a
    swap is measured on the output image itself (:meth:`attribute_of`).

    Batches are ``(images, attributes)`` with attributes ``(N, 1)`` in {0, 1} (int64); the digit
    classes stay available in ``class_labels[split]`` and the medians in ``class_medians``.
    Arguments as :class:`DigitsDataModule`.
    """

    attribute_names: tuple[str, ...] = ("thick",)

    def __init__(
        self,
        image_size: int = 8,
        batch_size: int = 64,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
        exclude_classes: Sequence[int] = (),
        train_per_class: int | None = None,
    ):
        super().__init__(
            image_size, batch_size, value_range, val_fraction, test_fraction, split_seed,
            num_workers, drop_last, exclude_classes, train_per_class,
        )
        self._num_classes = 0  # the loaders yield attributes, not classes
        self.class_medians: torch.Tensor | None = None
        self.class_labels: dict[str, torch.Tensor] = {}

    @property
    def num_attributes(self) -> int:
        """Number of binary attributes per image."""
        return len(self.attribute_names)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels = load_digit_images(self.image_size)
        train, val, test = self.split_indices(labels)
        masses = ink_mass(images)
        self.class_medians = torch.stack(
            [masses[train][labels[train] == c].median() if (labels[train] == c).any() else torch.tensor(float("nan"))
             for c in range(10)]
        )
        self.class_labels = {name: labels[idx] for name, idx in (("train", train), ("val", val), ("test", test))}
        super().setup(stage)

    def targets(self, images, labels, index, train):
        return self.attribute_of(images[index], labels[index], (0.0, 1.0))

    def attribute_of(self, images: torch.Tensor, classes: torch.Tensor, value_range: tuple[float, float] | None = None) -> torch.Tensor:
        """The ``thick`` attribute of any images of the given digit classes (e.g. a model's
        outputs), against the training split's class medians: ``(N, 1)`` int64."""
        if self.class_medians is None:
            raise RuntimeError("call setup() before attribute_of()")
        masses = ink_mass(images, value_range or self.value_range)
        medians = self.class_medians.to(masses.device)[classes.long()]
        return (masses > medians).long().unsqueeze(1)
