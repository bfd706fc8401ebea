"""Embedded image-to-image translation tasks built from scikit-learn's digits (offline, CPU
minutes), each with a known answer so translations can be scored exactly:

* ``DigitThinningDataModule`` - unpaired, for CycleGAN: domain A = digits, domain B = thinned
  digits (grey erosion of the strokes: every pixel takes the minimum of its ``erosion_size``
  squared neighbourhood). The two training domains come from disjoint halves of the training
  split (stratified), so no training image has its partner in the other domain. Validation and
  test pairs are aligned (``b = thin(a)``): PSNR against the known transform, both directions.
* ``DigitEdgesDataModule`` - paired, for pix2pix: A = edge map (Sobel gradient magnitude, each
  map scaled to a maximum of 1), B = the digit.

Both split the 1,797 digits as :class:`~lit_gen.data.DigitsDataModule` (stratified, seeded:
70% train, 15% validation, 15% test) and keep the labels (``num_classes = 10``) on the datasets
(``labels_a``, ``labels_b``) for label-preservation scores; batches are ``(real_a, real_b)``
like the folder modules'. ``predict_dir`` names a folder of grey images (light strokes on a dark
background, like the digits) for ``lit-gen predict``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lit_gen.data.base import (
    ImageDataModule,
    ResumableSampler,
    TensorImageDataset,
    UnalignedSampler,
    stratified_split,
    training_seed,
)
from lit_gen.data.digits import load_digit_images
from lit_gen.data.translation import DIRECTIONS, check_domain, predict_images
from lit_gen.errors import ConfigurationError


def thin_digits(images: Tensor, erosion_size: int = 3) -> Tensor:
    """Grey erosion (minimum filter over an ``erosion_size`` square) of each ``(N, 1, H, W)`` image."""
    eroded = [
        ndimage.grey_erosion(
            im[0].numpy(), size=(erosion_size, erosion_size), mode="constant", cval=0.0
        )
        for im in images.float()
    ]
    return torch.as_tensor(np.stack(eroded)).unsqueeze(1)


def edge_maps(images: Tensor) -> Tensor:
    """Sobel gradient magnitude of each ``(N, 1, H, W)`` image, scaled to a maximum of 1."""
    edges = []
    for im in images.float():
        x = im[0].numpy()
        magnitude = np.hypot(
            ndimage.sobel(x, axis=0, mode="constant"), ndimage.sobel(x, axis=1, mode="constant")
        )
        edges.append(magnitude / max(float(magnitude.max()), 1e-8))
    return torch.as_tensor(np.stack(edges), dtype=torch.float32).unsqueeze(1)


class PairedTensorDataset(Dataset):
    """Aligned in-memory pairs ``(a_i, b_i)``, served a batch at a time."""

    def __init__(self, images_a: Tensor, images_b: Tensor, labels: Tensor):
        self.images_a, self.images_b = images_a, images_b
        self.labels_a = self.labels_b = labels

    def __len__(self) -> int:
        return len(self.images_a)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images_a[index], self.images_b[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.images_a[index], self.images_b[index]


class UnpairedTensorDataset(Dataset):
    """Two in-memory collections: A in order, B uniformly at random (``random_b``) or
    ``index % |B|``; ``max(|A|, |B|)`` samples."""

    def __init__(
        self, images_a: Tensor, images_b: Tensor, labels_a: Tensor, labels_b: Tensor, random_b: bool
    ):
        self.images_a, self.images_b = images_a, images_b
        self.labels_a, self.labels_b = labels_a, labels_b
        self.random_b = random_b

    def __len__(self) -> int:
        return max(len(self.images_a), len(self.images_b))

    def _b_index(self, index: Tensor) -> Tensor:
        if self.random_b:
            return torch.randint(0, len(self.images_b), index.shape)
        return index % len(self.images_b)

    def __getitem__(self, index: int | tuple[int, int]) -> tuple[Tensor, Tensor]:
        (a, b) = self.__getitems__([index])
        return a[0], b[0]

    def __getitems__(self, indices: list[int] | list[tuple[int, int]]) -> tuple[Tensor, Tensor]:
        """Indices of A, or ``(index_a, index_b)`` pairs from an :class:`UnalignedSampler`."""
        index = torch.as_tensor(indices, dtype=torch.long)
        if index.ndim == 2:
            index, index_b = index[:, 0], index[:, 1]
        else:
            index_b = self._b_index(index)
        return self.images_a[index % len(self.images_a)], self.images_b[index_b]


class _DigitTranslationDataModule(ImageDataModule):
    """Shared: digits at ``image_size``, the stratified split, in-memory loaders, prediction."""

    def __init__(
        self,
        image_size: int,
        batch_size: int,
        value_range: tuple[float, float],
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        num_workers: int,
        drop_last: bool,
        predict_dir: str | None,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        if image_size < 8:
            raise ConfigurationError(f"image_size must be >= 8, got {image_size}")
        if not (
            0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1
        ):
            raise ConfigurationError(
                f"val_fraction and test_fraction must be in (0, 1) with a sum below 1, got "
                f"{val_fraction} and {test_fraction}"
            )
        self.image_size = image_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.predict_dir = predict_dir
        self.predict_set: Dataset | None = None
        self._data_shape = (1, image_size, image_size)
        self._num_classes = 10

    def _split(self) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Digits in [0, 1], labels, and train/val/test index tensors."""
        images, labels = load_digit_images(self.image_size)
        parts = stratified_split(
            labels,
            [1 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction],
            self.split_seed,
        )
        return images, labels, parts

    def reference_set(self, split: str, domain: str | None = None) -> TensorImageDataset:
        """The images (and labels) of domain ``A`` or ``B`` of a split (the metrics' reference)."""
        check_domain(split, domain)
        self.setup()
        dataset = getattr(self, f"{split}_set")
        if domain == "A":
            return TensorImageDataset(dataset.images_a, dataset.labels_a)
        return TensorImageDataset(dataset.images_b, dataset.labels_b)

    def to_range(self, images: Tensor) -> Tensor:
        """[0, 1] -> ``value_range``."""
        low, high = self.value_range
        return images * (high - low) + low

    def _train_sampler(self, dataset: Dataset) -> ResumableSampler:
        if isinstance(dataset, UnpairedTensorDataset) and dataset.random_b:
            return UnalignedSampler(
                dataset, len(dataset.images_b), shuffle=True, seed=training_seed()
            )
        return super()._train_sampler(dataset)

    def predict_dataloader(self) -> DataLoader:
        if self.predict_set is None:
            self.predict_set = predict_images(
                self.predict_dir, self.image_size, 1, self.value_range, self._predict_direction()
            )
        return DataLoader(
            self.predict_set,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
        )

    def _predict_direction(self) -> str:
        return "AtoB"


def shift_images(images: Tensor, jitter: int, fill: float) -> Tensor:
    """Each image of ``(N, C, H, W)`` shifted by its own ``(dy, dx)``, drawn uniformly from
    ``[-jitter, jitter]^2`` with the global generator (on the images' device); the uncovered
    border takes ``fill`` (the background)."""
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (jitter,) * 4, value=fill)
    offsets = torch.randint(0, 2 * jitter + 1, (2, n), device=images.device)  # crop corners
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # (N, H)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # (N, H, W, C) -> (N, C, H, W)
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class DigitThinningDataModule(_DigitTranslationDataModule):
    """Unpaired digits (A) <-> thinned digits (B), for CycleGAN.

    Args:
        image_size: side of the images (16: the 8x8 digits upsampled twice).
        erosion_size: side of the erosion's square neighbourhood (3).
        batch_size: images of each domain per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_fraction: fraction of each class held out for validation.
        test_fraction: fraction of each class held out for testing.
        split_seed: seed of the splits (train/val/test and the two training halves).
        num_workers: DataLoader workers (0 is fastest: the data is in memory).
        drop_last: drop the last incomplete training batch.
        predict_dir: folder of images for ``lit-gen predict``.
        predict_direction: ``AtoB`` (the folder holds digits) or ``BtoA`` (thinned digits).
        jitter: shift each training image of both domains, independently, by a random number of
            pixels in ``[-jitter, jitter]`` along each axis (0: off). This is the translation part
            of the papers' resize-and-crop jitter (286 -> 256 px shifts a crop by up to 30 px,
            about 2 px at 16 px), without the flip (a mirrored digit is another symbol). The
            erosion commutes with shifts, so shifted B images are thinned shifted digits.
            Applied to training batches only, after the transfer to the device, with the global
            random generator (at step time: exact resume holds); see :func:`shift_images`.
    """

    def __init__(
        self,
        image_size: int = 16,
        erosion_size: int = 3,
        batch_size: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
        predict_dir: str | None = None,
        predict_direction: Literal["AtoB", "BtoA"] = "AtoB",
        jitter: int = 0,
    ):
        super().__init__(
            image_size,
            batch_size,
            value_range,
            val_fraction,
            test_fraction,
            split_seed,
            num_workers,
            drop_last,
            predict_dir,
        )
        if erosion_size < 2:
            raise ConfigurationError(f"erosion_size must be >= 2, got {erosion_size}")
        if predict_direction not in DIRECTIONS:
            raise ConfigurationError(
                f"predict_direction must be 'AtoB' or 'BtoA', got {predict_direction!r}"
            )
        if not 0 <= jitter < image_size // 2:
            raise ConfigurationError(
                f"jitter must be in [0, image_size // 2) = [0, {image_size // 2}), got {jitter}"
            )
        self.erosion_size = erosion_size
        self.predict_direction = predict_direction
        self.jitter = jitter

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Training batches: both domains' images shifted by :func:`shift_images`."""
        trainer = getattr(self, "trainer", None)
        if not self.jitter or trainer is None or not trainer.training:
            return batch
        real_a, real_b, *rest = batch
        low = self.value_range[0]
        return (shift_images(real_a, self.jitter, low), shift_images(real_b, self.jitter, low), *rest)

    def _predict_direction(self) -> str:
        return self.predict_direction

    def transform(self, images: Tensor) -> Tensor:
        """The known A -> B map on [0, 1] images: thinning."""
        return thin_digits(images, self.erosion_size)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels, (train, val, test) = self._split()
        # Disjoint halves of the training split: one for each domain.
        half_a, half_b = stratified_split(labels[train], [0.5, 0.5], self.split_seed + 1)
        idx_a, idx_b = train[half_a], train[half_b]
        r = self.to_range
        self.train_set = UnpairedTensorDataset(
            r(images[idx_a]),
            r(self.transform(images[idx_b])),
            labels[idx_a],
            labels[idx_b],
            random_b=True,
        )
        self.val_set, self.test_set = (
            UnpairedTensorDataset(
                r(images[idx]),
                r(self.transform(images[idx])),
                labels[idx],
                labels[idx],
                random_b=False,
            )
            for idx in (val, test)
        )


class DigitEdgesDataModule(_DigitTranslationDataModule):
    """Paired edge maps (A) -> digits (B), for pix2pix.

    Args:
        image_size: side of the images (16: the 8x8 digits upsampled twice).
        direction: ``AtoB`` (edges -> digit) or ``BtoA`` (digit -> edges).
        batch_size: pairs per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_fraction: fraction of each class held out for validation.
        test_fraction: fraction of each class held out for testing.
        split_seed: seed of the split.
        num_workers: DataLoader workers (0 is fastest: the data is in memory).
        drop_last: drop the last incomplete training batch.
        predict_dir: folder of input images for ``lit-gen predict``.
    """

    def __init__(
        self,
        image_size: int = 16,
        direction: Literal["AtoB", "BtoA"] = "AtoB",
        batch_size: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
        predict_dir: str | None = None,
    ):
        super().__init__(
            image_size,
            batch_size,
            value_range,
            val_fraction,
            test_fraction,
            split_seed,
            num_workers,
            drop_last,
            predict_dir,
        )
        if direction not in DIRECTIONS:
            raise ConfigurationError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        self.direction = direction

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels, parts = self._split()
        edges = edge_maps(images)
        sources, targets = (edges, images) if self.direction == "AtoB" else (images, edges)
        self.train_set, self.val_set, self.test_set = (
            PairedTensorDataset(
                self.to_range(sources[idx]), self.to_range(targets[idx]), labels[idx]
            )
            for idx in parts
        )
