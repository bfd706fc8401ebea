"""The applications run end to end on the quickstart configs (a couple of batches each), and
their measurements agree with reference computations (scikit-learn's AUROC and PCA, PSNR's
formula)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from lit_gen.apps import anomaly, denoising, finetune, latent_grids

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "quickstart"
FAST = ["--set=--trainer.limit_train_batches=2", "--set=--trainer.limit_val_batches=1", "--set=--trainer.num_sanity_val_steps=0"]


def test_auroc_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    labels = torch.rand(200, generator=generator) < 0.2
    scores = torch.randn(200, generator=generator) + labels.float()
    assert anomaly.auroc(scores, labels) == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-6)
    # scores in nats (-ELBO ~ 100): torchmetrics alone would squash them through a sigmoid to 1.0
    large = 100 + 5 * scores
    assert anomaly.auroc(large, labels) == pytest.approx(roc_auc_score(labels.numpy(), large.numpy()), abs=1e-6)


def test_pca_projection_and_psnr_match_references():
    generator = torch.Generator().manual_seed(0)
    train, test = torch.rand(100, 1, 4, 4, generator=generator), torch.rand(10, 1, 4, 4, generator=generator)
    pca = PCA().fit(train.flatten(1).numpy().astype(np.float64))
    reference = PCA(n_components=5).fit(train.flatten(1).numpy().astype(np.float64))
    expected = reference.inverse_transform(reference.transform(test.flatten(1).numpy().astype(np.float64)))
    np.testing.assert_allclose(denoising.pca_projection(pca, test, 5).flatten(1).numpy(), expected, atol=1e-5)
    noisy = test + 0.3 * torch.randn(test.shape, generator=generator)
    k, errors = denoising.best_pca_k(pca, noisy, test)
    brute = [((denoising.pca_projection(pca, noisy, j) - test) ** 2).sum().item() for j in range(1, 17)]
    np.testing.assert_allclose(errors, brute, rtol=1e-5)
    assert k == int(np.argmin(brute)) + 1
    mse = ((test - 0.5) ** 2).mean().item()
    assert denoising.psnr(torch.full_like(test, 0.5), test, (0.0, 1.0)) == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)


def test_anomaly_app(tmp_path):
    results = anomaly.main(["--config", str(CONFIGS / "anomaly_vae.yaml"), "--held_out", "9", "--max_epochs", "1",
                            "--elbo_samples", "2", "--out", str(tmp_path), *FAST])
    (row,) = results["rows"]
    assert row["held_out"] == 9 and row["num_anomalous"] == 27 and row["num_normal"] == 242
    assert 0 <= row["auroc_recon"] <= 1 and 0 <= row["auroc_neg_elbo"] <= 1
    assert (tmp_path / "auroc.png").is_file() and (tmp_path / "scores_9.png").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["held_out"] == 9


def test_denoising_app(tmp_path):
    results = denoising.main(["--config", str(CONFIGS / "denoising_autoencoder.yaml"), "--max_epochs", "1",
                              "--out", str(tmp_path), *FAST])
    assert set(results["psnr_db"]) == {"corrupted", "pca", "pca_latent_dim", "dae"}
    assert results["psnr_db"]["pca"] > results["psnr_db"]["corrupted"]  # PCA removes salt-and-pepper noise
    assert (tmp_path / "denoising.png").is_file()


def test_latent_grids_app(tmp_path):
    results = latent_grids.main(["--config", str(CONFIGS / "autoencoder.yaml"), "--max_epochs", "1", "--rows", "3",
                                 "--steps", "4", "--out", str(tmp_path), *FAST])
    assert [row["scale"] for row in results["arithmetic"]] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert (tmp_path / "interpolation.png").is_file() and (tmp_path / "arithmetic.png").is_file()


@pytest.mark.parametrize("config", ["dcgan.yaml", "cgan.yaml"])
def test_latent_grids_app_for_gans(tmp_path, config):
    results = latent_grids.main(["--config", str(CONFIGS / config), "--max_epochs", "1", "--rows", "2",
                                 "--steps", "3", "--out", str(tmp_path), *FAST])
    if config == "cgan.yaml":  # fixed noise, the label code moved between classes; one column per class
        assert results["kind"] == "conditional GAN"
        assert (tmp_path / "interpolation.png").is_file() and (tmp_path / "classes.png").is_file()
    else:  # linear and spherical walks between noise vectors
        assert results["kind"] == "GAN" and (tmp_path / "interpolation_spherical.png").is_file()
    # attribute arithmetic: the "thick" direction in z, measured at every scale
    assert [row["scale"] for row in results["arithmetic"]] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert (tmp_path / "arithmetic.png").is_file()


def test_finetune_app(tmp_path):
    results = finetune.main(["--pretrain_epochs", "1", "--finetune_epochs", "2", "--labels", "10", "--seeds", "0",
                             "--pretrain_config", str(CONFIGS / "pretrain_autoencoder.yaml"),
                             "--finetune_config", str(CONFIGS / "finetune_classifier.yaml"), "--out", str(tmp_path), *FAST,
                             "--pretrained_set=--model.init_args.encoder_lr_scale=0.5"])
    (row,) = results["rows"]
    assert results["protocol"]["pretrained_only_arguments"] == ["--model.init_args.encoder_lr_scale=0.5"]
    for name, scale in (("pretrained", 0.5), ("scratch", 1.0)):  # the baseline stays as configured
        config = yaml.safe_load((tmp_path / f"{name}_10_seed0" / "config.yaml").read_text())
        assert config["model"]["init_args"]["encoder_lr_scale"] == scale
    assert row["labels"] == 10 and 0 <= row["pretrained_mean"] <= 1 and 0 <= row["scratch_mean"] <= 1
    assert row["gain"] == pytest.approx(row["pretrained_mean"] - row["scratch_mean"])
    assert (tmp_path / "accuracy.png").is_file()


def test_help_exits_cleanly(capsys):
    for app in (anomaly, denoising, finetune, latent_grids):
        with pytest.raises(SystemExit) as exit_info:
            app.main(["--help"])
        assert exit_info.value.code == 0
    assert "--held_out" in capsys.readouterr().out
