"""LightningDataModules: the embedded digits, torchvision datasets, CelebA, image folders and 2-D
mixtures of Gaussians."""

from lit_gen.data.base import ImageDataModule, TensorImageDataset
from lit_gen.data.celeba import CelebADataModule
from lit_gen.data.digits import DigitsAttributesDataModule, DigitsDataModule
from lit_gen.data.folders import ImageFolderDataModule
from lit_gen.data.toy2d import Toy2DDataModule
from lit_gen.data.translation import PairedImageDataModule, UnpairedImageDataModule
from lit_gen.data.translation_digits import DigitEdgesDataModule, DigitThinningDataModule
from lit_gen.data.vision import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "CIFAR10DataModule",
    "CelebADataModule",
    "DigitsAttributesDataModule",
    "DigitEdgesDataModule",
    "DigitThinningDataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "PairedImageDataModule",
    "TensorImageDataset",
    "Toy2DDataModule",
    "UnpairedImageDataModule",
]
