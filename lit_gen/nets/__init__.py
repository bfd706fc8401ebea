"""Plain ``nn.Module`` networks (no Lightning), by architecture and role."""

from lit_gen.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gen.nets.mlp import MLPDiscriminator, MLPGenerator
from lit_gen.nets.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
]
