"""lit-gen: PyTorch Lightning experiments for autoencoders and generative adversarial networks."""

__version__ = "0.1.0"
