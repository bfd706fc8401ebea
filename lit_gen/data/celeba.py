"""CelebA (Liu et al., 2015, "Deep Learning Face Attributes in the Wild", ICCV): 202,599 aligned
and cropped celebrity faces (178x218 JPEG) with 40 binary attributes and an official
train/validation/test partition (162,770 / 19,867 / 19,962 images).

The on-disk layout is the official one, which torchvision's ``CelebA`` also uses::

    <root>/celeba/img_align_celeba/000001.jpg ... 202599.jpg
    <root>/celeba/list_attr_celeba.txt       # count, 40 attribute names, "000001.jpg -1 1 ..."
    <root>/celeba/list_eval_partition.txt    # "000001.jpg 0" (0 train, 1 validation, 2 test)

Downloading goes through torchvision (``download: true``), which fetches the files from Google
Drive with ``gdown``; Google Drive often refuses with "quota exceeded" for this dataset, in which
case download the files by hand (see the error message). Loading reads the two text files
directly: torchvision's loader insists on three further annotation files (identity, boxes,
landmarks) and checks their MD5 sums, which a copy made by hand or a subset does not pass.
Images are decoded lazily by the DataLoader workers, center-cropped (``crop_size``, 178 in the
Fader networks paper) and resized to ``image_size``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torchvision.transforms import v2

from lit_gen.data.base import ImageDataModule
from lit_gen.data.folders import ImageFileDataset, Rescale
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

#: The 40 attributes, in the order of ``list_attr_celeba.txt``.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)
IMAGE_FOLDER = "img_align_celeba"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
SPLITS = {"train": 0, "val": 1, "test": 2}


def read_attribute_file(path: Path) -> tuple[list[str], list[str], torch.Tensor]:
    """Parse ``list_attr_celeba.txt``: attribute names, file names and a ``(N, 40)`` int64
    tensor in {0, 1} (the file's -1 becomes 0). Format errors name the file and line."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CorruptDataError(f"cannot read {path} ({type(error).__name__}: {error})") from error
    if len(lines) < 2:
        raise CorruptDataError(f"{path}: expected a count line and a line of attribute names")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise CorruptDataError(f"{path}, line 1: expected the number of images, got {lines[0][:50]!r}") from None
    names = lines[1].split()
    rows = [line.split() for line in lines[2:] if line.strip()]
    if len(rows) != count:
        raise CorruptDataError(f"{path}: the header announces {count} images but {len(rows)} lines follow")
    files, values = [], []
    for number, row in enumerate(rows, start=3):
        if len(row) != len(names) + 1 or any(v not in ("1", "-1") for v in row[1:]):
            raise CorruptDataError(
                f"{path}, line {number}: expected a file name and {len(names)} values in {{-1, 1}}, "
                f"got {' '.join(row)[:80]!r}"
            )
        files.append(row[0])
        values.append([v == "1" for v in row[1:]])
    return names, files, torch.tensor(values, dtype=torch.long).reshape(len(files), len(names))


def read_partition_file(path: Path) -> dict[str, int]:
    """Parse ``list_eval_partition.txt``: file name -> 0 (train), 1 (validation) or 2 (test)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CorruptDataError(f"cannot read {path} ({type(error).__name__}: {error})") from error
    partition = {}
    for number, line in enumerate(lines, start=1):
        row = line.split()
        if not row:
            continue
        if len(row) != 2 or row[1] not in ("0", "1", "2"):
            raise CorruptDataError(f"{path}, line {number}: expected '<file> <0|1|2>', got {line[:80]!r}")
        partition[row[0]] = int(row[1])
    return partition


class CelebADataModule(ImageDataModule):
    """CelebA faces with a chosen set of binary attributes, on the official partition.

    Batches are ``(images, attributes)``: images ``(N, 3, S, S)`` in ``value_range``, attributes
    ``(N, K)`` int64 in {0, 1}, in the order of ``attributes``.

    Args:
        root: directory containing ``celeba/`` (see the module docstring for the layout).
        attributes: attribute names to yield (default: all 40), e.g. ``[Male, Young, Eyeglasses]``.
        download: fetch the dataset with torchvision (Google Drive, needs ``gdown``) when files
            are missing.
        image_size: side of the square images fed to the model.
        crop_size: side of the center crop taken from the 178x218 images before resizing (178:
            the whole width, as in the Fader networks paper).
        flip: random horizontal flips of training images (the Fader networks paper does so).
        batch_size: images per batch.
        value_range: ``[-1, 1]`` or ``[0, 1]``.
        num_workers: DataLoader workers decoding JPEGs.
        drop_last: drop the last incomplete training batch.
    """

    def __init__(
        self,
        root: str = "data",
        attributes: Sequence[str] | None = None,
        download: bool = False,
        image_size: int = 64,
        crop_size: int = 178,
        flip: bool = True,
        batch_size: int = 64,
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_workers: int = 4,
        drop_last: bool = True,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        attributes = list(CELEBA_ATTRIBUTES if attributes is None else attributes)
        unknown = [a for a in attributes if a not in CELEBA_ATTRIBUTES]
        if unknown or not attributes or len(set(attributes)) != len(attributes):
            raise ConfigurationError(
                f"attributes must be distinct CelebA attribute names; unknown: {unknown or 'none'}"
                f"{' (empty list)' if not attributes else ''}. Valid names: {', '.join(CELEBA_ATTRIBUTES)}"
            )
        if image_size < 4 or not 0 < crop_size <= 178:
            raise ConfigurationError(f"image_size must be >= 4 and crop_size in [1, 178], got {image_size}, {crop_size}")
        self.root = os.path.expanduser(root)
        self.attribute_names = tuple(attributes)
        self.download = download
        self.image_size = image_size
        self.crop_size = crop_size
        self.flip = flip
        self._data_shape = (3, image_size, image_size)
        self._num_classes = 0  # the loaders yield attributes, not classes

    @property
    def num_attributes(self) -> int:
        """Number of binary attributes per image."""
        return len(self.attribute_names)

    @property
    def data_dir(self) -> Path:
        return Path(self.root) / "celeba"

    def missing_files(self) -> list[str]:
        missing = [f for f in (ATTRIBUTE_FILE, PARTITION_FILE) if not (self.data_dir / f).is_file()]
        if not (self.data_dir / IMAGE_FOLDER).is_dir():
            missing.insert(0, f"{IMAGE_FOLDER}/")
        return missing

    def _not_found(self, missing: list[str], reason: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f"CelebA not found in {self.data_dir} (missing: {', '.join(missing)}); {reason}. "
            f"Expected {IMAGE_FOLDER}/*.jpg, {ATTRIBUTE_FILE} and {PARTITION_FILE} there "
            f"(data.init_args.root is the directory that contains celeba/). torchvision downloads "
            f"CelebA from Google Drive, whose quota for it is often exceeded: if so, download "
            f"img_align_celeba.zip, {ATTRIBUTE_FILE} and {PARTITION_FILE} by hand from "
            f"https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive or Baidu links) and "
            f"unzip the images into {self.data_dir / IMAGE_FOLDER}."
        )

    def prepare_data(self) -> None:
        missing = self.missing_files()
        if not missing:
            return
        if not self.download:
            raise self._not_found(missing, "downloading is disabled (download=false)")
        try:
            import torchvision

            torchvision.datasets.CelebA(self.root, split="all", target_type="attr", download=True)
        except Exception as error:  # gdown missing, quota exceeded, offline, bad checksum
            detail = [line.strip() for line in str(error).splitlines() if line.strip()]
            raise self._not_found(
                self.missing_files() or missing,
                f"the download failed ({type(error).__name__}: {detail[-1] if detail else 'no detail'})",
            ) from error

    def _transforms(self, train: bool):
        steps = [v2.PILToTensor(), v2.CenterCrop(self.crop_size), v2.Resize(self.image_size, antialias=True)]
        if train and self.flip:
            steps.append(v2.RandomHorizontalFlip())
        steps += [v2.ToDtype(torch.float32, scale=True), Rescale(self.value_range)]
        return v2.Compose(steps)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        missing = self.missing_files()
        if missing:
            raise self._not_found(missing, "prepare_data did not fetch them")
        names, files, values = read_attribute_file(self.data_dir / ATTRIBUTE_FILE)
        absent = [a for a in self.attribute_names if a not in names]
        if absent:
            raise CorruptDataError(f"{self.data_dir / ATTRIBUTE_FILE} has no column for {', '.join(absent)}")
        columns = [names.index(a) for a in self.attribute_names]
        values = values[:, columns]
        partition = read_partition_file(self.data_dir / PARTITION_FILE)
        unlisted = [f for f in files if f not in partition]
        if unlisted:
            raise CorruptDataError(
                f"{self.data_dir / PARTITION_FILE} does not list {len(unlisted)} images of "
                f"{ATTRIBUTE_FILE} (e.g. {unlisted[0]})"
            )
        folder = self.data_dir / IMAGE_FOLDER
        splits = {}
        for split, code in SPLITS.items():
            index = [i for i, f in enumerate(files) if partition[f] == code]
            splits[split] = ImageFileDataset(
                [folder / files[i] for i in index], values[index], "RGB", self._transforms(split == "train")
            )
        if len(splits["train"]) == 0:
            raise CorruptDataError(f"{self.data_dir / PARTITION_FILE} assigns no image to the training split (0)")
        self.train_set, self.val_set, self.test_set = splits["train"], splits["val"], splits["test"]
