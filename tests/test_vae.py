"""VAE and conditional VAE: the ELBO terms, the importance-weighted bound, conditioning."""

from __future__ import annotations

import math

import pytest
import torch

from lit_gen.errors import ConfigurationError
from lit_gen.losses.autoencoding import gaussian_kl
from lit_gen.models import VAE, ConditionalVAE


def _vae(**kwargs) -> VAE:
    torch.manual_seed(0)
    return VAE((1, 8, 8), (0.0, 1.0), latent_dim=3, hidden=(32,), **kwargs)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_terms_are_consistent(likelihood):
    model = _vae(likelihood=likelihood, obs_std=0.3)
    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(3)
    terms = model.elbo_terms(x)
    torch.testing.assert_close(terms["elbo"], -(terms["recon"] + terms["kl"]))
    mu, logvar = model.encode(x)
    torch.testing.assert_close(terms["kl"], gaussian_kl(mu, logvar))
    # recon is -log p(x|z) at the reparameterized sample z = mu + sigma * eps
    torch.manual_seed(3)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    torch.testing.assert_close(terms["recon"], -model.log_likelihood(model.decoder_output(z), x))


def test_beta_weights_only_the_kl_term():
    model = _vae(beta=4.0)
    x = torch.rand(8, 1, 8, 8)
    torch.manual_seed(1)
    loss = model._step((x, torch.zeros(8, dtype=torch.long)), "train")
    torch.manual_seed(1)
    terms = {k: v.mean() for k, v in model.elbo_terms(x).items()}
    torch.testing.assert_close(loss, terms["recon"] + 4.0 * terms["kl"])


def test_importance_weighted_nll_is_tighter_than_the_elbo():
    """Burda et al. (2016): E[log p_K] increases with K, and K = 1 is the ELBO."""
    model = _vae(likelihood="bernoulli")
    x = (torch.rand(64, 1, 8, 8) > 0.5).float()
    torch.manual_seed(0)
    neg_elbo = torch.stack([-model.elbo_terms(x)["elbo"] for _ in range(200)]).mean()
    torch.manual_seed(0)
    nll_1 = torch.stack([model.importance_weighted_nll(x, k=1) for _ in range(200)]).mean()
    assert nll_1.item() == pytest.approx(neg_elbo.item(), rel=0.01)
    nll_100 = model.importance_weighted_nll(x, k=100, chunk=30).mean()  # chunking must not matter
    assert nll_100 < neg_elbo - 0.1  # untrained: q ~ prior, so the gap is small but clear


def test_learned_and_fixed_observation_noise():
    assert _vae(likelihood="gaussian").log_std.requires_grad
    fixed = _vae(likelihood="gaussian", obs_std=0.5)
    assert not fixed.log_std.requires_grad and fixed.log_std.item() == pytest.approx(math.log(0.5))


def test_bernoulli_needs_data_in_zero_one():
    with pytest.raises(ConfigurationError, match="value_range to \\[0, 1\\]"):
        VAE((1, 8, 8), (-1.0, 1.0), likelihood="bernoulli")


def test_sample_and_reconstruct_are_in_range():
    model = _vae(likelihood="bernoulli")
    samples = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    again = model.sample(7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(samples, again)  # fixed noise gives fixed grids
    assert model.reconstruct(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_conditional_vae_uses_the_label(architecture):
    torch.manual_seed(0)
    model = ConditionalVAE((1, 8, 8), (0.0, 1.0), num_classes=10, latent_dim=3, architecture=architecture, hidden=(32,), channels=(8,))
    generator = torch.Generator().manual_seed(0)
    zeros = model.sample(4, labels=torch.zeros(4, dtype=torch.long), generator=generator)
    generator = torch.Generator().manual_seed(0)
    sevens = model.sample(4, labels=torch.full((4,), 7), generator=generator)
    assert not torch.allclose(zeros, sevens)
    x = torch.rand(4, 1, 8, 8)
    assert not torch.allclose(model.encode(x, torch.zeros(4, dtype=torch.long))[0], model.encode(x, torch.ones(4, dtype=torch.long))[0])
    default = model.sample(12)
    assert default.shape == (12, 1, 8, 8)


def test_conditional_vae_rejects_bad_labels():
    model = ConditionalVAE((1, 8, 8), (0.0, 1.0), num_classes=10, latent_dim=3, hidden=(16,))
    with pytest.raises(ConfigurationError, match="vector of 4 class indices"):
        model.encode(torch.rand(4, 1, 8, 8), torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ConfigurationError, match="needs labels"):
        model.encode(torch.rand(4, 1, 8, 8))
