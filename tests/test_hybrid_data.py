"""Data for the applications and the attribute models: digits with excluded classes or few
labels, the digits "thick" attribute, and CelebA read from its real on-disk format."""

from __future__ import annotations

import pytest
import torch

from lit_gen.data import CelebADataModule, DigitsAttributesDataModule, DigitsDataModule
from lit_gen.data.celeba import CELEBA_ATTRIBUTES
from lit_gen.data.digits import ink_mass
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

from fake_data import write_celeba


def _setup(module):
    module.setup()
    return module


def test_digits_defaults_are_unchanged():
    data = _setup(DigitsDataModule())
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (1259, 269, 269)


def test_excluded_classes_leave_train_and_val_only():
    full = _setup(DigitsDataModule())
    data = _setup(DigitsDataModule(exclude_classes=[9, 3]))
    for split in ("train_set", "val_set"):
        labels = getattr(data, split).labels
        assert not torch.isin(labels, torch.tensor([3, 9])).any()
        kept = getattr(full, split).labels
        assert len(labels) == int((~torch.isin(kept, torch.tensor([3, 9]))).sum())
    torch.testing.assert_close(data.test_set.images, full.test_set.images)  # the test split is untouched
    assert data.num_classes == 10
    with pytest.raises(ConfigurationError, match="exclude_classes must be digits 0-9"):
        DigitsDataModule(exclude_classes=[10])
    with pytest.raises(ConfigurationError, match="leaving at least one class"):
        DigitsDataModule(exclude_classes=range(10))


def test_few_labels_per_class_are_a_fixed_subset_of_the_training_split():
    full = _setup(DigitsDataModule())
    data = _setup(DigitsDataModule(train_per_class=5))
    assert torch.equal(torch.bincount(data.train_set.labels), torch.full((10,), 5))
    again = _setup(DigitsDataModule(train_per_class=5))
    torch.testing.assert_close(data.train_set.images, again.train_set.images)
    # every kept image is a training image of the full split (no leak from validation or test)
    flat_full = full.train_set.images.flatten(1)
    assert all((flat_full == image.flatten()).all(1).any() for image in data.train_set.images)
    assert len(data.val_set) == 269 and len(data.test_set) == 269
    with pytest.raises(ConfigurationError, match="has only"):
        _setup(DigitsDataModule(train_per_class=1000))


def test_thick_attribute_splits_each_class_at_its_median():
    data = _setup(DigitsAttributesDataModule(image_size=16, value_range=(-1.0, 1.0)))
    assert data.num_attributes == 1 and data.num_classes == 0 and data.attribute_names == ("thick",)
    images, attributes = data.train_set.tensors()
    assert attributes.shape == (len(images), 1) and attributes.dtype == torch.long
    classes = data.class_labels["train"]
    for digit in range(10):
        share = attributes[classes == digit].float().mean()
        assert 0.4 <= share <= 0.5  # strictly above the median: at most half
    # the attribute is recomputed from any image (e.g. a model's output) the same way
    assert torch.equal(data.attribute_of(images, classes), attributes)
    thicker = data.attribute_of((images + 0.6).clamp(-1, 1), classes)
    assert thicker.float().mean() > 0.95
    assert ink_mass(torch.ones(2, 1, 4, 4)).tolist() == [1.0, 1.0]


def test_celeba_reads_the_real_format(tmp_path):
    root = write_celeba(tmp_path / "data", n=12)
    data = CelebADataModule(root=str(root), attributes=["Smiling", "Male"], image_size=16, num_workers=0, batch_size=4)
    data.prepare_data()
    data.setup()
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (8, 2, 2)
    assert data.data_shape == (3, 16, 16) and data.num_attributes == 2
    # attributes in the requested order, -1 -> 0, read from the file
    lines = (root / "celeba" / "list_attr_celeba.txt").read_text().splitlines()
    names = lines[1].split()
    first = lines[2].split()
    expected = [int(first[1 + names.index(a)] == "1") for a in ("Smiling", "Male")]
    image, attributes = data.train_set[0]
    assert attributes.tolist() == expected
    images, batch_attributes = next(iter(data.train_dataloader()))
    assert images.shape == (4, 3, 16, 16) and batch_attributes.shape == (4, 2)
    assert images.min() >= -1 and images.max() <= 1


def test_celeba_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="unknown: \\['Smile'\\]"):
        CelebADataModule(attributes=["Smile"])
    missing = CelebADataModule(root=str(tmp_path / "nowhere"), download=False)
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba/, list_attr_celeba.txt.*quota"):
        missing.prepare_data()
    root = write_celeba(tmp_path / "data", n=6)
    attr_file = root / "celeba" / "list_attr_celeba.txt"
    lines = attr_file.read_text().splitlines()
    lines[3] = lines[3].replace("-1", "0", 1)
    attr_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptDataError, match="list_attr_celeba.txt, line 4"):
        CelebADataModule(root=str(root), num_workers=0).setup()
    assert len(CELEBA_ATTRIBUTES) == 40
