"""The autoencoder objectives against closed forms, torch.distributions and autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from lit_gen.losses.autoencoding import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    gaussian_log_likelihood,
    jacobian_frobenius_sq,
    k_sparse,
    kl_sparsity,
    l1_sparsity,
    sigmoid_layer_jacobian_frobenius_sq,
    squared_error,
)
from lit_gen.nets.mlp import FlattenMLP


def test_gaussian_kl_matches_monte_carlo_and_closed_form():
    torch.manual_seed(0)
    mu = torch.randn(3, 4)
    logvar = torch.randn(3, 4) * 0.5
    kl = gaussian_kl(mu, logvar)
    q = D.Normal(mu, torch.exp(0.5 * logvar))
    p = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(kl, monte_carlo, atol=0.03, rtol=0.01)
    torch.testing.assert_close(kl, D.kl_divergence(q, p).sum(-1))
    assert torch.all(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)) == 0)


def test_bernoulli_log_likelihood_matches_torch_distributions():
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 3, 3) * 3
    target = torch.randint(0, 2, (4, 1, 3, 3)).float()
    expected = D.Bernoulli(logits=logits).log_prob(target).flatten(1).sum(1)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, target), expected)


@pytest.mark.parametrize("log_std", [0.0, -1.3, 0.7])
def test_gaussian_log_likelihood_matches_torch_distributions(log_std):
    torch.manual_seed(0)
    mean, target = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    expected = D.Normal(mean, math.exp(log_std)).log_prob(target).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_log_likelihood(mean, target, torch.tensor(log_std)), expected)


def test_gaussian_log_density_matches_torch_distributions():
    torch.manual_seed(0)
    z, mu, logvar = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    expected = D.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(gaussian_log_density(z, mu, logvar), expected)
    torch.testing.assert_close(gaussian_log_density(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_squared_error_and_l1_per_sample():
    a = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(squared_error(a, b), torch.tensor([5.0, 4.0]))
    torch.testing.assert_close(l1_sparsity(a), torch.tensor([3.0, 1.0]))


def test_kl_sparsity_matches_its_formula():
    activations = torch.tensor([[0.1, 0.5, 0.9], [0.3, 0.5, 0.7]])
    rho = 0.05
    rho_hat = np.array([0.2, 0.5, 0.8])
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    assert kl_sparsity(activations, rho).item() == pytest.approx(expected, rel=1e-5)
    assert kl_sparsity(torch.full((4, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-6)


def test_k_sparse_keeps_exactly_the_k_largest():
    torch.manual_seed(0)
    code = torch.randn(6, 20, requires_grad=True)
    kept = k_sparse(code, 5)
    assert torch.all((kept != 0).sum(1) == 5)
    top = code.topk(5, dim=1).indices
    torch.testing.assert_close(kept.gather(1, top), code.gather(1, top))
    kept.sum().backward()
    assert torch.all(code.grad.sum(1) == 5)  # gradient 1 on kept units only
    with pytest.raises(ValueError, match="k must be in"):
        k_sparse(code, 21)


def test_contractive_penalty_matches_autograd_jacobian():
    torch.manual_seed(0)
    encoder = FlattenMLP((1, 3, 3), [7], 4, act="tanh")
    x = torch.randn(5, 1, 3, 3, requires_grad=True)
    penalty = jacobian_frobenius_sq(encoder(x), x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), x[i].detach())
        assert penalty[i].item() == pytest.approx(jac.pow(2).sum().item(), rel=1e-5)
    # differentiable w.r.t. the encoder's weights (it is trained through)
    penalty.sum().backward()
    assert encoder.mlp[0].weight.grad is not None and encoder.mlp[0].weight.grad.abs().sum() > 0


def test_contractive_closed_form_for_a_sigmoid_layer():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    x = torch.randn(3, 6, requires_grad=True)
    hidden = torch.sigmoid(layer(x))
    exact = jacobian_frobenius_sq(hidden, x)
    torch.testing.assert_close(sigmoid_layer_jacobian_frobenius_sq(hidden, layer.weight), exact)
