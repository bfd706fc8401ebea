"""Images from a folder on disk.

``ImageFolderDataModule`` reads either torchvision's class layout (``root/<class>/<image>``) or a
flat folder of images (one class). Images are decoded lazily by DataLoader workers, resized
(shorter side) and center-cropped to ``image_size``. An unreadable file fails with its path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2

from lit_gen.data.base import ImageDataModule, stratified_split
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def load_image(path: str | Path, mode: str) -> Image.Image:
    """Open an image and convert it to ``mode`` ("L" or "RGB"); a bad file names itself."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise CorruptDataError(
            f"cannot read image {path} ({type(error).__name__}: {error}); remove or replace the file"
        ) from error


class Rescale:
    """Map a float image in [0, 1] to ``value_range`` (a class, so workers can pickle it)."""

    def __init__(self, value_range: tuple[float, float]):
        self.low, self.high = value_range

    def __call__(self, image: Tensor) -> Tensor:
        return image * (self.high - self.low) + self.low


def image_transform(image_size: int, value_range: tuple[float, float], crop: bool = True) -> Callable:
    """PIL image -> float tensor in ``value_range``: resize the shorter side, center crop."""
    steps = [v2.PILToTensor(), v2.Resize(image_size, antialias=True)]
    if crop:
        steps.append(v2.CenterCrop(image_size))
    steps += [v2.ToDtype(torch.float32, scale=True), Rescale(value_range)]
    return v2.Compose(steps)


class ImageFileDataset(Dataset):
    """A list of image files with labels, decoded on access.

    Args:
        paths: image files.
        labels: one integer label per file.
        mode: PIL mode, "L" (grey) or "RGB".
        transform: PIL image -> tensor.
    """

    def __init__(self, paths: list[Path], labels: list[int], mode: str, transform: Callable):
        self.paths = paths
        self.labels = labels
        self.mode = mode
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.transform(load_image(self.paths[index], self.mode)), self.labels[index]


class ImageFolderDataModule(ImageDataModule):
    """A folder of images, with or without class subfolders, split deterministically.

    Layouts accepted: ``root/<class_name>/*.png`` (labels from sorted class names, as
    torchvision's ``ImageFolder``) or ``root/*.png`` (a single class).

    Args:
        root: the folder.
        image_size: side of the square crop fed to the model.
        channels: 1 (grey) or 3 (RGB); images are converted.
        batch_size: images per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_fraction: fraction of each class held out for validation.
        test_fraction: fraction of each class held out for testing.
        split_seed: seed of the split.
        num_workers: DataLoader workers decoding images.
        drop_last: drop the last incomplete training batch.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        split_seed: int = 0,
        num_workers: int = 4,
        drop_last: bool = True,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        if channels not in (1, 3):
            raise ConfigurationError(f"channels must be 1 or 3, got {channels}")
        self.root = Path(os.path.expanduser(root))
        self.image_size = image_size
        self.channels = channels
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self._data_shape = (channels, image_size, image_size)
        self.class_names: list[str] = []
        self._num_classes = 0

    def _scan(self) -> tuple[list[Path], list[int]]:
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"image folder {self.root} does not exist; expected {self.root}/<class>/<image> "
                f"or {self.root}/<image> with extensions {', '.join(IMAGE_EXTENSIONS)}"
            )
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        groups = [(d.name, list_images(d)) for d in class_dirs]
        groups = [(name, files) for name, files in groups if files]
        if not groups:
            groups = [(self.root.name, list_images(self.root))]
        paths = [p for _, files in groups for p in files]
        if not paths:
            raise DatasetNotFoundError(
                f"no images in {self.root} (looked for {', '.join(IMAGE_EXTENSIONS)} files in the "
                f"folder and in its class subfolders)"
            )
        self.class_names = [name for name, _ in groups]
        self._num_classes = len(groups)
        labels = [label for label, (_, files) in enumerate(groups) for _ in files]
        return paths, labels

    def prepare_data(self) -> None:
        self._scan()

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        paths, labels = self._scan()
        label_tensor = torch.as_tensor(labels)
        parts = stratified_split(
            label_tensor,
            [1 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction],
            self.split_seed,
        )
        mode = "L" if self.channels == 1 else "RGB"
        transform = image_transform(self.image_size, self.value_range)
        self.train_set, self.val_set, self.test_set = (
            ImageFileDataset([paths[i] for i in idx], [labels[i] for i in idx], mode, transform)
            for idx in parts
        )
