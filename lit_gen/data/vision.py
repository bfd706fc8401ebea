"""Standard image datasets through torchvision: MNIST, Fashion-MNIST, CIFAR-10.

Downloading happens in ``prepare_data`` (once per node, local rank 0) and only when
``download=True``. On cluster nodes without internet, point ``root`` at a pre-downloaded copy;
the expected files are listed in every "not found" message. The datasets are small enough to be
held in memory (as ``uint8``), which keeps data loading far off the critical path.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lit_gen.data.base import ImageDataModule, TensorImageDataset, resize_images, stratified_split
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError


class _InMemoryVisionDataModule(ImageDataModule):
    """Common logic: locate/download files, load train/test tensors, carve a validation split.

    Subclasses define ``name``, ``folder`` (relative to ``root``), ``files``, ``channels``,
    ``native_size``, ``_download`` and ``_load`` (returning uint8 ``(N, C, H, W)`` and labels).
    """

    name = ""
    folder = ""
    files: tuple[str, ...] = ()
    channels = 1
    native_size = 28
    num_labels = 10

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        image_size: int | None = None,
        batch_size: int = 64,
        value_range: tuple[float, float] = (-1.0, 1.0),
        val_size: int = 5000,
        split_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        self.root = os.path.expanduser(root)
        self.download = download
        self.image_size = image_size or self.native_size
        if self.image_size < 4:
            raise ConfigurationError(f"image_size must be >= 4, got {self.image_size}")
        if val_size < 0:
            raise ConfigurationError(f"val_size must be >= 0, got {val_size}")
        self.val_size = val_size
        self.split_seed = split_seed
        self._data_shape = (self.channels, self.image_size, self.image_size)
        self._num_classes = self.num_labels

    @property
    def data_dir(self) -> Path:
        return Path(self.root) / self.folder

    def missing_files(self) -> list[str]:
        return [f for f in self.files if not (self.data_dir / f).is_file()]

    def _not_found(self, missing: list[str], reason: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f"{self.name} not found in {self.data_dir} (missing: {', '.join(missing)}); {reason}. "
            f"Either set data.init_args.download=true on a machine with internet, or copy the "
            f"files {', '.join(self.files)} there (data.init_args.root is the directory that "
            f"contains {self.folder})."
        )

    def prepare_data(self) -> None:
        missing = self.missing_files()
        if not missing:
            return
        if not self.download:
            raise self._not_found(missing, "downloading is disabled (download=false)")
        try:
            self._download()
        except Exception as error:  # torchvision raises RuntimeError/URLError/OSError offline
            detail = [line.strip() for line in str(error).splitlines() if line.strip()]
            raise self._not_found(
                self.missing_files() or missing,
                f"the download failed ({type(error).__name__}: {detail[-1] if detail else 'no detail'})",
            ) from error

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        missing = self.missing_files()
        if missing:
            raise self._not_found(missing, "prepare_data did not fetch them")
        try:
            train_images, train_labels, test_images, test_labels = self._load()
        except (OSError, ValueError, AssertionError, RuntimeError, pickle.UnpicklingError, KeyError, EOFError) as error:
            raise CorruptDataError(
                f"cannot read {self.name} from {self.data_dir}: {type(error).__name__}: {error}. "
                f"Delete the folder and download it again."
            ) from error
        if self.val_size >= len(train_images):
            raise ConfigurationError(
                f"val_size={self.val_size} leaves no training images ({len(train_images)} in all)"
            )
        train_images = resize_images(train_images, self.image_size)
        test_images = resize_images(test_images, self.image_size)
        fraction = self.val_size / len(train_images)
        train_idx, val_idx = stratified_split(train_labels, [1 - fraction, fraction], self.split_seed)
        scale, shift = self._uint8_scale_shift()
        self.train_set = TensorImageDataset(train_images[train_idx], train_labels[train_idx], scale, shift)
        self.val_set = TensorImageDataset(train_images[val_idx], train_labels[val_idx], scale, shift)
        self.test_set = TensorImageDataset(test_images, test_labels, scale, shift)

    def _download(self) -> None:
        raise NotImplementedError

    def _load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        raise NotImplementedError


class MNISTDataModule(_InMemoryVisionDataModule):
    """MNIST (LeCun et al., 1998): 60,000 + 10,000 grey 28x28 digits, torchvision's layout
    ``<root>/MNIST/raw/*-ubyte``.

    Args:
        root: directory that contains (or will contain) ``MNIST/raw``.
        download: fetch the files in ``prepare_data`` when they are missing.
        image_size: resize to this side (default: native 28; DCGAN uses 32 or 64).
        batch_size: images per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        val_size: images held out of the training set for validation (stratified, fixed seed).
        split_seed: seed of that split.
        num_workers: DataLoader workers.
        drop_last: drop the last incomplete training batch.
    """

    name = "MNIST"
    folder = "MNIST/raw"
    files = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
    torchvision_class = "MNIST"

    def _download(self) -> None:
        import torchvision

        dataset_class = getattr(torchvision.datasets, self.torchvision_class)
        dataset_class(self.root, train=True, download=True)
        dataset_class(self.root, train=False, download=True)

    def _load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        from torchvision.datasets.mnist import read_image_file, read_label_file

        tensors = []
        for filename in self.files:
            path = str(self.data_dir / filename)
            try:
                reader = read_image_file if "images" in filename else read_label_file
                tensors.append(reader(path))
            except Exception as error:
                raise ValueError(f"{path} is not a valid IDX file ({error})") from error
        train_images, train_labels, test_images, test_labels = tensors
        for images, labels, filename in ((train_images, train_labels, self.files[0]), (test_images, test_labels, self.files[2])):
            if len(images) != len(labels):
                raise ValueError(f"{filename}: {len(images)} images but {len(labels)} labels")
        return train_images.unsqueeze(1), train_labels, test_images.unsqueeze(1), test_labels


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST (Xiao et al., 2017, arXiv:1708.07747): 10 clothing classes, MNIST's format,
    in ``<root>/FashionMNIST/raw``. Arguments as :class:`MNISTDataModule`."""

    name = "Fashion-MNIST"
    folder = "FashionMNIST/raw"
    torchvision_class = "FashionMNIST"


class CIFAR10DataModule(_InMemoryVisionDataModule):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 + 10,000 color 32x32 images in 10 classes, in the
    official python layout ``<root>/cifar-10-batches-py/{data_batch_1..5,test_batch}``.

    torchvision downloads and checks the archive's MD5; loading reads the pickled batches
    directly. Arguments as :class:`MNISTDataModule` (native size 32).
    """

    name = "CIFAR-10"
    folder = "cifar-10-batches-py"
    files = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
    channels = 3
    native_size = 32

    def _download(self) -> None:
        import torchvision

        torchvision.datasets.CIFAR10(self.root, train=True, download=True)

    def _read_batch(self, filename: str) -> tuple[Tensor, Tensor]:
        path = self.data_dir / filename
        with open(path, "rb") as handle:
            entry = pickle.load(handle, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = entry["labels"] if "labels" in entry else entry["fine_labels"]
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
            raise ValueError(f"{path}: expected data (N, 3072) and N labels, got {data.shape}, {len(labels)}")
        return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.as_tensor(labels, dtype=torch.long)

    def _load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        batches = [self._read_batch(f) for f in self.files[:5]]
        train_images = torch.cat([b[0] for b in batches])
        train_labels = torch.cat([b[1] for b in batches])
        test_images, test_labels = self._read_batch(self.files[5])
        return train_images, train_labels, test_images, test_labels
