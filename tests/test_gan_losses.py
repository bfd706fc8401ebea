"""Adversarial objectives and discriminator constraints against hand-computed values, closed
forms and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lit_gen.errors import ConfigurationError
from lit_gen.losses import (
    Hinge,
    LeastSquares,
    Minimax,
    NonSaturating,
    Wasserstein,
    clip_weights_,
    gradient_penalty,
    r1_penalty,
)
from lit_gen.losses.penalties import CLIP_VALUE, GP_WEIGHT
from lit_gen.nets import DCGANDiscriminator, MLPDiscriminator, ResNetDiscriminator

LOGIT_075 = math.log(3.0)  # sigmoid(log 3) = 0.75
LOGIT_025 = -math.log(3.0)  # sigmoid(-log 3) = 0.25


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# -- values ---------------------------------------------------------------------------------
def test_minimax_values_by_hand():
    # D(x) = 0.75 on real, D(G(z)) = 0.25 on fake.
    loss = Minimax()
    d = loss.d_loss(t(LOGIT_075, LOGIT_075), t(LOGIT_025, LOGIT_025))
    # -1/2 log 0.75 - 1/2 log(1 - 0.25) = -log 0.75
    assert d.item() == pytest.approx(-math.log(0.75), abs=1e-12)
    # the saturating generator loss E[log(1 - D(G(z)))] = log 0.75 (negative)
    assert loss.g_loss(t(LOGIT_025)).item() == pytest.approx(math.log(0.75), abs=1e-12)
    # an undecided discriminator (D = 1/2): L^(D) = log 2, i.e. V(D, G) = -2 L^(D) = -log 4
    assert loss.d_loss(t(0.0), t(0.0)).item() == pytest.approx(math.log(2.0), abs=1e-12)


def test_non_saturating_values_by_hand():
    loss = NonSaturating()
    assert loss.g_loss(t(LOGIT_025)).item() == pytest.approx(-math.log(0.25), abs=1e-12)
    # same discriminator loss as the minimax game
    real, fake = t(0.3, -1.2), t(2.0, 0.1)
    assert loss.d_loss(real, fake).item() == pytest.approx(
        Minimax().d_loss(real, fake).item(), abs=1e-12
    )


def test_least_squares_values_by_hand():
    loss = LeastSquares()
    # 1/2 mean((r - 1)^2) + 1/2 mean(f^2) = 1/2 * (0 + 1)/2 + 1/2 * (0 + 1)/2
    assert loss.d_loss(t(1.0, 0.0), t(0.0, 1.0)).item() == pytest.approx(0.5)
    # 1/2 mean((f - 1)^2) = 1/2 * (1 + 0)/2
    assert loss.g_loss(t(0.0, 1.0)).item() == pytest.approx(0.25)
    assert loss.d_loss(t(1.0, 1.0), t(0.0, 0.0)).item() == 0.0  # the optimum of the 0-1 coding


def test_hinge_values_by_hand():
    loss = Hinge()
    # mean(relu(1 - [2, 0.5])) + mean(relu(1 + [-2, 0.5])) = 0.25 + 0.75
    assert loss.d_loss(t(2.0, 0.5), t(-2.0, 0.5)).item() == pytest.approx(1.0)
    assert loss.g_loss(t(-2.0, 0.5)).item() == pytest.approx(0.75)


def test_wasserstein_values_by_hand():
    loss = Wasserstein()
    # E f(G(z)) - E f(x) = -1 - 2
    assert loss.d_loss(t(1.0, 3.0), t(0.0, -2.0)).item() == pytest.approx(-3.0)
    assert loss.g_loss(t(0.0, -2.0)).item() == pytest.approx(1.0)


# -- signs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "loss", [Minimax(), NonSaturating(), LeastSquares(), Hinge(), Wasserstein()], ids=repr
)
def test_gradient_signs(loss):
    """The discriminator lowers its loss by raising real scores and lowering fake scores; the
    generator lowers its loss by raising the scores of its samples."""
    real = torch.full((4,), 0.5, dtype=torch.float64, requires_grad=True)
    fake = torch.full((4,), 0.5, dtype=torch.float64, requires_grad=True)
    grad_real, grad_fake = torch.autograd.grad(loss.d_loss(real, fake), (real, fake))
    assert (grad_real < 0).all() and (grad_fake > 0).all()
    (grad_g,) = torch.autograd.grad(loss.g_loss(fake), fake)
    assert (grad_g < 0).all()


def test_minimax_saturates_where_non_saturating_does_not():
    """Goodfellow et al. (2014), section 3: when D confidently rejects the samples
    (D(G(z)) ~ 0), log(1 - D(G(z))) has a vanishing gradient; -log D(G(z)) does not."""
    fake = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (saturating,) = torch.autograd.grad(Minimax().g_loss(fake), fake)
    (non_saturating,) = torch.autograd.grad(NonSaturating().g_loss(fake), fake)
    assert saturating.abs().item() == pytest.approx(
        torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-6
    )
    assert saturating.abs().item() < 1e-4
    assert non_saturating.abs().item() == pytest.approx(1.0, abs=1e-4)


# -- penalties ------------------------------------------------------------------------------
def test_gradient_penalty_on_a_linear_critic_is_closed_form():
    """D(x) = <w, x> + b has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever the
    interpolates, and its gradient in w is 2 (||w|| - 1) w / ||w||."""
    torch.manual_seed(0)
    critic = nn.Linear(6, 1).double()
    real, fake = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 6, dtype=torch.float64)
    penalty = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    w = critic.weight.detach().flatten()
    norm = w.norm()
    assert penalty.item() == pytest.approx(((norm - 1) ** 2).item(), rel=1e-10)
    (grad_w,) = torch.autograd.grad(penalty, critic.weight)
    expected = 2 * (norm - 1) * w / norm
    torch.testing.assert_close(grad_w.flatten(), expected.float().double(), rtol=1e-6, atol=1e-9)
    assert GP_WEIGHT == 10.0


def test_gradient_penalty_uses_random_interpolates():
    """For D(x) = ||x||^2 / 2 the gradient at x_hat is x_hat itself, so the penalty reveals the
    interpolates: x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample."""
    real, fake = (
        torch.randn(16, 3, 4, 4, dtype=torch.float64),
        torch.randn(16, 3, 4, 4, dtype=torch.float64),
    )
    penalty = gradient_penalty(
        lambda x: 0.5 * x.flatten(1).pow(2).sum(1),
        real,
        fake,
        generator=torch.Generator().manual_seed(7),
    )
    eps = torch.rand(16, 1, 1, 1, generator=torch.Generator().manual_seed(7)).double()
    x_hat = eps * real + (1 - eps) * fake
    expected = (x_hat.flatten(1).norm(dim=1) - 1).pow(2).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)


def test_r1_penalty_closed_forms():
    x = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
    # D(x) = ||x||^2 / 2: grad = x, R1 = E ||x||^2
    assert r1_penalty(0.5 * x.pow(2).sum(1), x).item() == pytest.approx(
        x.detach().pow(2).sum(1).mean().item()
    )
    # linear D: R1 = ||w||^2
    w = torch.randn(5, dtype=torch.float64)
    assert r1_penalty(x @ w, x).item() == pytest.approx(w.pow(2).sum().item())
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(x.detach() @ w, x.detach())


def test_weight_clipping_bounds_every_weight():
    torch.manual_seed(0)
    critic = DCGANDiscriminator((1, 16, 16), base_channels=4, init_std=1.0)
    assert max(p.abs().max().item() for p in critic.parameters()) > CLIP_VALUE
    clip_weights_(critic)
    assert all(p.abs().max().item() <= CLIP_VALUE for p in critic.parameters())
    with pytest.raises(ValueError, match="clip_value"):
        clip_weights_(critic, 0.0)


@pytest.mark.parametrize(
    "critic",
    [
        lambda: MLPDiscriminator((2,), hidden=(16, 16), spectral_norm=True),
        lambda: DCGANDiscriminator((1, 8, 8), base_channels=4, norm="none", spectral_norm=True),
        lambda: ResNetDiscriminator((1, 8, 8), channels=8, spectral_norm=True),
    ],
    ids=["mlp", "dcgan", "resnet"],
)
def test_spectral_norm_makes_every_layer_1_lipschitz(critic):
    """After enough training-mode forward passes (one power iteration each), the largest
    singular value of every normalized weight is 1 (Miyato et al., 2018, eq. (8))."""
    torch.manual_seed(0)
    net = critic()
    layers = [m for m in net.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.randn(4, *((2,) if isinstance(net, MLPDiscriminator) else (1, 8, 8)))
    for _ in range(30):
        net(x)
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=1e-3)


def test_packed_discriminator_scores_groups_of_consecutive_samples():
    """PacGAN's packing: one score per group of m consecutive samples, computed on their
    concatenation (Lin et al., 2018, section 3)."""
    torch.manual_seed(0)
    packed = MLPDiscriminator((2,), hidden=(8,), pack=3)
    x = torch.randn(6, 2)
    scores = packed(x)
    assert scores.shape == (2,)
    torch.testing.assert_close(
        scores, packed.net(torch.cat([x[:3].flatten(), x[3:].flatten()]).view(2, 6)).squeeze(1)
    )
    with pytest.raises(ConfigurationError, match="multiples of 3"):
        packed(torch.randn(4, 2))
