"""LightningModules, one file per family of papers."""

from lit_gen.models.autoencoder import (
    AutoEncoder,
    ContractiveAutoEncoder,
    DenoisingAutoEncoder,
    SparseAutoEncoder,
)
from lit_gen.models.base import GenerativeModule
from lit_gen.models.cyclegan import CycleGAN
from lit_gen.models.gan import GAN
from lit_gen.models.pix2pix import Pix2Pix
from lit_gen.models.vae import VAE, ConditionalVAE

__all__ = [
    "AutoEncoder",
    "ConditionalVAE",
    "ContractiveAutoEncoder",
    "CycleGAN",
    "DenoisingAutoEncoder",
    "GAN",
    "GenerativeModule",
    "Pix2Pix",
    "SparseAutoEncoder",
    "VAE",
]
