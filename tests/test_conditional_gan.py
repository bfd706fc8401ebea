"""Conditional GAN and AC-GAN: labels reach both networks, bad labels are refused with a clear
message, AC-GAN's class losses use the right targets, and training runs and returns its losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hybrid_helpers import fit_steps, loader, moved, snapshot

from lit_gen.errors import ConfigurationError
from lit_gen.models import ACGAN, ConditionalGAN
from lit_gen.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def _generator(latent_dim, shape):
    return DCGANGenerator(latent_dim, shape, base_channels=4)


def _discriminator(shape):
    return DCGANDiscriminator(shape, base_channels=4)


def _model(cls=ConditionalGAN, **kwargs):
    torch.manual_seed(0)
    defaults = dict(num_classes=3, latent_dim=4, generator=_generator, discriminator=_discriminator)
    return cls((1, 8, 8), (-1.0, 1.0), **{**defaults, **kwargs})


def _data(n=16, classes=3):
    generator = torch.Generator().manual_seed(0)
    return loader(torch.rand(n, 1, 8, 8, generator=generator) * 2 - 1, torch.randint(0, classes, (n,), generator=generator))


@pytest.mark.parametrize("kwargs", [
    dict(conditioning="concat"), dict(conditioning="projection"), dict(embedding="learned", embedding_dim=5),
    dict(cls=ACGAN),
])
def test_the_label_reaches_the_generator_and_the_discriminator(kwargs):
    model = _model(**kwargs).eval()
    z = model.noise(4, torch.Generator().manual_seed(1))
    zeros, twos = torch.zeros(4, dtype=torch.long), torch.full((4,), 2)
    assert not torch.allclose(model.generate(z, zeros), model.generate(z, twos))
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    if isinstance(model, ACGAN):  # the label is predicted, not given: it is the class head's target
        scores, logits = model.discriminator(x)
        assert scores.shape == (4,) and logits.shape == (4, 3)
    else:
        assert not torch.allclose(model.discriminator(x, zeros), model.discriminator(x, twos))
    # sampling draws the requested classes: one-hot class weights give the same images
    torch.testing.assert_close(model.generate(z, F.one_hot(twos, 3).float()), model.generate(z, twos))


@pytest.mark.parametrize("cls", [ConditionalGAN, ACGAN])
def test_wrong_labels_give_a_clear_error(cls):
    model = _model(cls).eval()
    with pytest.raises(ConfigurationError, match=r"labels must be 4 class indices \(shape \(4,\), integers\)"):
        model.sample(4, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigurationError, match=r"class weights of shape \(4, 3\), got shape \(4, 2\)"):
        model.sample(4, labels=torch.zeros(4, 2))
    with pytest.raises(ConfigurationError, match=r"class indices in \[0, 2\]"):
        model.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ConfigurationError, match=r"labels must be 8 class indices"):
        model.training_step((torch.zeros(8, 1, 8, 8), torch.zeros(8, 2, dtype=torch.long)), 0)
    with pytest.raises(ConfigurationError, match="needs labels"):
        model.generator_loss(torch.zeros(2, 1, 8, 8), None)
    with pytest.raises(ConfigurationError, match="num_classes >= 2"):
        _model(cls, num_classes=1)


def test_conditional_gan_options_are_checked():
    with pytest.raises(ConfigurationError, match="'concat' or 'projection'"):
        _model(conditioning="hadamard")
    with pytest.raises(ConfigurationError, match="'data' or 'uniform'"):
        _model(fake_labels="balanced")
    with pytest.raises(ConfigurationError, match="pack = 1"):
        _model(conditioning="projection", generator=MLPGenerator, discriminator=lambda s: MLPDiscriminator(s, pack=2))


def test_acgan_class_losses_use_the_true_and_the_sampled_classes():
    model = _model(ACGAN, class_weight=0.7).eval()
    real, fake = torch.rand(5, 1, 8, 8) * 2 - 1, torch.rand(5, 1, 8, 8) * 2 - 1
    y_real, c = torch.tensor([0, 1, 2, 1, 0]), torch.tensor([2, 2, 0, 1, 1])
    real_scores, real_logits = model.discriminator(real)
    fake_scores, fake_logits = model.discriminator(fake)
    d_loss, terms = model.discriminator_loss(real, fake, y_real, c)
    # D: -(L_S + w L_C) / 2 with L_S, L_C of eqs. (2)-(3): log-likelihoods of the source and of the
    # class, the real images' own labels and the classes c the fakes were generated from
    log_p_source = F.logsigmoid(real_scores).mean() + F.logsigmoid(-fake_scores).mean()
    log_p_class = (real_logits.log_softmax(1)[torch.arange(5), y_real].mean()
                   + fake_logits.log_softmax(1)[torch.arange(5), c].mean())
    expected = -(log_p_source + 0.7 * log_p_class) / 2
    torch.testing.assert_close(d_loss, expected)
    torch.testing.assert_close(terms["d_class_fake"], F.cross_entropy(fake_logits, c))
    # G: non-saturating source loss + weight * CE(fake, c): G is rewarded for the class it was asked for
    g_loss, _ = model.generator_loss(fake, c)
    torch.testing.assert_close(g_loss, F.softplus(-fake_scores).mean() + 0.7 * F.cross_entropy(fake_logits, c))
    # the variant without the fake term in D
    model.class_loss_on_fake_for_d = False
    d_real_only, _ = model.discriminator_loss(real, fake, y_real, c)
    torch.testing.assert_close(d_real_only, expected - 0.7 * F.cross_entropy(fake_logits, c) / 2)


def test_acgan_step_targets_are_the_classes_given_to_the_generator(monkeypatch):
    model = _model(ACGAN)
    seen = {}
    original_forward = model.generator.forward
    original_d, original_g = model.discriminator_loss, model.generator_loss

    def generator_forward(z, labels):
        seen["generated"] = labels.clone()
        return original_forward(z, labels)

    def d_loss(real, fake, real_labels, fake_labels):
        seen["d"] = (real_labels.clone(), fake_labels.clone())
        return original_d(real, fake, real_labels, fake_labels)

    def g_loss(fake, fake_labels):
        seen["g"] = fake_labels.clone()
        return original_g(fake, fake_labels)

    monkeypatch.setattr(model.generator, "forward", generator_forward)
    monkeypatch.setattr(model, "discriminator_loss", d_loss)
    monkeypatch.setattr(model, "generator_loss", g_loss)
    data = _data(n=8)
    fit_steps(model, data, batches=1)
    real_labels = next(iter(data))[1]
    assert torch.equal(seen["d"][0], real_labels)  # real images: their own labels
    assert torch.equal(seen["d"][1], seen["generated"]) and torch.equal(seen["g"], seen["generated"])
    assert not torch.equal(seen["generated"], real_labels)  # c ~ uniform, drawn afresh (this seed)


@pytest.mark.parametrize("cls,kwargs", [(ConditionalGAN, {}), (ConditionalGAN, dict(conditioning="projection", gp_weight=1.0)),
                                        (ACGAN, dict(r1_gamma=1.0))])
def test_training_moves_both_networks_and_returns_its_losses(cls, kwargs):
    model = _model(cls, **kwargs)
    before = {name: snapshot(getattr(model, name)) for name in ("generator", "discriminator")}
    outputs = []
    model.on_train_batch_end = lambda out, batch, idx: outputs.append(out)
    trainer = fit_steps(model, _data(), batches=2)
    assert all(moved(getattr(model, name), before[name]) for name in before)
    assert trainer.global_step == 4 and model.generator_steps == 2  # two optimizer steps per batch
    assert set(outputs[-1]) == {"d_loss", "g_loss"} and all(torch.isfinite(v) for v in outputs[-1].values())


def test_conditional_data_uses_the_data_labels_for_fakes_by_default(monkeypatch):
    model = _model()
    seen = []
    original = model.generator.forward
    monkeypatch.setattr(model.generator, "forward", lambda z, labels: seen.append(labels.clone()) or original(z, labels))
    data = _data(n=8)
    fit_steps(model, data, batches=1)
    assert torch.equal(seen[0], next(iter(data))[1])


def test_grids_for_the_image_callback_and_the_label_interpolation():
    model = _model().eval()
    images, labels = torch.zeros(5, 1, 8, 8), torch.zeros(5, dtype=torch.long)
    grids = model.extra_images(images, labels, torch.Generator().manual_seed(0))
    assert grids["classes"].shape == (15, 1, 8, 8)  # one row of 5 per class
    assert grids["label_interpolation"].shape == (4 * 5, 1, 8, 8)
    assert grids["interpolation_spherical"].shape == (4 * 5, 1, 8, 8)
    z = model.noise(2, torch.Generator().manual_seed(0))
    path = model.interpolate_labels(z, torch.tensor([0, 1]), torch.tensor([2, 0]), 3).view(2, 3, 1, 8, 8)
    torch.testing.assert_close(path[:, 0], model.generate(z, torch.tensor([0, 1])))
    torch.testing.assert_close(path[:, -1], model.generate(z, torch.tensor([2, 0])))
    assert model.sample(4).shape == (4, 1, 8, 8)


def test_num_classes_must_match_the_data(capsys, tmp_path):
    from pathlib import Path

    from lit_gen.cli import run

    config = Path(__file__).resolve().parents[1] / "configs" / "quickstart" / "cgan.yaml"
    with pytest.raises(SystemExit) as exit_info:
        run(["fit", "--config", str(config), "--model.init_args.num_classes=5", "--trainer.max_epochs=1",
             "--trainer.enable_progress_bar=false", "--run_dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "ConditionalGAN has num_classes=5 but the data has 10 classes" in capsys.readouterr().err.splitlines()[-1]
