"""LightningModules, one file per family of papers."""

from lit_gen.models.aae import AdversarialAutoEncoder
from lit_gen.models.autoencoder import (
    AutoEncoder,
    ContractiveAutoEncoder,
    DenoisingAutoEncoder,
    SparseAutoEncoder,
)
from lit_gen.models.base import GenerativeModule
from lit_gen.models.classifier import EncoderClassifier
from lit_gen.models.conditional_gan import ACGAN, ConditionalGAN
from lit_gen.models.cyclegan import CycleGAN
from lit_gen.models.fader import FaderNetwork
from lit_gen.models.gan import GAN
from lit_gen.models.pix2pix import Pix2Pix
from lit_gen.models.sparse_coding import SparseCoding
from lit_gen.models.vae import VAE, ConditionalVAE

__all__ = [
    "ACGAN",
    "AdversarialAutoEncoder",
    "AutoEncoder",
    "ConditionalGAN",
    "ConditionalVAE",
    "ContractiveAutoEncoder",
    "CycleGAN",
    "DenoisingAutoEncoder",
    "EncoderClassifier",
    "FaderNetwork",
    "GAN",
    "GenerativeModule",
    "Pix2Pix",
    "SparseAutoEncoder",
    "SparseCoding",
    "VAE",
]
