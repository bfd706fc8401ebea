"""The embedded default dataset: scikit-learn's bundled handwritten digits.

1,797 grey 8x8 images of the digits 0-9 (UCI "Optical Recognition of Handwritten Digits",
pixel values 0-16), shipped inside scikit-learn: real data, offline, CPU-sized. Every quickstart
config uses it.
"""

from __future__ import annotations

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

    The split is stratified by class with a fixed seed: by default 70% train (1,257), 15%
    validation (270), 15% test (270). The same ``split_seed`` always yields the same split.

    Args:
        image_size: side of the square images (8 is native; 16 and 32 are bilinear upsamplings).
        batch_size: images per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_fraction: fraction of each class held out for validation.
        test_fraction: fraction of each class held out for testing.
        split_seed: seed of the split (not of training).
        num_workers: DataLoader workers (0 is fastest here: the data is in memory).
        drop_last: drop the last incomplete training batch.
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
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
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
        train, val, test = stratified_split(
            labels, [1 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction],
            self.split_seed,
        )
        self.train_set, self.val_set, self.test_set = (
            TensorImageDataset(images[idx], labels[idx], scale=high - low, shift=low)
            for idx in (train, val, test)
        )
