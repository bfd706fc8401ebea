"""Pre-train, then fine-tune with few labels.

1. Pre-train an autoencoder on the whole training split without its labels
   (``--pretrain_config``, default ``configs/quickstart/pretrain_autoencoder.yaml``), or take a
   trained one (``--encoder_checkpoint``).
2. For each label budget (``--labels 50 100``: 5 and 10 images per digit, a fixed subset of the
   training split) and each seed, train :class:`~lit_gen.models.EncoderClassifier`
   (``--finetune_config``) twice: from the pre-trained encoder, and the *same* network with
   re-drawn weights (from scratch). Same data, epochs, optimizer and seed.
3. Report test accuracy (the full 269-image test split), mean and std over seeds, and the gain.

Writes ``results.json`` and ``accuracy.png`` to ``--out``::

    python -m lit_gen.apps.finetune --labels 50 100 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lit_gen.apps.common import QUIET, fit, write_results  # noqa: E402
from lit_gen.cli import run  # noqa: E402
from lit_gen.errors import ConfigurationError  # noqa: E402

NUM_CLASSES = 10


def finetune_accuracy(config: str, checkpoint: str, labels: int, seed: int, reinitialize: bool, epochs: int | None,
                      run_dir: Path, freeze: bool = False, extra: list[str] | None = None) -> float:
    """Test accuracy of the classifier trained on ``labels`` labelled images."""
    if labels % NUM_CLASSES:
        raise ConfigurationError(f"label budgets must be multiples of {NUM_CLASSES} (balanced classes), got {labels}")
    args = [
        "fit", "--config", config, *QUIET, f"--seed_everything={seed}",
        f"--model.init_args.encoder_checkpoint={checkpoint}", f"--model.init_args.reinitialize={str(reinitialize).lower()}",
        f"--model.init_args.freeze_encoder={str(freeze).lower()}",
        f"--data.init_args.train_per_class={labels // NUM_CLASSES}", f"--data.init_args.split_seed={0}",
        "--trainer.limit_val_batches=0", "--trainer.enable_checkpointing=false", "--trainer.logger=false",
        *(extra or []), "--run_dir", str(run_dir),
    ]
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    cli = run(args)
    result = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    return float(result[0]["test/accuracy"])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m lit_gen.apps.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrain_config", default="configs/quickstart/pretrain_autoencoder.yaml",
                        help="lit-gen config of the autoencoder to pre-train (default: %(default)s)")
    parser.add_argument("--encoder_checkpoint", default=None, help="use this trained autoencoder instead of pre-training one")
    parser.add_argument("--pretrain_epochs", type=int, default=None, help="override the pre-training config's max_epochs")
    parser.add_argument("--finetune_config", default="configs/quickstart/finetune_classifier.yaml",
                        help="lit-gen config of the classifier (default: %(default)s)")
    parser.add_argument("--finetune_epochs", type=int, default=None, help="override the classifier config's max_epochs")
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 100], help="label budgets (default: 50 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    parser.add_argument("--freeze", action="store_true", help="train only the head (linear probe) on the pre-trained encoder")
    parser.add_argument("--set", action="append", default=[], metavar="ARG",
                        help="extra lit-gen argument for every training run, repeatable, e.g. --set=--config=configs/trainer/gpu.yaml")
    parser.add_argument("--pretrained_set", action="append", default=[], metavar="ARG",
                        help="extra lit-gen argument for the pre-trained classifier only (the from-scratch baseline "
                             "stays as configured), repeatable, e.g. --pretrained_set=--model.init_args.encoder_lr_scale=0.1")
    parser.add_argument("--out", default="runs/apps/finetune", help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    out = Path(args.out)

    checkpoint = args.encoder_checkpoint
    if checkpoint is None:
        fit(args.pretrain_config, args.set, out / "pretrain", args.pretrain_epochs)
        checkpoint = str(out / "pretrain" / "checkpoints" / "last.ckpt")

    rows = []
    for labels in args.labels:
        accuracies: dict[str, list[float]] = {"pretrained": [], "scratch": []}
        for seed in args.seeds:
            for name, reinitialize in (("pretrained", False), ("scratch", True)):
                accuracy = finetune_accuracy(args.finetune_config, checkpoint, labels, seed, reinitialize,
                                             args.finetune_epochs, out / f"{name}_{labels}_seed{seed}",
                                             freeze=args.freeze and name == "pretrained",
                                             extra=args.set + (args.pretrained_set if name == "pretrained" else []))
                accuracies[name].append(accuracy)
                print(f"labels={labels} seed={seed} {name}: test accuracy {accuracy:.4f}", flush=True)
        row = {"labels": labels, **{f"{k}_accuracies": v for k, v in accuracies.items()}}
        for name, values in accuracies.items():
            row[f"{name}_mean"] = statistics.fmean(values)
            row[f"{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        row["gain"] = row["pretrained_mean"] - row["scratch_mean"]
        rows.append(row)

    results = {
        "protocol": {
            "pretrain_config": args.pretrain_config if args.encoder_checkpoint is None else None,
            "encoder_checkpoint": checkpoint, "finetune_config": args.finetune_config,
            "finetune_epochs": args.finetune_epochs, "seeds": args.seeds, "freeze_encoder": args.freeze,
            "pretrained_only_arguments": args.pretrained_set,
            "labels": "a fixed class-balanced subset of the training split (train_per_class, split_seed 0)",
            "metric": "accuracy on the full test split",
        },
        "rows": rows,
    }
    write_results(out, results)
    figure, axis = plt.subplots(figsize=(4.5, 3.2))
    budgets = [r["labels"] for r in rows]
    for name, marker in (("pretrained", "o"), ("scratch", "s")):
        axis.errorbar(budgets, [r[f"{name}_mean"] for r in rows], yerr=[r[f"{name}_std"] for r in rows],
                      marker=marker, capsize=3, label=name.replace("pretrained", "pre-trained encoder"))
    axis.set_xlabel("labelled training images")
    axis.set_ylabel("test accuracy")
    axis.set_xticks(budgets)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "accuracy.png", dpi=120)
    plt.close(figure)
    for row in rows:
        print(f"{row['labels']} labels: pre-trained {row['pretrained_mean']:.4f} ± {row['pretrained_std']:.4f}, "
              f"scratch {row['scratch_mean']:.4f} ± {row['scratch_std']:.4f}, gain {row['gain']:+.4f}")
    print(f"wrote {out / 'results.json'} and {out / 'accuracy.png'}")
    return results


if __name__ == "__main__":
    main()
