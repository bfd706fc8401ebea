"""The deterministic autoencoders: PCA equivalence, corruption, sparsity, contraction, shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.decomposition import PCA

from lit_gen.cli import run
from lit_gen.errors import ConfigurationError
from lit_gen.losses.autoencoding import jacobian_frobenius_sq, squared_error
from lit_gen.models import (
    AutoEncoder,
    ContractiveAutoEncoder,
    DenoisingAutoEncoder,
    SparseAutoEncoder,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_linear_autoencoder_reaches_pca_error(tmp_path):
    """Baldi & Hornik (1989): the linear AE's optimum is the PCA subspace. Trained by the
    quickstart config itself, its training-split error is within 2% of PCA's at code size 8."""
    cli = run([
        "fit", "--config", str(CONFIGS / "quickstart/linear_autoencoder.yaml"),
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.limit_val_batches=0", "--run_dir", str(tmp_path / "run"),
    ])
    model, data = cli.model, cli.datamodule
    images, _ = data.train_set.tensors()
    flat = images.flatten(1).numpy()
    pca = PCA(model.hparams.latent_dim).fit(flat)
    pca_error = ((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).sum(1).mean()
    with torch.no_grad():
        ae_error = squared_error(model.eval()(images), images).mean().item()
    assert ae_error / pca_error <= 1.02, (ae_error, pca_error)
    # The decoder's columns span the principal subspace: 7 of the 8 principal angles between
    # span(W_dec) and PCA's subspace are below 0.05 rad. The 8th is loosely identified because
    # the 8th and 9th eigenvalues of the digits' covariance are close (it costs < 1% error).
    angles = np.sort(scipy.linalg.subspace_angles(model.decoder.mlp[0].weight.detach().numpy(), pca.components_.T))
    assert np.all(angles[:-1] < 0.05), angles


@pytest.mark.parametrize("architecture,upsample", [("mlp", "transpose"), ("conv", "transpose"), ("conv", "interpolate"), ("linear", "transpose")])
@pytest.mark.parametrize("size", [8, 16])
def test_autoencoder_shapes_and_range(architecture, upsample, size):
    model = AutoEncoder((1, size, size), (-1.0, 1.0), latent_dim=5, architecture=architecture, upsample=upsample)
    x = torch.rand(3, 1, size, size) * 2 - 1
    assert model.encode(x).shape == (3, 5)
    out = model.reconstruct(x)
    assert out.shape == x.shape
    if architecture != "linear":
        assert out.min() >= -1 and out.max() <= 1  # tanh output for [-1, 1] data


def test_conv_autoencoder_refuses_an_image_size_it_cannot_halve():
    with pytest.raises(ConfigurationError, match="image size 12 does not fit.*divisible by 8"):
        AutoEncoder((1, 12, 12), architecture="conv", channels=(8, 16, 32))


@pytest.mark.parametrize("noise", ["masking", "salt_pepper"])
def test_denoising_corruptions_hit_the_stated_fraction(noise):
    torch.manual_seed(0)
    model = DenoisingAutoEncoder((1, 32, 32), (-1.0, 1.0), noise=noise, noise_level=0.3)
    x = torch.zeros(64, 1, 32, 32)  # mid-grey, so every corrupted pixel is visible
    corrupted = model.corrupt(x)
    changed = corrupted != x
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.01)
    values = corrupted[changed]
    if noise == "masking":
        assert torch.all(values == -1)
    else:
        assert set(values.unique().tolist()) == {-1.0, 1.0}
        assert (values == 1).float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_denoising_gaussian_noise_has_the_stated_std_and_targets_the_clean_input():
    torch.manual_seed(0)
    model = DenoisingAutoEncoder((1, 8, 8), noise="gaussian", noise_level=0.4)
    x = torch.rand(512, 1, 8, 8)
    assert (model.corrupt(x) - x).std().item() == pytest.approx(0.4, rel=0.03)
    torch.manual_seed(1)
    terms = model.loss_terms(x, "train")
    torch.manual_seed(1)
    expected = squared_error(model(model.corrupt(x)), x).mean()
    torch.testing.assert_close(terms["loss"], expected)


def test_denoising_rejects_a_probability_above_one():
    with pytest.raises(ConfigurationError, match="noise_level"):
        DenoisingAutoEncoder(noise="masking", noise_level=1.5)


def test_k_sparse_autoencoder_uses_k_units_in_training_and_k_eval_otherwise():
    model = SparseAutoEncoder((1, 8, 8), sparsity="topk", k=7, k_eval=20, latent_dim=64)
    x = torch.randn(10, 1, 8, 8)
    assert torch.all((model.train().encode(x) != 0).sum(1) == 7)
    assert torch.all((model.eval().encode(x) != 0).sum(1) == 20)


@pytest.mark.parametrize("sparsity", ["l1", "kl"])
def test_sparse_penalties_enter_the_loss(sparsity):
    torch.manual_seed(0)
    model = SparseAutoEncoder((1, 8, 8), sparsity=sparsity, sparsity_weight=0.5, latent_dim=32)
    terms = model.loss_terms(torch.rand(16, 1, 8, 8), "train")
    assert terms["sparsity"] > 0
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.5 * terms["sparsity"])


def test_kl_sparsity_requires_a_sigmoid_code():
    with pytest.raises(ConfigurationError, match="code_activation='sigmoid'"):
        SparseAutoEncoder(sparsity="kl", code_activation="relu")


def test_contractive_loss_is_reconstruction_plus_exact_jacobian_penalty():
    torch.manual_seed(0)
    model = ContractiveAutoEncoder((1, 4, 4), contractive_weight=0.3, latent_dim=5, hidden=(8,))
    x = torch.rand(6, 1, 4, 4)
    terms = model.loss_terms(x, "train")
    inputs = x.clone().requires_grad_(True)
    penalty = jacobian_frobenius_sq(model.encode(inputs), inputs).mean()
    torch.testing.assert_close(terms["contractive"], penalty)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.3 * penalty)
    terms["loss"].backward()  # trainable through the penalty
    assert model.encoder.mlp[0].weight.grad.abs().sum() > 0
