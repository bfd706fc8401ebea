"""Anomaly detection with an autoencoder: train on all digits but one, score the test split.

For each held-out digit k (``--held_out``, default all ten), the config's model is trained with
``exclude_classes: [k]`` (the digit is removed from the training and validation splits), then
every image of the full test split gets an anomaly score:

* ``recon``: the squared reconstruction error ``||x - g(f(x))||^2`` (for a VAE, of the decoded
  posterior mean);
* ``neg_elbo`` (VAE family only): ``-ELBO(x)`` in nats, averaged over ``--elbo_samples`` draws of
  ``z``, the VAE's own upper bound on ``-log p(x)``.

The AUROC of each score for "is digit k" (torchmetrics' ``binary_auroc``; 0.5 is chance) is
reported per held-out digit. Writes ``results.json``, ``auroc.png`` (per digit) and
``scores_<k>.png`` (score histograms, normal vs held-out) to ``--out``::

    python -m lit_gen.apps.anomaly --config configs/quickstart/anomaly_autoencoder.yaml
    python -m lit_gen.apps.anomaly --config configs/quickstart/anomaly_vae.yaml --held_out 3 9
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.classification import binary_auroc  # noqa: E402

from lit_gen.apps.common import fit, split_tensors, write_results  # noqa: E402
from lit_gen.errors import ConfigurationError  # noqa: E402
from lit_gen.losses.autoencoding import squared_error  # noqa: E402


@torch.no_grad()
def anomaly_scores(model, images: torch.Tensor, elbo_samples: int = 10, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """Per-image anomaly scores (higher = more anomalous): ``recon`` for every autoencoder, and
    ``neg_elbo`` for the VAE family."""
    scores: dict[str, list[torch.Tensor]] = {"recon": []}
    variational = hasattr(model, "elbo_terms")
    if variational:
        scores["neg_elbo"] = []
    generator_state = torch.get_rng_state()
    torch.manual_seed(0)  # the ELBO's z draws: the same for every run
    for batch in torch.split(images.to(model.device), batch_size):
        scores["recon"].append(squared_error(model.reconstruct(batch), batch).cpu())
        if variational:
            draws = torch.stack([-model.elbo_terms(batch)["elbo"] for _ in range(elbo_samples)])
            scores["neg_elbo"].append(draws.mean(0).cpu())
    torch.set_rng_state(generator_state)
    return {name: torch.cat(parts) for name, parts in scores.items()}


def auroc(scores: torch.Tensor, is_anomaly: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for the positives ``is_anomaly``.

    The scores are first mapped to [0, 1] by an increasing affine map (the AUROC only depends on
    their order): torchmetrics reads scores outside [0, 1] as logits and applies a sigmoid, which
    in float32 rounds every score above ~17 (e.g. an ELBO in nats) to 1.0."""
    scores = scores.double()
    low, high = scores.min(), scores.max()
    unit = (scores - low) / (high - low) if high > low else torch.zeros_like(scores)
    return float(binary_auroc(unit, is_anomaly.long()))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m lit_gen.apps.anomaly", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/quickstart/anomaly_autoencoder.yaml",
                        help="lit-gen config of an autoencoder or VAE on DigitsDataModule (default: %(default)s)")
    parser.add_argument("--held_out", type=int, nargs="+", default=list(range(10)), help="digits to hold out, one run each (default: all)")
    parser.add_argument("--max_epochs", type=int, default=None, help="override the config's max_epochs")
    parser.add_argument("--elbo_samples", type=int, default=10, help="z draws per image for -ELBO (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--set", action="append", default=[], metavar="ARG",
                        help="extra lit-gen argument for every training run, repeatable, e.g. --set=--config=configs/trainer/gpu.yaml")
    parser.add_argument("--out", default="runs/apps/anomaly", help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    if any(not 0 <= k < 10 for k in args.held_out):
        raise ConfigurationError(f"--held_out takes digits 0-9, got {args.held_out}")
    out = Path(args.out)

    rows = []
    for digit in args.held_out:
        model, data = fit(args.config, [f"--data.init_args.exclude_classes=[{digit}]", f"--seed_everything={args.seed}", *args.set],
                          out / f"held_out_{digit}", args.max_epochs)
        if not hasattr(model, "reconstruct"):
            raise ConfigurationError(f"{type(model).__name__} cannot reconstruct: anomaly scores need an autoencoder")
        images, labels = split_tensors(data, "test")
        is_anomaly = labels == digit
        scores = anomaly_scores(model, images, args.elbo_samples)
        row = {"held_out": digit, "num_anomalous": int(is_anomaly.sum()), "num_normal": int((~is_anomaly).sum())}
        row.update({f"auroc_{name}": auroc(score, is_anomaly) for name, score in scores.items()})
        rows.append(row)
        print(f"held-out digit {digit}: " + ", ".join(f"AUROC({k[6:]}) {v:.4f}" for k, v in row.items() if k.startswith("auroc")), flush=True)

        figure, axes = plt.subplots(1, len(scores), figsize=(4.2 * len(scores), 3), squeeze=False)
        for axis, (name, score) in zip(axes[0], scores.items(), strict=True):
            low, high = torch.quantile(score, torch.tensor([0.0, 0.99])).tolist()
            bins = torch.linspace(low, high, 40).tolist()
            axis.hist(score[~is_anomaly].clamp(max=high).numpy(), bins=bins, alpha=0.6, density=True, label="other digits")
            axis.hist(score[is_anomaly].clamp(max=high).numpy(), bins=bins, alpha=0.6, density=True, label=f"digit {digit} (unseen)")
            axis.set_title(f"{name}: AUROC {row[f'auroc_{name}']:.3f}")
            axis.set_xlabel("anomaly score")
            axis.legend()
        figure.tight_layout()
        figure.savefig(out / f"scores_{digit}.png", dpi=110)
        plt.close(figure)

    names = [k for k in rows[0] if k.startswith("auroc_")]
    summary = {name: statistics.fmean(r[name] for r in rows) for name in names}
    results = {
        "protocol": {
            "config": args.config, "max_epochs": args.max_epochs, "seed": args.seed,
            "training": "training split without the held-out digit (exclude_classes)",
            "scored": "full test split; positives = the held-out digit",
            "metric": "AUROC (torchmetrics binary_auroc)", "elbo_samples": args.elbo_samples,
        },
        "rows": rows,
        "mean": summary,
    }
    write_results(out, results)
    figure, axis = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        axis.bar([r["held_out"] + (i - (len(names) - 1) / 2) * width for r in rows], [r[name] for r in rows], width, label=name[6:])
    axis.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    axis.set_xticks([r["held_out"] for r in rows])
    axis.set_xlabel("held-out digit")
    axis.set_ylabel("AUROC")
    axis.set_ylim(0, 1)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "auroc.png", dpi=120)
    plt.close(figure)
    print("mean AUROC: " + ", ".join(f"{k[6:]} {v:.4f}" for k, v in summary.items()))
    print(f"wrote {out / 'results.json'} and {out / 'auroc.png'}")
    return results


if __name__ == "__main__":
    main()
