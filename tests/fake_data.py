"""Tiny datasets written in the real on-disk formats, so loading code is tested for real.

Each writer returns the ``root`` to give the data module. Register a writer for every data
module class that reads files in ``WRITERS`` (used by the config tests).
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format of MNIST (big-endian header: magic 0x0000080{ndim}, then dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", 0x0800 | array.ndim))
        handle.write(struct.pack(f">{array.ndim}I", *array.shape))
        handle.write(array.tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """``<root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` with random digits."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return root


def write_fashion_mnist(root: Path, **kwargs) -> Path:
    return write_mnist(root, folder="FashionMNIST", **kwargs)


def write_cifar10(root: Path, per_batch: int = 20, n_test: int = 20, seed: int = 0) -> Path:
    """``<root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}`` (python pickles)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else per_batch
        entry = {
            "batch_label": name,
            "labels": [int(i % 10) for i in range(n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(entry, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": per_batch}, handle)
    return root


def write_image_folder(root: Path, classes: int = 2, per_class: int = 12, size: int = 20, mode: str = "RGB", seed: int = 0) -> Path:
    """``<root>/class_<k>/<i>.png`` random images."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    for k in range(classes):
        folder = root / f"class_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
            Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(folder / f"{i}.png")
    return root


def write_celeba(root: Path, n: int = 12, seed: int = 0) -> Path:
    """``<root>/celeba/img_align_celeba/<6 digits>.jpg`` (178x218 JPEGs, as the real ones),
    ``list_attr_celeba.txt`` (count, 40 names, rows of -1/1 with the file's double spaces) and
    ``list_eval_partition.txt`` (the first 2/3 train, then validation and test)."""
    from lit_gen.data.celeba import CELEBA_ATTRIBUTES

    rng = np.random.default_rng(seed)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    rows = []
    for name in names:
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8), "RGB").save(folder / "img_align_celeba" / name)
        values = rng.choice(["-1", " 1"], len(CELEBA_ATTRIBUTES))
        rows.append(f"{name} " + " ".join(values))
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n")
    splits = [0 if i < 2 * n // 3 else (1 if i < 5 * n // 6 else 2) for i in range(n)]
    (folder / "list_eval_partition.txt").write_text("".join(f"{name} {s}\n" for name, s in zip(names, splits, strict=True)))
    return root


def write_paired_images(root: Path, name: str = "tiny", counts=(("train", 6), ("val", 3), ("test", 3)), size: int = 40, seed: int = 0) -> Path:
    """pix2pix's layout: ``<root>/<name>/{train,val,test}/<i>.jpg``, each A | B side by side
    (``size`` x ``2 * size`` JPEGs, as the official archives)."""
    rng = np.random.default_rng(seed)
    for split, n in counts:
        folder = root / name / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(folder / f"{i + 1}.jpg")
    return root


def write_unpaired_images(root: Path, name: str = "tiny", counts=(("trainA", 5), ("trainB", 7), ("testA", 3), ("testB", 2)), size: int = 40, seed: int = 0) -> Path:
    """CycleGAN's layout: ``<root>/<name>/{trainA,trainB,testA,testB}/<i>.jpg``."""
    rng = np.random.default_rng(seed)
    for split, n in counts:
        folder = root / name / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(folder / f"{split}_{i}.jpg")
    return root


_TRANSLATION_OVERRIDES = [
    "--data.init_args.dataset=tiny", "--data.init_args.download=false", "--data.init_args.image_size=24",
    "--data.init_args.num_workers=0",
]

#: data module class name -> (writer of a tiny copy in its real format, CLI overrides that fit
#: the tiny copy). The writer's return value is passed as ``--data.init_args.root``.
WRITERS = {
    "MNISTDataModule": (write_mnist, ["--data.init_args.download=false", "--data.init_args.val_size=20"]),
    "FashionMNISTDataModule": (write_fashion_mnist, ["--data.init_args.download=false", "--data.init_args.val_size=20"]),
    # batch 8: the CIFAR-10 GAN configs run 4M-parameter ResNets (batch and image grids scale with it)
    "CIFAR10DataModule": (write_cifar10, ["--data.init_args.download=false", "--data.init_args.val_size=20", "--data.init_args.batch_size=8"]),
    "CelebADataModule": (write_celeba, ["--data.init_args.download=false", "--data.init_args.num_workers=0", "--data.init_args.batch_size=4"]),
    "ImageFolderDataModule": (write_image_folder, ["--data.init_args.val_fraction=0.2", "--data.init_args.test_fraction=0.2"]),
    "PairedImageDataModule": (write_paired_images, _TRANSLATION_OVERRIDES),
    "UnpairedImageDataModule": (write_unpaired_images, _TRANSLATION_OVERRIDES),
}
