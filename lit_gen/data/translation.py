"""Image-to-image translation data in the official pix2pix and CycleGAN layouts.

``PairedImageDataModule`` (pix2pix, Isola et al., 2017, arXiv:1611.07004) reads

    <root>/<dataset>/train/*.jpg   each file: the A image and the B image side by side (A | B)
    <root>/<dataset>/val/*.jpg     (validation; used for testing when test/ is absent)
    <root>/<dataset>/test/*.jpg    (optional; maps and edges2shoes have none)

``UnpairedImageDataModule`` (CycleGAN, Zhu et al., 2017, arXiv:1703.10593) reads

    <root>/<dataset>/trainA/*.jpg  trainB/*.jpg   two unaligned image collections
    <root>/<dataset>/testA/*.jpg   testB/*.jpg    (validation uses valA/valB when present)

Both download the official archives by name when the folder is absent and ``download`` is on
(the URLs of the official ``datasets/download_pix2pix_dataset.sh`` and
``download_cyclegan_dataset.sh``); cluster nodes without internet point ``root`` at a copy.

Training images get the papers' jitter (official ``--preprocess resize_and_crop``): resize to
``load_size`` x ``load_size`` (bicubic; 286 for 256 px crops, scaled in proportion for other
sizes), random ``image_size`` crop, random horizontal flip; the two halves of a pair share the
crop and the flip, unpaired domains are jittered independently. Validation, test and prediction
images are resized to ``image_size`` without jitter. Unpaired training shuffles A and draws each
A image's B partner uniformly at random (the official ``UnalignedDataset``), the partners from
``(seed, epoch)`` (:class:`~lit_gen.data.base.UnalignedSampler`) so that a resumed run draws the
same ones; an epoch is ``max(|A|, |B|)`` samples.

Both domains have the same number of ``channels`` (images are converted on load). Batches are
``(real_a, real_b)`` with ``real_a`` the translation's input (``direction="BtoA"`` swaps
the halves/domains for paired data). ``predict_dir`` names a folder of single images to
translate with ``lit-gen predict``; its batches are ``{"real", "name", "direction"}``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.utils import download_and_extract_archive
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from lit_gen.data.base import ImageDataModule, ResumableSampler, UnalignedSampler, training_seed
from lit_gen.data.folders import IMAGE_EXTENSIONS, list_images, load_image
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

#: pix2pix's datasets (official download_pix2pix_dataset.sh; cityscapes must be built locally).
PIX2PIX_DATASETS = ("facades", "maps", "edges2shoes", "edges2handbags", "night2day")
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
#: CycleGAN's datasets (official download_cyclegan_dataset.sh; cityscapes must be built locally).
CYCLEGAN_DATASETS = (
    "apple2orange",
    "summer2winter_yosemite",
    "horse2zebra",
    "monet2photo",
    "cezanne2photo",
    "ukiyoe2photo",
    "vangogh2photo",
    "maps",
    "facades",
    "iphone2dslr_flower",
    "ae_photos",
    "grumpifycat",
)
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
CITYSCAPES_NOTE = (
    "Cityscapes cannot be redistributed: download gtFine_trainvaltest.zip and "
    "leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com and build the layout with "
    "the official datasets/prepare_cityscapes_dataset.py"
)
DIRECTIONS = ("AtoB", "BtoA")


def default_load_size(image_size: int) -> int:
    """The jitter's resize target: 286 for 256 px crops (the papers), in proportion otherwise."""
    return int(round(image_size * 286 / 256))


def to_value_range(image: Tensor, value_range: tuple[float, float]) -> Tensor:
    """uint8 ``(C, H, W)`` -> float in ``value_range``."""
    low, high = value_range
    return image.float().mul_((high - low) / 255.0).add_(low)


class Jitter:
    """Resize to ``load_size`` squared (bicubic), crop ``image_size`` at a random place, flip
    with probability 1/2; the same draw is applied to every image passed in one call. With
    ``train=False``: a plain resize to ``image_size`` squared."""

    def __init__(self, image_size: int, load_size: int, flip: bool, train: bool):
        self.image_size = image_size
        self.load_size = load_size
        self.flip = flip
        self.train = train

    def __call__(self, *images: Tensor) -> list[Tensor]:
        size = self.load_size if self.train else self.image_size
        images = [
            TF.resize(im, [size, size], interpolation=InterpolationMode.BICUBIC, antialias=True)
            for im in images
        ]
        if not self.train:
            return images
        top = int(torch.randint(0, size - self.image_size + 1, ()))
        left = int(torch.randint(0, size - self.image_size + 1, ()))
        flip = self.flip and bool(torch.rand(()) < 0.5)
        out = []
        for im in images:
            im = TF.crop(im, top, left, self.image_size, self.image_size)
            out.append(TF.horizontal_flip(im) if flip else im)
        return out


def _read(path: Path, mode: str) -> Tensor:
    """An image file as uint8 ``(C, H, W)``; unreadable files raise ``CorruptDataError``."""
    return TF.pil_to_tensor(load_image(path, mode))


class PairedImageDataset(Dataset):
    """Side-by-side ``A | B`` files -> ``(real_a, real_b)`` (swapped for ``BtoA``)."""

    def __init__(self, paths: list[Path], mode: str, jitter: Jitter, direction: str, value_range):
        self.paths = paths
        self.mode = mode
        self.jitter = jitter
        self.direction = direction
        self.value_range = value_range

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        path = self.paths[index]
        ab = _read(path, self.mode)
        width = ab.shape[-1]
        if width % 2:
            raise CorruptDataError(
                f"{path} is {width} px wide: a pix2pix pair holds the A and B images side by "
                f"side, so its width must be even (two halves of equal width)"
            )
        a, b = ab[..., : width // 2], ab[..., width // 2 :]
        a, b = self.jitter(a, b)
        if self.direction == "BtoA":
            a, b = b, a
        return to_value_range(a, self.value_range), to_value_range(b, self.value_range)


class UnpairedImageDataset(Dataset):
    """Two unaligned collections -> ``(real_a, real_b)``; A in order, B at random (``random_b``)
    or ``index % |B|``; ``max(|A|, |B|)`` samples."""

    def __init__(
        self,
        paths_a: list[Path],
        paths_b: list[Path],
        mode: str,
        jitter: Jitter,
        value_range,
        random_b: bool,
    ):
        self.paths_a = paths_a
        self.paths_b = paths_b
        self.mode = mode
        self.jitter = jitter
        self.value_range = value_range
        self.random_b = random_b

    def __len__(self) -> int:
        return max(len(self.paths_a), len(self.paths_b))

    def __getitem__(self, index: int | tuple[int, int]) -> tuple[Tensor, Tensor]:
        """``index`` of A, or an ``(index_a, index_b)`` pair from an :class:`UnalignedSampler`."""
        if isinstance(index, tuple | list):
            index, index_b = index
        else:
            index_b = (
                int(torch.randint(0, len(self.paths_b), ()))
                if self.random_b
                else index % len(self.paths_b)
            )
        (a,) = self.jitter(_read(self.paths_a[index % len(self.paths_a)], self.mode))
        (b,) = self.jitter(_read(self.paths_b[index_b], self.mode))
        return to_value_range(a, self.value_range), to_value_range(b, self.value_range)


class ImageListDataset(Dataset):
    """Single images to translate -> ``{"real", "name", "direction"}`` (``name``: file stem)."""

    def __init__(self, paths: list[Path], mode: str, image_size: int, value_range, direction: str):
        self.paths = paths
        self.mode = mode
        self.resize = Jitter(image_size, image_size, flip=False, train=False)
        self.value_range = value_range
        self.direction = direction
        self.names = output_names(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        (image,) = self.resize(_read(self.paths[index], self.mode))
        return {
            "real": to_value_range(image, self.value_range),
            "name": self.names[index],
            "direction": self.direction,
        }


class DomainImages(Dataset):
    """The images of one domain, resized without jitter: the reference set of the metrics
    (``reference_set(split, domain)``). Paired data takes one half of each pair."""

    def __init__(
        self, paths: list[Path], mode: str, image_size: int, value_range, half: int | None = None
    ):
        self.paths = paths
        self.mode = mode
        self.resize = Jitter(image_size, image_size, flip=False, train=False)
        self.value_range = value_range
        self.half = half  # 0: left half, 1: right half, None: the whole file

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        image = _read(self.paths[index], self.mode)
        if self.half is not None:
            width = image.shape[-1] // 2
            image = image[..., width * self.half : width * (self.half + 1)]
        (image,) = self.resize(image)
        return to_value_range(image, self.value_range)


def check_domain(split: str, domain: str | None, domains: tuple[str, ...] = ("A", "B")) -> None:
    if split not in ("train", "val", "test"):
        raise ConfigurationError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if domain not in domains:
        raise ConfigurationError(f"domain must be one of {', '.join(domains)}, got {domain!r}")


def image_files(folder: Path, what: str) -> list[Path]:
    """The images in ``folder``, or a ``DatasetNotFoundError`` naming it (missing or empty)."""
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{what}: folder {folder} does not exist")
    files = list_images(folder)
    if not files:
        raise DatasetNotFoundError(
            f"{what}: folder {folder} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return files


def predict_images(
    predict_dir: str | None, image_size: int, channels: int, value_range, direction: str
) -> ImageListDataset:
    """The folder of images ``lit-gen predict`` translates."""
    if not predict_dir:
        raise ConfigurationError(
            "lit-gen predict translates a folder of images: set data.init_args.predict_dir to it "
            "(and data.init_args.predict_direction to AtoB or BtoA for unpaired models)"
        )
    paths = image_files(Path(os.path.expanduser(predict_dir)), "predict_dir")
    return ImageListDataset(
        paths, "L" if channels == 1 else "RGB", image_size, value_range, direction
    )


def output_names(paths: list[Path]) -> list[str]:
    """File stems, or full file names where two stems clash (``a.jpg`` and ``a.png``)."""
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else p.name for p in paths]


class _TranslationFolderDataModule(ImageDataModule):
    """Shared: dataset folder, download of the official archive, jitter, prediction folder."""

    known: tuple[str, ...] = ()
    url = ""
    layout = ""

    def __init__(
        self,
        dataset: str,
        root: str,
        download: bool,
        image_size: int,
        load_size: int | None,
        flip: bool,
        channels: int,
        batch_size: int,
        value_range: tuple[float, float],
        num_workers: int,
        drop_last: bool,
        predict_dir: str | None,
    ):
        super().__init__(batch_size, num_workers, value_range, drop_last)
        if channels not in (1, 3):
            raise ConfigurationError(f"channels must be 1 or 3, got {channels}")
        if image_size < 8:
            raise ConfigurationError(f"image_size must be >= 8, got {image_size}")
        load_size = default_load_size(image_size) if load_size is None else load_size
        if load_size < image_size:
            raise ConfigurationError(
                f"load_size ({load_size}) must be >= image_size ({image_size})"
            )
        self.dataset = dataset
        self.root = os.path.expanduser(root)
        self.download = download
        self.image_size = image_size
        self.load_size = load_size
        self.flip = flip
        self.channels = channels
        self.mode = "L" if channels == 1 else "RGB"
        self.predict_dir = predict_dir
        self.predict_set: Dataset | None = None
        self.files: dict[str, list[Path]] = {}
        self._data_shape = (channels, image_size, image_size)
        self._num_classes = 0

    @property
    def folder(self) -> Path:
        return Path(self.root) / self.dataset

    def _not_found(self, reason: str) -> DatasetNotFoundError:
        how = (
            f"set data.init_args.download=true on a machine with internet (known names: "
            f"{', '.join(self.known)}), or copy the dataset there"
            if self.dataset in self.known
            else f"'{self.dataset}' is not an official dataset name ({', '.join(self.known)}), so it "
            f"cannot be downloaded: put your images there"
        )
        if self.dataset == "cityscapes":
            how = CITYSCAPES_NOTE
        return DatasetNotFoundError(
            f"{type(self).__name__}: {reason}. Expected the layout {self.folder}/{self.layout}; "
            f"{how} (data.init_args.root is the folder holding '{self.dataset}/')."
        )

    def prepare_data(self) -> None:
        if self.folder.is_dir():
            return
        if not self.download:
            raise self._not_found(f"{self.folder} does not exist and download=false")
        if self.dataset not in self.known:
            raise self._not_found(f"{self.folder} does not exist")
        url = self.url.format(name=self.dataset)
        try:
            download_and_extract_archive(url, download_root=self.root, remove_finished=True)
        except Exception as error:  # offline: URLError / OSError / HTTP errors
            (Path(self.root) / os.path.basename(url)).unlink(missing_ok=True)  # partial archive
            if self.folder.is_dir() and not any(self.folder.iterdir()):
                shutil.rmtree(self.folder)
            raise self._not_found(
                f"downloading {url} failed ({type(error).__name__}: {error})"
            ) from error
        if not self.folder.is_dir():
            raise self._not_found(f"the archive {url} did not contain {self.dataset}/")

    def predict_dataloader(self) -> DataLoader:
        if self.predict_set is None:
            self.predict_set = predict_images(
                self.predict_dir,
                self.image_size,
                self.channels,
                self.value_range,
                self._predict_direction(),
            )
        return DataLoader(
            self.predict_set,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
        )

    def _predict_direction(self) -> str:
        return "AtoB"


class PairedImageDataModule(_TranslationFolderDataModule):
    """pix2pix's paired data: side-by-side ``A | B`` images in ``train/``, ``val/``, ``test/``.

    Args:
        dataset: folder name under ``root``; official names download (facades, maps,
            edges2shoes, edges2handbags, night2day).
        root: folder holding the dataset folder.
        download: fetch the official archive when the folder is missing.
        direction: ``AtoB`` (left half -> right half) or ``BtoA``; facades is labels -> photo
            as ``BtoA``, as in the paper.
        image_size: side of the square images fed to the model (256 in the paper).
        load_size: resize before the random crop; ``None``: ``image_size * 286 / 256``. Equal to
            ``image_size``: no crop jitter.
        flip: random horizontal flips for training.
        channels: 3 (RGB) or 1 (grey), for both halves.
        batch_size: pairs per batch (1 in the paper).
        value_range: ``[-1, 1]`` (tanh generators) or ``[0, 1]``.
        num_workers: DataLoader workers decoding images.
        drop_last: drop the last incomplete training batch.
        predict_dir: folder of input images for ``lit-gen predict``.
    """

    known = PIX2PIX_DATASETS
    url = PIX2PIX_URL
    layout = "{train,val,test}/<image> with A|B side by side"

    def __init__(
        self,
        dataset: str = "facades",
        root: str = "data",
        download: bool = True,
        direction: Literal["AtoB", "BtoA"] = "AtoB",
        image_size: int = 256,
        load_size: int | None = None,
        flip: bool = True,
        channels: int = 3,
        batch_size: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_workers: int = 4,
        drop_last: bool = True,
        predict_dir: str | None = None,
    ):
        super().__init__(
            dataset,
            root,
            download,
            image_size,
            load_size,
            flip,
            channels,
            batch_size,
            value_range,
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
        if not self.folder.is_dir():
            raise self._not_found(f"{self.folder} does not exist")
        train = image_files(self.folder / "train", f"{self.dataset} training pairs")
        held_out = [s for s in ("val", "test") if (self.folder / s).is_dir()]
        if not held_out:
            raise self._not_found(f"{self.folder} has neither val/ nor test/")
        val = image_files(self.folder / held_out[0], f"{self.dataset} {held_out[0]} pairs")
        test = image_files(self.folder / held_out[-1], f"{self.dataset} {held_out[-1]} pairs")
        self.files = {"train": train, "val": val, "test": test}
        train_jitter = Jitter(self.image_size, self.load_size, self.flip, train=True)
        plain = Jitter(self.image_size, self.image_size, flip=False, train=False)
        self.train_set = PairedImageDataset(
            train, self.mode, train_jitter, self.direction, self.value_range
        )
        self.val_set = PairedImageDataset(val, self.mode, plain, self.direction, self.value_range)
        self.test_set = PairedImageDataset(test, self.mode, plain, self.direction, self.value_range)

    def reference_set(self, split: str, domain: str | None = None) -> DomainImages:
        """Domain ``A`` (the input side, after ``direction``) or ``B`` images of a split, unjittered."""
        check_domain(split, domain)
        self.setup()
        left = (domain == "A") == (self.direction == "AtoB")
        return DomainImages(
            self.files[split], self.mode, self.image_size, self.value_range, half=0 if left else 1
        )


class UnpairedImageDataModule(_TranslationFolderDataModule):
    """CycleGAN's unpaired data: ``trainA/``, ``trainB/``, ``testA/``, ``testB/``.

    Args:
        dataset: folder name under ``root``; official names download (horse2zebra, apple2orange,
            summer2winter_yosemite, monet2photo, cezanne2photo, ukiyoe2photo, vangogh2photo,
            maps, facades, iphone2dslr_flower, ...).
        root: folder holding the dataset folder.
        download: fetch the official archive when the folder is missing.
        image_size: side of the square images fed to the model (256 in the paper).
        load_size: resize before the random crop; ``None``: ``image_size * 286 / 256``.
        flip: random horizontal flips for training.
        channels: 3 (RGB) or 1 (grey), for both domains.
        batch_size: images of each domain per batch (1 in the paper).
        value_range: ``[-1, 1]`` (tanh generators) or ``[0, 1]``.
        num_workers: DataLoader workers decoding images.
        drop_last: drop the last incomplete training batch.
        predict_dir: folder of images for ``lit-gen predict``.
        predict_direction: ``AtoB`` (the folder holds domain-A images) or ``BtoA``.
    """

    known = CYCLEGAN_DATASETS
    url = CYCLEGAN_URL
    layout = "{trainA,trainB,testA,testB}/<image>"

    def __init__(
        self,
        dataset: str = "horse2zebra",
        root: str = "data",
        download: bool = True,
        image_size: int = 256,
        load_size: int | None = None,
        flip: bool = True,
        channels: int = 3,
        batch_size: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_workers: int = 4,
        drop_last: bool = True,
        predict_dir: str | None = None,
        predict_direction: Literal["AtoB", "BtoA"] = "AtoB",
    ):
        super().__init__(
            dataset,
            root,
            download,
            image_size,
            load_size,
            flip,
            channels,
            batch_size,
            value_range,
            num_workers,
            drop_last,
            predict_dir,
        )
        if predict_direction not in DIRECTIONS:
            raise ConfigurationError(
                f"predict_direction must be 'AtoB' or 'BtoA', got {predict_direction!r}"
            )
        self.predict_direction = predict_direction

    def _predict_direction(self) -> str:
        return self.predict_direction

    def _train_sampler(self, dataset: Dataset) -> ResumableSampler:
        if (
            isinstance(dataset, UnpairedImageDataset) and dataset.random_b
        ):  # B partners from (seed, epoch)
            return UnalignedSampler(
                dataset, len(dataset.paths_b), shuffle=True, seed=training_seed()
            )
        return super()._train_sampler(dataset)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self.folder.is_dir():
            raise self._not_found(f"{self.folder} does not exist")
        files = {}
        for split in ("train", "test"):
            for domain in "AB":
                files[split + domain] = image_files(
                    self.folder / f"{split}{domain}", f"{self.dataset} domain {domain} ({split})"
                )
        val_split = (
            "val" if (self.folder / "valA").is_dir() and (self.folder / "valB").is_dir() else "test"
        )
        if val_split == "val":
            for domain in "AB":
                files["val" + domain] = image_files(
                    self.folder / f"val{domain}", f"{self.dataset} domain {domain} (val)"
                )
        self.files = {**files, **{"val" + d: files[val_split + d] for d in "AB"}}
        train_jitter = Jitter(self.image_size, self.load_size, self.flip, train=True)
        plain = Jitter(self.image_size, self.image_size, flip=False, train=False)
        self.train_set = UnpairedImageDataset(
            files["trainA"],
            files["trainB"],
            self.mode,
            train_jitter,
            self.value_range,
            random_b=True,
        )
        self.val_set = UnpairedImageDataset(
            files[val_split + "A"],
            files[val_split + "B"],
            self.mode,
            plain,
            self.value_range,
            random_b=False,
        )
        self.test_set = UnpairedImageDataset(
            files["testA"], files["testB"], self.mode, plain, self.value_range, random_b=False
        )

    def reference_set(self, split: str, domain: str | None = None) -> DomainImages:
        """The images of domain ``A`` or ``B`` of a split, unjittered (``val``: valA/valB or the
        test folders)."""
        check_domain(split, domain)
        self.setup()
        return DomainImages(
            self.files[split + domain], self.mode, self.image_size, self.value_range
        )
