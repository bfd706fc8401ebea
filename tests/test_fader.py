"""Fader networks: the lambda_E warm-up, which parameters each step moves, the objectives'
targets, and how attributes reach the decoder."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hybrid_helpers import fit_steps, loader, moved, sgd, snapshot

from lit_gen.errors import ConfigurationError
from lit_gen.models import FaderNetwork


def _fader(architecture="conv", **kwargs) -> FaderNetwork:
    torch.manual_seed(0)
    defaults = dict(num_attributes=2, channels=(4, 8), latent_dim=4, hidden=(16,), discriminator_hidden=8)
    return FaderNetwork((1, 8, 8), (-1.0, 1.0), architecture=architecture, **{**defaults, **kwargs})


def _data(n=8, k=2):
    generator = torch.Generator().manual_seed(0)
    return loader(torch.rand(n, 1, 8, 8, generator=generator) * 2 - 1, torch.randint(0, 2, (n, k), generator=generator))


def test_warmup_is_linear_and_reaches_lambda_e_at_the_stated_step():
    model = _fader(lambda_e=1e-4, warmup_steps=500_000)  # the paper's schedule
    assert model.lambda_at(0) == 0
    assert model.lambda_at(250_000) == pytest.approx(0.5e-4)
    assert model.lambda_at(500_000) == pytest.approx(1e-4)
    assert model.lambda_at(2_000_000) == pytest.approx(1e-4)
    assert _fader(lambda_e=0.3, warmup_steps=0).lambda_at(0) == 0.3


def test_training_uses_the_schedule_step_by_step(monkeypatch):
    model = _fader(lambda_e=0.6, warmup_steps=3)
    used = []
    original = model.lambda_at
    monkeypatch.setattr(model, "lambda_at", lambda step: used.append(original(step)) or used[-1])
    fit_steps(model, _data(n=40), batches=5)
    assert used == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.6])
    assert model.ae_steps == 5
    checkpoint = {}
    model.on_save_checkpoint(checkpoint)
    resumed = _fader(lambda_e=0.6, warmup_steps=3)
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.ae_steps == 5  # a resumed run continues the warm-up where it stopped


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_discriminator_step_moves_only_the_discriminator(architecture):
    model = _fader(architecture, optimizer_ae=sgd(0.0), optimizer_d=sgd(0.1))
    before = {name: snapshot(getattr(model, name)) for name in ("encoder", "decoder", "discriminator")}
    fit_steps(model, _data(), batches=1)
    assert [name for name in before if moved(getattr(model, name), before[name])] == ["discriminator"]

    model = _fader(architecture, optimizer_ae=sgd(0.1), optimizer_d=sgd(0.0), warmup_steps=0, lambda_e=1.0)
    before = {name: snapshot(getattr(model, name)) for name in ("encoder", "decoder", "discriminator")}
    fit_steps(model, _data(), batches=1)
    assert [name for name in before if moved(getattr(model, name), before[name])] == ["encoder", "decoder"]


def test_each_step_sees_the_other_networks_frozen(monkeypatch):
    model = _fader()
    seen = {}
    original_d, original_adv = model.discriminator_loss, model.adversarial_loss

    def d_loss(z, y):
        seen["d"] = (z.requires_grad, any(p.requires_grad for p in model.encoder.parameters()), model.discriminator.training)
        return original_d(z, y)

    def adversarial(z, y):
        seen["adv"] = (z.requires_grad, any(p.requires_grad for p in model.discriminator.parameters()), model.discriminator.training)
        return original_adv(z, y)

    monkeypatch.setattr(model, "discriminator_loss", d_loss)
    monkeypatch.setattr(model, "adversarial_loss", adversarial)
    fit_steps(model, _data(), batches=1)
    # discriminator step: detached code, frozen encoder, dropout on;
    # encoder-decoder step: code with a graph, frozen discriminator in eval mode (no dropout)
    assert seen == {"d": (False, False, True), "adv": (True, False, False)}


def test_objectives_use_the_true_and_the_flipped_attributes():
    model = _fader().eval()
    z = torch.randn(5, *model.latent_shape)
    y = torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0], [1, 1]]).float()
    logits = model.discriminator(z)
    d_loss, _ = model.discriminator_loss(z, y)
    # -log P(y | z) and -log P(1 - y | z), summed over attributes, averaged over the batch
    torch.testing.assert_close(d_loss, -(F.logsigmoid(logits) * y + F.logsigmoid(-logits) * (1 - y)).sum(1).mean())
    flipped = 1 - y
    expected = -(F.logsigmoid(logits) * flipped + F.logsigmoid(-logits) * (1 - flipped)).sum(1).mean()
    torch.testing.assert_close(model.adversarial_loss(z, y), expected)


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_attributes_reach_the_decoder_and_bad_shapes_are_refused(architecture):
    model = _fader(architecture).eval()
    x = torch.rand(3, 1, 8, 8)
    y = torch.tensor([[0, 1], [1, 0], [1, 1]])
    assert not torch.allclose(model(x, y), model.swap(x, y))
    assert torch.allclose(model.swap(x, y, which=[0]), model(x, torch.tensor([[1, 1], [0, 0], [0, 1]])))
    grid = model.slide(x, y, attribute=1, alphas=[0.0, 0.5, 1.0])
    assert grid.shape == (9, 1, 8, 8)
    torch.testing.assert_close(grid[6:], model(x, torch.tensor([[0, 1], [1, 1], [1, 1]])))
    with pytest.raises(ConfigurationError, match=r"attributes of shape \(3, 2\)"):
        model(x, torch.tensor([0, 1, 1]))
    with pytest.raises(ConfigurationError, match=r"attributes of shape \(3, 2\)"):
        model(x, torch.zeros(3, 3))


def test_refuses_a_data_module_without_attributes(capsys, tmp_path):
    from lit_gen.cli import run

    with pytest.raises(SystemExit) as exit_info:
        run([
            "fit", "--model=FaderNetwork", "--model.init_args.channels=[4, 8]", "--data=DigitsDataModule",
            "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false", "--run_dir", str(tmp_path / "run"),
        ])
    assert exit_info.value.code == 2
    assert "FaderNetwork needs a data module that yields binary attributes" in capsys.readouterr().err.splitlines()[-1]
