"""Measurements of the conditional and hybrid models and of the autoencoder applications, on the
embedded digits (CPU). Each section trains its quickstart config(s) and prints a Markdown table
for benchmarks/RESULTS.md; all outputs (runs, figures, results.json) go under ``--out``.

Sections (``--only`` picks some):

* ``fader``: Fader network (configs/quickstart/fader_digits.yaml): attribute-swap success on the
  test split (the "thick" attribute of the decoded image, measured on the image itself, is the
  requested one), class preservation (the shipped digits classifier), and the same with
  lambda_E = 0 (no adversary) as the ablation.
* ``aae``: adversarial autoencoders: discriminator accuracy on prior vs codes, share of test codes
  nearest their digit's mixture component (label-conditioned prior), digits FD of samples.
* ``sparse_coding``: objective, sparsity and PSNR of the sparse coding quickstart.
* ``finetune``: python -m lit_gen.apps.finetune (10, 50, 100 labels; 3 seeds).
* ``anomaly``: python -m lit_gen.apps.anomaly for the autoencoder and the VAE, every digit.
* ``denoising``: python -m lit_gen.apps.denoising.
* ``conditional``: the quickstart ConditionalGAN / ACGAN configs and the real held-out digits under
  one protocol (benchmarks/conditional_gans.py): accuracy of the requested label by the digits
  classifier, digits FD, per-class FD and IS at N = 538.

    PYTHONPATH=. python benchmarks/hybrid_models.py --only fader aae
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/conditional_gans.py

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "configs" / "quickstart"


def _fit(config: Path, out: Path, overrides: list[str] | None = None):
    from lit_gen.apps.common import fit

    start = time.perf_counter()
    model, data = fit(str(config), overrides or [], out)
    return model, data, time.perf_counter() - start


@torch.no_grad()
def fader(out: Path) -> None:
    from lit_gen.metrics import load_digits_classifier

    classifier = load_digits_classifier()
    rows = []
    for name, overrides in (("Fader, lambda_E = 0.1 (config)", []), ("ablation: lambda_E = 0 (no adversary)", ["--model.init_args.lambda_e=0"])):
        model, data, seconds = _fit(QUICK / "fader_digits.yaml", out / f"fader_{len(rows)}", overrides)
        images, attributes = data.test_set.tensors()
        classes = data.class_labels["test"]
        recon = model(images, attributes)
        swapped = model.swap(images, attributes)
        recon_kept = (data.attribute_of(recon, classes) == attributes).float().mean().item()
        success = (data.attribute_of(swapped, classes) == 1 - attributes).float().mean().item()
        same_digit = (classifier.predict(swapped, model.value_range) == classes).float().mean().item()
        latent_accuracy = ((model.discriminator(model.encode(images)) > 0).long() == attributes).float().mean().item()
        rows.append((name, success, same_digit, recon_kept, latent_accuracy, seconds))
        grid = model.slide(images[:16], attributes[:16], 0, [0.0, 0.25, 0.5, 0.75, 1.0])
        from torchvision.utils import save_image
        save_image(model.to_unit_range(torch.cat([images[:16], grid])), out / f"fader_grid_{len(rows) - 1}.png", nrow=16)
    print("\n| model | swap success (test, 269) | swapped still the same digit | reconstruction keeps its attribute | latent discriminator accuracy | training (s) |")
    print("|---|---|---|---|---|---|")
    for name, success, same, kept, latent, seconds in rows:
        print(f"| {name} | **{success:.3f}** | {same:.3f} | {kept:.3f} | {latent:.3f} | {seconds:.0f} |")


@torch.no_grad()
def aae(out: Path) -> None:
    from lit_gen.metrics import (
        DIGITS_EXTRACTOR,
        FidelityEvaluator,
        datamodule_reference,
        load_digits_classifier,
    )

    classifier = load_digits_classifier()
    evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("fid",), device="cpu", cache_dir=out / "fidelity_cache")
    print("\n| config | test squared error / image | discriminator accuracy (test, prior vs codes) | codes nearest their digit's component | digits FD of 1,000 samples | training (s) |")
    print("|---|---|---|---|---|---|")
    for config in ("aae.yaml", "aae_mixture.yaml", "aae_supervised.yaml"):
        model, data, seconds = _fit(QUICK / config, out / config.replace(".yaml", ""))
        images, labels = data.test_set.tensors()
        z = model.encode(images)
        cond = labels if model.conditioning != "none" else None
        _, accuracy = model.discriminator_loss(model.sample_prior(len(z), cond, torch.Generator().manual_seed(1)), z, cond)
        component = "-"
        if model.conditioning == "prior":
            component = f"{(torch.cdist(z, model.prior.means(z.shape[1])).argmin(1) == labels).float().mean().item():.3f}"
        if model.conditioning == "decoder":  # style transfer: every test code decoded as every digit
            hits = [(classifier.predict(model.decode(z, torch.full((len(z),), k)), model.value_range) == k).float().mean()
                    for k in range(model.num_classes)]
            component = f"{torch.stack(hits).mean().item():.3f} (decoded as the requested digit)"
        recon = ((model.reconstruct(images, cond) - images) ** 2).flatten(1).sum(1).mean().item()
        generator = torch.Generator().manual_seed(0)
        samples = torch.cat([model.sample(500, None if model.conditioning == "none" else torch.arange(500) % 10, generator) for _ in range(2)])
        reference = datamodule_reference(data, "train")
        fd = evaluator.evaluate(samples, reference, model.value_range).metrics["fid"]
        print(f"| quickstart/{config} | {recon:.2f} | {accuracy.item():.3f} | {component} | {fd:.1f} | {seconds:.0f} |")


@torch.no_grad()
def sparse_coding(out: Path) -> None:
    model, data, seconds = _fit(QUICK / "sparse_coding.yaml", out / "sparse_coding")
    images, _ = data.test_set.tensors()
    terms = model.terms(images)
    from lit_gen.apps.denoising import psnr

    value = psnr(model.reconstruct(images), images, model.value_range)
    print("\n| config | objective / image | squared error / image | L1 / image | non-zero codes | test PSNR (dB) | training (s) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| quickstart/sparse_coding.yaml | {terms['objective']:.3f} | {terms['recon']:.3f} | {terms['l1']:.2f} | "
          f"{terms['active']:.3f} | {value:.2f} | {seconds:.0f} |")


def finetune(out: Path) -> None:
    from lit_gen.apps import finetune as app

    results = app.main(["--pretrain_config", str(QUICK / "pretrain_autoencoder.yaml"), "--finetune_config",
                        str(QUICK / "finetune_classifier.yaml"), "--labels", "10", "50", "100", "--seeds", "0", "1", "2",
                        "--out", str(out / "finetune")])
    print("\n| labels | pre-trained encoder | from scratch (same network) | gain |")
    print("|---|---|---|---|")
    for row in results["rows"]:
        print(f"| {row['labels']} | {row['pretrained_mean']:.3f} ± {row['pretrained_std']:.3f} | "
              f"{row['scratch_mean']:.3f} ± {row['scratch_std']:.3f} | **{row['gain']:+.3f}** |")


def anomaly(out: Path) -> None:
    from lit_gen.apps import anomaly as app

    tables = {}
    for name in ("anomaly_autoencoder", "anomaly_vae"):
        tables[name] = app.main(["--config", str(QUICK / f"{name}.yaml"), "--out", str(out / name)])
    print("\n| held-out digit | AE: reconstruction error | VAE: reconstruction error | VAE: -ELBO |")
    print("|---|---|---|---|")
    ae, vae = tables["anomaly_autoencoder"]["rows"], tables["anomaly_vae"]["rows"]
    for a, v in zip(ae, vae, strict=True):
        print(f"| {a['held_out']} | {a['auroc_recon']:.3f} | {v['auroc_recon']:.3f} | {v['auroc_neg_elbo']:.3f} |")
    mean_ae, mean_vae = tables["anomaly_autoencoder"]["mean"], tables["anomaly_vae"]["mean"]
    print(f"| mean | **{mean_ae['auroc_recon']:.3f}** | **{mean_vae['auroc_recon']:.3f}** | **{mean_vae['auroc_neg_elbo']:.3f}** |")


def denoising(out: Path) -> None:
    from lit_gen.apps import denoising as app

    results = app.main(["--config", str(QUICK / "denoising_autoencoder.yaml"), "--out", str(out / "denoising")])
    values = results["psnr_db"]
    print("\n| corrupted input | PCA projection (k chosen on validation) | PCA, k = code size | denoising AE |")
    print("|---|---|---|---|")
    print(f"| {values['corrupted']:.2f} | {values['pca']:.2f} (k = {results['pca_k']}) | {values['pca_latent_dim']:.2f} "
          f"(k = {results['protocol']['latent_dim']}) | **{values['dae']:.2f}** |")


def conditional(out: Path, names: list[str] | None = None) -> None:
    """The quickstart cGAN / AC-GAN configs under the protocol of benchmarks/conditional_gans.py
    (N = 538 samples with the held-out digits' labels, the same N as the real-data row)."""
    import conditional_gans as protocol

    configs = sorted(QUICK.glob("cgan*.yaml")) + sorted(QUICK.glob("acgan*.yaml"))
    if names:
        configs = [c for c in configs if c.name in names]
    rows = [{"name": "real test digits (validation + test)", **protocol.real_floor(out)}]
    for config in configs:
        start_cpu = protocol.cpu_seconds()
        model, data, _ = _fit(config, out / config.stem)
        train_cpu = protocol.cpu_seconds() - start_cpu
        rows.append({"name": f"quickstart/{config.name}", "train_cpu_s": train_cpu,
                     **protocol.measure_model(model, data, out, config.stem)})
    print("\n| run | accuracy (N = 538) | FD (N = 538) | per-class FD (mean) | IS | accuracy (N = 1000) | FD (N = 1000) | training CPU (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(protocol.markdown(row))


SECTIONS = {"fader": fader, "aae": aae, "sparse_coding": sparse_coding, "finetune": finetune, "anomaly": anomaly,
            "denoising": denoising, "conditional": conditional}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--out", default="runs/benchmarks/hybrid")
    parser.add_argument("--conditional_configs", nargs="+", default=None,
                        help="quickstart configs of the conditional section (default: cgan*.yaml and acgan*.yaml)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread")
    for name in args.only:
        start = time.perf_counter()
        print(f"\n## {name}")
        SECTIONS[name](out, names=args.conditional_configs) if name == "conditional" else SECTIONS[name](out)
        print(f"({name}: {time.perf_counter() - start:.0f} s)")
    (out / "sections.json").write_text(json.dumps(args.only))


if __name__ == "__main__":
    main()
