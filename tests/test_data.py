"""Data modules: the embedded digits, torchvision datasets read from their real on-disk formats,
image folders, and the messages users get when data is missing or broken."""

from __future__ import annotations

import pytest
import torch

from lit_gen.data import (
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    TensorImageDataset,
)
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

from fake_data import write_cifar10, write_fashion_mnist, write_image_folder, write_mnist


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_digits_sizes_ranges_and_split(size, value_range):
    data = DigitsDataModule(image_size=size, value_range=value_range, batch_size=32)
    data.setup()
    assert data.data_shape == (1, size, size) and data.num_classes == 10
    sizes = [len(s) for s in (data.train_set, data.val_set, data.test_set)]
    assert sum(sizes) == 1797 and sizes[1] == sizes[2] and 265 <= sizes[1] <= 275
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (32, 1, size, size) and images.dtype == torch.float32
    assert labels.shape == (32,) and labels.dtype == torch.long
    everything, _ = data.train_set.tensors()
    assert everything.min().item() == pytest.approx(value_range[0])
    assert everything.max().item() == pytest.approx(value_range[1], abs=1e-3)


def test_digits_split_is_deterministic_stratified_and_disjoint():
    a, b = DigitsDataModule(), DigitsDataModule()
    a.setup()
    b.setup()
    for name in ("train_set", "val_set", "test_set"):
        torch.testing.assert_close(getattr(a, name).images, getattr(b, name).images)
    counts = torch.bincount(a.test_set.labels, minlength=10)
    assert counts.min() >= 26 and counts.max() <= 28  # 15% of each class (~27)
    train_rows = {tuple(r.tolist()) for r in a.train_set.images.flatten(1)}
    overlap = sum(tuple(r.tolist()) in train_rows for r in a.test_set.images.flatten(1))
    assert overlap <= 2  # the raw digits contain a couple of exact duplicate images, no more
    other = DigitsDataModule(split_seed=1)
    other.setup()
    assert not torch.equal(other.test_set.images, a.test_set.images)


def test_batched_fetch_equals_per_item_fetch():
    dataset = TensorImageDataset(torch.arange(40, dtype=torch.uint8).view(10, 1, 2, 2), torch.arange(10), scale=0.5, shift=-1.0)
    images, labels = dataset.__getitems__([3, 1, 7])
    for row, i in enumerate([3, 1, 7]):
        torch.testing.assert_close(images[row], dataset[i][0])
        assert labels[row] == dataset[i][1]
    torch.testing.assert_close(dataset[2][0], torch.tensor([[[8.0, 9.0], [10.0, 11.0]]]) * 0.5 - 1.0)


def test_bad_value_range_is_refused():
    with pytest.raises(ConfigurationError, match="value_range must be"):
        DigitsDataModule(value_range=(0.0, 255.0))


@pytest.mark.parametrize(
    "module,writer,channels",
    [(MNISTDataModule, write_mnist, 1), (FashionMNISTDataModule, write_fashion_mnist, 1), (CIFAR10DataModule, write_cifar10, 3)],
)
def test_torchvision_datasets_load_from_their_real_format(tmp_path, module, writer, channels):
    root = writer(tmp_path / "data")
    data = module(root=str(root), download=False, val_size=20, batch_size=8, image_size=16)
    data.prepare_data()
    data.setup()
    assert data.data_shape == (channels, 16, 16) and data.num_classes == 10
    train_size = 120 if channels == 1 else 100
    assert len(data.train_set) == train_size - 20 and len(data.val_set) == 20 and len(data.test_set) in (20, 40)
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (8, channels, 16, 16)
    assert images.min() >= -1 and images.max() <= 1 and labels.max() < 10


def test_missing_dataset_offline_names_the_expected_files(tmp_path):
    data = MNISTDataModule(root=str(tmp_path / "nothing"), download=False)
    with pytest.raises(DatasetNotFoundError) as info:
        data.prepare_data()
    message = str(info.value)
    assert "MNIST not found in" in message and "train-images-idx3-ubyte" in message
    assert "download=true" in message and "\n" not in message


def test_failed_download_is_reported_with_the_reason(tmp_path):
    """No internet here: the real download code runs and fails; the message says why."""
    data = CIFAR10DataModule(root=str(tmp_path / "nothing"), download=True)
    with pytest.raises(DatasetNotFoundError, match="download failed .*data_batch_1"):
        data.prepare_data()


def test_corrupt_idx_file_is_reported(tmp_path):
    root = write_mnist(tmp_path / "data")
    (root / "MNIST/raw/train-images-idx3-ubyte").write_bytes(b"not an idx file")
    data = MNISTDataModule(root=str(root), download=False, val_size=10)
    with pytest.raises(CorruptDataError, match="cannot read MNIST.*train-images-idx3-ubyte"):
        data.setup()


def test_image_folder_with_classes_and_flat(tmp_path):
    root = write_image_folder(tmp_path / "faces", classes=3, per_class=10, size=24)
    data = ImageFolderDataModule(str(root), image_size=16, channels=3, batch_size=4, val_fraction=0.2, test_fraction=0.2, num_workers=0)
    data.setup()
    assert data.num_classes == 3 and data.class_names == ["class_0", "class_1", "class_2"]
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (18, 6, 6)
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (4, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    flat = write_image_folder(tmp_path / "flat", classes=1, per_class=8, mode="L") / "class_0"
    grey = ImageFolderDataModule(str(flat), image_size=8, channels=1, num_workers=0, val_fraction=0.25, test_fraction=0.25)
    grey.setup()
    assert grey.num_classes == 1 and grey.data_shape == (1, 8, 8) and len(grey.train_set) == 4


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ImageFolderDataModule(str(tmp_path / "missing")).setup()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no images in"):
        ImageFolderDataModule(str(tmp_path / "empty")).setup()
    root = write_image_folder(tmp_path / "broken", classes=1, per_class=4)
    bad = root / "class_0" / "2.png"
    bad.write_bytes(b"\x89PNG truncated")
    data = ImageFolderDataModule(str(root), image_size=8, num_workers=0, val_fraction=0.0, test_fraction=0.0, batch_size=4)
    data.setup()
    with pytest.raises(CorruptDataError, match=f"cannot read image {bad}"):
        next(iter(data.train_dataloader()))
