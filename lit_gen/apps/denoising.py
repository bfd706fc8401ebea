"""Denoising: PSNR of a denoising autoencoder on corrupted test digits, against doing nothing
(the corrupted input) and against a PCA projection.

The test split is corrupted once with the model's own corruption ``q(x~ | x)`` (its ``noise``
and ``noise_level``, or ``--noise``/``--noise_level``), with a fixed seed. PSNR (torchmetrics,
``data_range`` = the data's value range, over the whole split) of each estimate of the clean
images:

* ``corrupted``: the corrupted input itself;
* ``pca``: projection of the corrupted image onto the top-k principal subspace of the clean
  training images (scikit-learn's PCA), with k chosen on the validation split (corrupted the same
  way) among 1..D; also ``pca_latent_dim``, k = the autoencoder's code size;
* ``dae``: the denoising autoencoder ``g(f(x~))``.

Writes ``results.json`` and ``denoising.png`` (rows: clean, corrupted, PCA, DAE) to ``--out``::

    python -m lit_gen.apps.denoising --config configs/quickstart/denoising_autoencoder.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from torchmetrics.functional.image import peak_signal_noise_ratio
from torchvision.utils import save_image

from lit_gen.apps.common import split_tensors, trained, write_results
from lit_gen.errors import ConfigurationError


def psnr(estimate: torch.Tensor, clean: torch.Tensor, value_range: tuple[float, float]) -> float:
    """PSNR in dB over the whole set (one mean squared error), ``data_range`` = the value range."""
    return float(peak_signal_noise_ratio(estimate.float(), clean.float(), data_range=value_range[1] - value_range[0]))


def pca_projection(pca: PCA, images: torch.Tensor, k: int) -> torch.Tensor:
    """Reconstruction of ``images`` from their first ``k`` principal components."""
    flat = images.flatten(1).numpy().astype(np.float64)
    scores = (flat - pca.mean_) @ pca.components_[:k].T
    return torch.from_numpy(scores @ pca.components_[:k] + pca.mean_).float().view_as(images)


def best_pca_k(pca: PCA, noisy: torch.Tensor, clean: torch.Tensor) -> tuple[int, np.ndarray]:
    """The k whose projection of ``noisy`` is closest to ``clean`` (squared error), and the
    squared error for every k = 1..D. With orthonormal components ``C``, ``s = (noisy - m) C^T``
    and ``t = (clean - m) C^T``: ``||m + s_k C_k - clean||^2 = sum_{j<=k} (s_j^2 - 2 s_j t_j) +
    ||clean - m||^2``, so all k cost one pass."""
    components = pca.components_
    s = (noisy.flatten(1).numpy().astype(np.float64) - pca.mean_) @ components.T
    centered = clean.flatten(1).numpy().astype(np.float64) - pca.mean_
    t = centered @ components.T
    errors = np.cumsum((s * s - 2 * s * t).sum(0)) + (centered * centered).sum()
    return int(np.argmin(errors)) + 1, errors


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m lit_gen.apps.denoising", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/quickstart/denoising_autoencoder.yaml",
                        help="lit-gen config of a DenoisingAutoEncoder (default: %(default)s)")
    parser.add_argument("--ckpt_path", default=None, help="weights of a trained run of that config (default: train it now)")
    parser.add_argument("--max_epochs", type=int, default=None, help="override the config's max_epochs when training")
    parser.add_argument("--noise", choices=["gaussian", "masking", "salt_pepper"], default=None, help="corruption (default: the model's)")
    parser.add_argument("--noise_level", type=float, default=None, help="its parameter (default: the model's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test corruption (default: 0)")
    parser.add_argument("--set", action="append", default=[], metavar="ARG",
                        help="extra lit-gen argument for every training run, repeatable, e.g. --set=--config=configs/trainer/gpu.yaml")
    parser.add_argument("--out", default="runs/apps/denoising", help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, data = trained(args.config, args.ckpt_path, args.set, out / "run", args.max_epochs)
    if not hasattr(model, "corrupt"):
        raise ConfigurationError(f"{type(model).__name__} is not a DenoisingAutoEncoder (it has no corruption)")
    model = model.cpu()
    if args.noise is not None:
        model.noise = args.noise
    if args.noise_level is not None:
        model.noise_level = args.noise_level
    value_range = model.value_range

    train, _ = split_tensors(data, "train")
    val, _ = split_tensors(data, "val")
    test, _ = split_tensors(data, "test")
    generator = torch.Generator().manual_seed(args.seed)
    test_noisy = model.corrupt(test, generator)
    val_noisy = model.corrupt(val, torch.Generator().manual_seed(args.seed + 1))

    pca = PCA(svd_solver="covariance_eigh").fit(train.flatten(1).numpy().astype(np.float64))
    best_k, _ = best_pca_k(pca, val_noisy, val)
    latent_dim = int(model.hparams.get("latent_dim", best_k))
    with torch.no_grad():
        denoised = model.denoise(test_noisy)
    estimates = {
        "corrupted": test_noisy,
        "pca": pca_projection(pca, test_noisy, best_k),
        "pca_latent_dim": pca_projection(pca, test_noisy, latent_dim),
        "dae": denoised,
    }
    values = {name: psnr(image, test, value_range) for name, image in estimates.items()}
    results = {
        "protocol": {
            "config": args.config, "noise": model.noise, "noise_level": model.noise_level, "seed": args.seed,
            "split": f"test ({len(test)} images)", "psnr": "torchmetrics, data_range = value range span, over the split",
            "pca": f"fit on the clean training split, k = {best_k} chosen on the corrupted validation split",
            "latent_dim": latent_dim,
        },
        "psnr_db": values, "pca_k": best_k,
    }
    write_results(out, results)
    rows = torch.cat([test[:16], test_noisy[:16].clamp(*value_range), estimates["pca"][:16].clamp(*value_range), denoised[:16]])
    images = model.to_unit_range(rows)
    if images.shape[-1] < 32:
        images = F.interpolate(images, scale_factor=-(-32 // images.shape[-1]), mode="nearest")
    save_image(images, out / "denoising.png", nrow=16, padding=2, pad_value=0.5)
    print(f"noise {model.noise} {model.noise_level}: PSNR corrupted {values['corrupted']:.2f} dB, "
          f"PCA (k={best_k}) {values['pca']:.2f} dB, PCA (k={latent_dim}) {values['pca_latent_dim']:.2f} dB, DAE {values['dae']:.2f} dB")
    print(f"wrote {out / 'results.json'} and {out / 'denoising.png'}")
    return results


if __name__ == "__main__":
    main()
