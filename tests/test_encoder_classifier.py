"""EncoderClassifier: an autoencoder's encoder, loaded from a lit-gen checkpoint, under a head."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from hybrid_helpers import fit_steps, loader

from lit_gen.cli import run
from lit_gen.errors import ConfigurationError
from lit_gen.models import VAE, EncoderClassifier


@pytest.fixture(scope="module")
def ae_checkpoint(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ae")
    run([
        "fit", "--model=AutoEncoder", "--model.init_args.latent_dim=6", "--model.init_args.hidden=[32]",
        "--data=DigitsDataModule", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false", "--run_dir", str(run_dir),
    ])
    return run_dir / "checkpoints" / "last.ckpt"


def test_pretrained_encoder_is_loaded_and_reinitialize_redraws_it(ae_checkpoint):
    state = torch.load(ae_checkpoint, weights_only=False)["state_dict"]
    model = EncoderClassifier((1, 8, 8), (-1.0, 1.0), encoder_checkpoint=str(ae_checkpoint))
    for name, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, state[f"encoder.{name}"])
    assert model.features(torch.zeros(3, 1, 8, 8)).shape == (3, 6) and model.source_class == "AutoEncoder"
    torch.manual_seed(1)
    scratch = EncoderClassifier((1, 8, 8), (-1.0, 1.0), encoder_checkpoint=str(ae_checkpoint), reinitialize=True)
    assert all(not torch.equal(value, state[f"encoder.{name}"]) for name, value in scratch.encoder.state_dict().items())
    assert [p.shape for p in scratch.parameters()] == [p.shape for p in model.parameters()]  # same network
    with pytest.raises(ConfigurationError, match="trained on data of shape \\(1, 8, 8\\)"):
        EncoderClassifier((1, 16, 16), (-1.0, 1.0), encoder_checkpoint=str(ae_checkpoint))
    with pytest.raises(ConfigurationError, match="not found"):
        EncoderClassifier((1, 8, 8), encoder_checkpoint="missing.ckpt")


def test_frozen_encoder_trains_only_the_head(ae_checkpoint):
    model = EncoderClassifier((1, 8, 8), (-1.0, 1.0), encoder_checkpoint=str(ae_checkpoint), freeze_encoder=True)
    encoder_before = [p.clone() for p in model.encoder.parameters()]
    head_before = [p.clone() for p in model.head.parameters()]
    fit_steps(model, loader(torch.rand(16, 1, 8, 8) * 2 - 1, torch.arange(16) % 10), batches=2)
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.parameters(), encoder_before, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(model.head.parameters(), head_before, strict=True))


def test_vae_encoder_gives_the_posterior_mean(tmp_path):
    torch.manual_seed(0)
    vae = VAE((1, 8, 8), (0.0, 1.0), latent_dim=3, hidden=(16,))
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(vae, loader(torch.rand(8, 1, 8, 8), torch.zeros(8, dtype=torch.long)))
    vae.hparams["_class_path"] = "lit_gen.models.VAE"  # what lit-gen fit records
    trainer.save_checkpoint(tmp_path / "vae.ckpt")
    model = EncoderClassifier((1, 8, 8), (0.0, 1.0), encoder_checkpoint=str(tmp_path / "vae.ckpt"))
    x = torch.rand(4, 1, 8, 8)
    mu, _ = vae.encode(x)
    torch.testing.assert_close(model.features(x), mu)


def test_encoder_lr_scale_gives_the_encoder_its_own_learning_rate():
    model = EncoderClassifier((1, 8, 8), (-1.0, 1.0), latent_dim=4, hidden=(8,), encoder_lr_scale=0.1,
                              optimizer=lambda params: torch.optim.Adam(params, lr=1e-3))
    optimizer = model.configure_optimizers()
    head, encoder = optimizer.param_groups
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.encoder.parameters()}
    assert len(head["params"]) + len(encoder["params"]) == len(list(model.parameters()))
    assert head["lr"] == pytest.approx(1e-3) and encoder["lr"] == pytest.approx(1e-4)
    single = EncoderClassifier((1, 8, 8), (-1.0, 1.0), latent_dim=4, hidden=(8,)).configure_optimizers()
    assert len(single.param_groups) == 1
    with pytest.raises(ConfigurationError, match="encoder_lr_scale must be > 0"):
        EncoderClassifier((1, 8, 8), encoder_lr_scale=0.0)
