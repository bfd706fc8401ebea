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
