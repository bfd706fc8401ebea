"""Small building blocks shared by the networks (no Lightning here)."""

from __future__ import annotations

from torch import nn

from lit_gen.errors import ConfigurationError

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": lambda: nn.ELU(),
    "gelu": lambda: nn.GELU(),
    "tanh": lambda: nn.Tanh(),
    "sigmoid": lambda: nn.Sigmoid(),
    "none": lambda: nn.Identity(),
}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``leaky_relu`` (slope 0.2), ``elu``, ``gelu``,
    ``tanh``, ``sigmoid``, ``none``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigurationError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None


def output_activation(name: str, value_range: tuple[float, float]) -> nn.Module:
    """The decoder/generator output activation. ``auto`` matches the data's range:
    tanh for [-1, 1], sigmoid for [0, 1]."""
    if name == "auto":
        name = "tanh" if value_range[0] < 0 else "sigmoid"
    return activation(name)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al., 2018, arXiv:1802.05957) of every convolution and
    linear layer inside ``module``, through ``torch.nn.utils.parametrizations.spectral_norm``
    (one power iteration per training forward pass, as in the paper). Returns ``module``."""
    layers = [m for m in module.modules() if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d)]
    for layer in layers:  # torch picks the output-channel dim (1 for transposed convolutions)
        nn.utils.parametrizations.spectral_norm(layer)
    return module


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialization (Radford et al., 2016, arXiv:1511.06434, section 4): weights of
    convolutions and linear layers ~ N(0, std), normalization scales ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.GroupNorm | nn.LayerNorm) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al., 2013, arXiv:1302.4389): a linear map to
    ``out_features * pieces`` values and the maximum over each unit's ``pieces``.

    Args:
        in_features: input width.
        out_features: number of maxout units.
        pieces: linear pieces per unit (``k`` in the paper).
    """

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        if pieces < 2:
            raise ConfigurationError(f"maxout needs at least 2 pieces per unit, got {pieces}")
        self.linear = nn.Linear(in_features, out_features * pieces)
        self.out_features = out_features
        self.pieces = pieces

    def forward(self, x):
        return self.linear(x).view(len(x), self.out_features, self.pieces).amax(dim=2)
