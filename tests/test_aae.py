"""Adversarial autoencoder: the prior samplers' moments, which parameters each phase moves, and
how labels reach the discriminator, the prior and the decoder."""

from __future__ import annotations

import math

import pytest
import torch
from hybrid_helpers import fit_steps, loader, moved, sgd, snapshot

from lit_gen.errors import ConfigurationError
from lit_gen.losses.priors import GaussianMixturePrior, GaussianPrior
from lit_gen.models import AdversarialAutoEncoder


def test_gaussian_prior_moments():
    z = GaussianPrior(std=2.0).sample(40_000, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), 4.0 * torch.eye(3), atol=0.12, rtol=0)


def test_mixture_prior_moments():
    prior = GaussianMixturePrior(num_components=10, radius=4.0, radial_std=1.0, tangential_std=0.25)
    z = prior.sample(60_000, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=0.06, rtol=0)
    # first two coordinates: (r^2 + s_r^2 + s_t^2) / 2 * I; the third is N(0, 1)
    expected = torch.diag(torch.tensor([(16 + 1 + 0.0625) / 2] * 2 + [1.0]))
    torch.testing.assert_close(torch.cov(z.T), expected, atol=0.15, rtol=0)


def test_mixture_component_given_a_label():
    prior = GaussianMixturePrior(num_components=4, radius=3.0, radial_std=0.5, tangential_std=0.1)
    z = prior.sample(20_000, 2, labels=torch.full((20_000,), 1), generator=torch.Generator().manual_seed(0))
    # component 1 of 4 sits at angle pi/2: mean (0, 3); radial axis = y (std 0.5), tangential = x
    torch.testing.assert_close(z.mean(0), torch.tensor([0.0, 3.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([0.1, 0.5]), atol=0.01, rtol=0)
    torch.testing.assert_close(prior.means(2)[1], torch.tensor([math.cos(math.pi / 2) * 3, 3.0]))


def test_prior_label_errors():
    with pytest.raises(ConfigurationError, match="no components"):
        GaussianPrior().sample(3, 2, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigurationError, match=r"labels must be in \[0, 3\]"):
        GaussianMixturePrior(4).sample(2, 2, labels=torch.tensor([0, 4]))
    with pytest.raises(ConfigurationError, match="vector of 2 class indices"):
        GaussianMixturePrior(4).sample(2, 2, labels=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ConfigurationError, match="latent_dim must be >= 2"):
        AdversarialAutoEncoder((1, 4, 4), latent_dim=1, prior=GaussianMixturePrior(4))


def _aae(**kwargs) -> AdversarialAutoEncoder:
    torch.manual_seed(0)
    defaults = dict(latent_dim=3, hidden=(16,), discriminator_hidden=(8,))
    return AdversarialAutoEncoder((1, 4, 4), (0.0, 1.0), **{**defaults, **kwargs})


@pytest.mark.parametrize(
    "active, moves",
    [
        ("ae", {"encoder", "decoder"}),  # reconstruction phase
        ("d", {"discriminator"}),  # regularization phase, discriminator
        ("g", {"encoder"}),  # regularization phase, encoder as generator
    ],
)
def test_each_phase_moves_only_its_parameters(active, moves):
    """With only one phase's optimizer able to move (the others at lr 0), exactly that phase's
    networks change in a training step."""
    lrs = {name: (0.1 if name == active else 0.0) for name in ("ae", "d", "g")}
    model = _aae(optimizer_ae=sgd(lrs["ae"]), optimizer_d=sgd(lrs["d"]), optimizer_g=sgd(lrs["g"]))
    nets = {"encoder": model.encoder, "decoder": model.decoder, "discriminator": model.discriminator}
    before = {name: snapshot(net) for name, net in nets.items()}
    fit_steps(model, loader(torch.rand(8, 1, 4, 4), torch.zeros(8, dtype=torch.long)), batches=1)
    assert {name for name, net in nets.items() if moved(net, before[name])} == moves


def test_the_discriminator_step_sees_frozen_autoencoder_and_vice_versa(monkeypatch):
    model = _aae()
    seen = {}
    original_d, original_g = model.discriminator_loss, model.generator_loss

    def d_loss(*args, **kwargs):
        seen["d"] = (any(p.requires_grad for p in model.encoder.parameters()), all(p.requires_grad for p in model.discriminator.parameters()))
        return original_d(*args, **kwargs)

    def g_loss(*args, **kwargs):
        seen["g"] = (all(p.requires_grad for p in model.encoder.parameters()), any(p.requires_grad for p in model.discriminator.parameters()))
        return original_g(*args, **kwargs)

    monkeypatch.setattr(model, "discriminator_loss", d_loss)
    monkeypatch.setattr(model, "generator_loss", g_loss)
    fit_steps(model, loader(torch.rand(8, 1, 4, 4), torch.zeros(8, dtype=torch.long)), batches=1)
    assert seen == {"d": (False, True), "g": (True, False)}


def test_discriminator_loss_targets_prior_as_real():
    model = _aae()
    z_prior, z_codes = torch.randn(6, 3), torch.randn(6, 3)
    loss, _ = model.discriminator_loss(z_prior, z_codes)
    prior_scores = model.discriminator(z_prior).squeeze(1)
    code_scores = model.discriminator(z_codes).squeeze(1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    # lit-gen's d_loss is the mean of the two cross-entropies (0.5 each)
    expected = 0.5 * bce(prior_scores, torch.ones(6)) + 0.5 * bce(code_scores, torch.zeros(6))
    torch.testing.assert_close(loss, expected)
    g_expected = bce(code_scores, torch.ones(6))
    torch.testing.assert_close(model.generator_loss(z_codes), g_expected)  # non-saturating


def test_labels_reach_the_discriminator_and_the_prior():
    model = _aae(latent_dim=2, conditioning="prior", num_classes=4, prior=GaussianMixturePrior(4))
    z = torch.randn(5, 2)
    scores_0 = model._discriminate(z, torch.zeros(5, dtype=torch.long))
    scores_3 = model._discriminate(z, torch.full((5,), 3))
    assert not torch.allclose(scores_0, scores_3)
    z_prior = model.sample_prior(4000, torch.full((4000,), 2), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z_prior.mean(0), model.prior.means(2)[2], atol=0.05, rtol=0)
    with pytest.raises(ConfigurationError, match="vector of 5 class indices"):
        model.discriminator_loss(z, z, torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ConfigurationError, match="num_components = num_classes = 10"):
        _aae(latent_dim=2, conditioning="prior", num_classes=10, prior=GaussianMixturePrior(4))


def test_labels_reach_the_decoder():
    model = _aae(conditioning="decoder", num_classes=3)
    z = torch.randn(4, 3)
    assert not torch.allclose(model.decode(z, torch.zeros(4, dtype=torch.long)), model.decode(z, torch.ones(4, dtype=torch.long)))
    with pytest.raises(ConfigurationError, match="needs labels"):
        model.decode(z)
    with pytest.raises(ConfigurationError, match=r"labels must be in \[0, 2\]"):
        model.decode(z, torch.full((4,), 3))
    samples = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 1, 4, 4) and 0 <= samples.min() and samples.max() <= 1
    grids = model.extra_images(torch.rand(4, 1, 4, 4), torch.zeros(4, dtype=torch.long))
    assert grids["style_transfer"].shape == (4 * 4, 1, 4, 4)  # inputs + one row per label


def test_unconditional_sampling_refuses_labels():
    model = _aae()
    assert model.sample(3).shape == (3, 1, 4, 4)
    with pytest.raises(ConfigurationError, match="unconditional"):
        model.sample(3, labels=torch.zeros(3, dtype=torch.long))
