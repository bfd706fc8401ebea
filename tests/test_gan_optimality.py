"""The course's optimality results (Goodfellow et al., 2014, Proposition 1 and Theorem 1), checked
with the module's own objective on a 1-D problem with known densities.

For a fixed generator the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_G(x)),
and when p_G = p_data the value of the minimax game V(D*, G) = E log D*(x) + E log(1 - D*(G(z)))
is -log 4. lit-gen's Minimax discriminator loss is -V / 2 (the 1/2 factors of the course's
L^(D)), so V = -2 * d_loss.

Tolerances: a discriminator (MLP, 2 x 32 tanh units) trained for 300 Adam steps (lr 1e-2,
cosine decay) on fresh batches of 2,048 samples per side must match D* within 0.03 (absolute,
in probability; 0.006-0.02 over seeds 0-2) on x in [-2, 2], where both densities are
non-negligible; with p_G = p_data the game value on 200,000 fresh samples must be within 0.005
of -log 4 (the estimate's standard error is ~0.001), and D within 0.03 of 1/2 on [-2, 2].
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from lit_gen.losses import Minimax
from lit_gen.models import GAN
from lit_gen.nets import MLPDiscriminator, MLPGenerator


def normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def fixed_affine_gan(mean: float, std: float) -> GAN:
    """A GAN whose generator is G(z) = mean + std * z (so p_G = N(mean, std^2)), frozen."""
    model = GAN(
        data_shape=(1,),
        latent_dim=1,
        objective=Minimax(),
        generator=partial(MLPGenerator, hidden=(), out_act="none"),
        discriminator=partial(MLPDiscriminator, hidden=(32, 32), act="tanh"),
    )
    linear = model.generator.net[0]
    with torch.no_grad():
        linear.weight.fill_(std)
        linear.bias.fill_(mean)
    model.generator.requires_grad_(False)
    return model


def train_discriminator(model: GAN, steps: int = 300, batch: int = 2048) -> None:
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        real = torch.randn(batch, 1)  # p_data = N(0, 1)
        fake = model.generator(model.noise(batch))
        loss, _ = model.discriminator_loss(real, fake)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()


def test_discriminator_approaches_the_optimal_discriminator():
    torch.manual_seed(0)
    model = fixed_affine_gan(mean=1.0, std=0.5)
    train_discriminator(model)
    x = torch.linspace(-2.0, 2.0, 81).unsqueeze(1)
    p_data, p_g = normal_pdf(x, 0.0, 1.0), normal_pdf(x, 1.0, 0.5)
    optimal = (p_data / (p_data + p_g)).squeeze(1)
    with torch.no_grad():
        learned = torch.sigmoid(model.discriminator(x))
    assert (learned - optimal).abs().max().item() < 0.03


def test_game_value_is_minus_log_4_when_the_generator_matches_the_data():
    torch.manual_seed(1)
    model = fixed_affine_gan(mean=0.0, std=1.0)  # p_G = p_data
    train_discriminator(model, steps=150)
    with torch.no_grad():
        real, fake = torch.randn(200_000, 1), model.generator(model.noise(200_000))
        loss, _ = model.discriminator_loss(real, fake)
        value = -2 * loss.item()
        d_real = torch.sigmoid(model.discriminator(torch.linspace(-2, 2, 41).unsqueeze(1)))
    assert abs(value - (-math.log(4))) < 0.005
    assert (d_real - 0.5).abs().max().item() < 0.03
    # and exactly at D = 1/2 everywhere: V = log 1/2 + log 1/2
    half = torch.zeros(10)
    assert -2 * Minimax().d_loss(half, half).item() == pytest.approx(-math.log(4), abs=1e-6)
