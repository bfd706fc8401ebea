"""Image-to-image translation benchmark: CycleGAN and pix2pix on the embedded digit tasks, with
baselines in the same table, and CycleGAN's cost per step at 64/128/256 px.

    python benchmarks/translation.py quality   # train both quickstart models, score them
    python benchmarks/translation.py cyclegan --cyclegan-override=--trainer.max_epochs=30 ...
    python benchmarks/translation.py cyclegan --cyclegan-ckpt runs/.../last.ckpt   # score a run
    python benchmarks/translation.py oracle --oracle-run 16:1:l1:0   # supervised thinned -> digit
    python benchmarks/translation.py cost      # CycleGAN step time and peak memory vs image size

Protocol (quality): the test split of the digits (269 images, stratified, seed 0), 16 px.
* CycleGAN, digits (A) <-> thinned digits (B, 3x3 grey erosion): PSNR of G(a) against thin(a)
  and of F(b) against the original digit of b (the known answers), label preservation (the
  accuracy, against the source's label, of a classifier trained on the *target* domain's training
  split) and FID against the target domain's test images. Baselines: identity (output = input)
  and an input-ignoring generator (a uniformly drawn training image of the target domain); the
  FID of real held-out target images (the validation split) is the floor.
* pix2pix, edge map (A) -> digit (B): L1 and PSNR against the true digit, label accuracy of the
  digit classifier, FID. Baselines: identity, input-ignoring (random training digit) and
  nearest-neighbour retrieval (the training digit whose edge map is nearest in L2).
PSNR is per image on [0, 1] images (data range 1), averaged; L1 is the mean absolute error on
[0, 1] images. The label classifiers are lit-gen's digits CNN trained here, with the recipe of the
shipped digits classifier, on each domain's training split; their accuracy on real test images of
their domain is reported as the ceiling of label preservation. FID: lit-gen's evaluation layer
(torch-fidelity) with the ``lit-gen-digits`` extractor, translated test images against the target
domain's test images (N = 269 each; FID is biased upwards at small N: compare within a table).

Protocol (oracle): the ceiling of thinned -> digit. Erosion destroys information (strokes
thinner than the 3x3 window vanish), so no method recovers the digit exactly; a generator trained
*supervised* on exact pairs (thin(x), x) of every training digit (1,259 pairs, twice the digits
CycleGAN sees), with CycleGAN's F (same network, initialization, Adam, 15 + 15 epoch schedule of
78 batches of 8: the CycleGAN run's 2,340 generator updates, or a multiple), L1 or squared error,
bounds what an unpaired method can reach with that generator and budget. Scored as the CycleGAN
table's B -> A columns, with identity, grey dilation (the classical inverse: thin(x) dilated is
the morphological opening of x) and the CycleGAN checkpoint's F in the same table.

Protocol (cost): paper networks (ResNet generators with 6 blocks below 256 px and 9 at 256 px,
70x70 PatchGANs, instance norm, identity loss, pool 50), batch 1, random images, one CPU thread.
Per-step time of a plain PyTorch loop doing the official code's ``optimize_parameters``, then of
lit-gen's ``CycleGAN.training_step`` under the Lightning Trainer, on the same networks, in the
same process one after the other (``--cost-steps`` timed steps each, after one untimed step):
wall clock and the process's CPU time (``time.process_time``; with one thread it excludes the
time other processes hold the core, so it is robust to the machine's load), reported as median
and min. Peak memory is the process's peak resident set size (``ru_maxrss``) in a fresh process
per size, and its increase over the process after building the model and optimizers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(1)

from lit_gen.metrics.translation import label_preservation, psnr  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


# -- domain classifiers -----------------------------------------------------------------------
def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, epochs: int = 60, seed: int = 0
) -> nn.Module:
    """A classifier of one domain: lit-gen's digits CNN (:class:`~lit_gen.nets.classifier.DigitsCNN`)
    trained as the shipped digits classifier is (Adam 2e-3 with a cosine schedule, batch 64, mild
    random affine augmentation), on [0, 1] images of that domain's training split."""
    import math

    from lit_gen.metrics.train_digits_classifier import random_affine
    from lit_gen.nets.classifier import DigitsCNN

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * math.ceil(len(images) / 64))
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(images), generator=generator).split(64):
            loss = nn.functional.cross_entropy(
                model(random_affine(images[idx], generator)), labels[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def unit(images: torch.Tensor, value_range=(-1.0, 1.0)) -> torch.Tensor:
    low, high = value_range
    return ((images - low) / (high - low)).clamp(0, 1)


def fit_quickstart(config: str, overrides: list[str], checkpoint: str | None = None):
    """Train a quickstart config through the CLI (or load a run's checkpoint); returns the model
    and the minutes of training (``None`` for a checkpoint)."""
    from lit_gen.cli import run

    if checkpoint:
        from lit_gen.models import CycleGAN, Pix2Pix

        model_class = CycleGAN if "cyclegan" in config else Pix2Pix
        return model_class.load_from_checkpoint(checkpoint, map_location="cpu").eval(), None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        cli = run(
            [
                "fit",
                "--config",
                str(ROOT / config),
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
                "--run_dir",
                run_dir,
                *overrides,
            ]
        )
    return cli.model.eval(), (time.perf_counter() - start) / 60


def scores(output, target, source_labels, classifier, reference) -> dict:
    """PSNR (dB), L1, label preservation and FID of [0, 1] outputs."""
    from lit_gen.metrics import DIGITS_EXTRACTOR, FidelityEvaluator

    evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("fid",), cache=False, device="cpu")
    result = evaluator.evaluate(
        output, reference, value_range=(0.0, 1.0), generated_description="translated test images"
    )
    return {
        "psnr": float(psnr(output, target).mean()),
        "l1": float((output - target).abs().mean()),
        "label_acc": label_preservation(classifier, output, source_labels),
        "fid": float(result.metrics["fid"]),
        "fid_protocol": result.protocol,
    }


def thinning_training_split() -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of the whole training split (both of CycleGAN's halves), [0, 1], and labels."""
    from lit_gen.data.base import stratified_split
    from lit_gen.data.digits import load_digit_images

    images, labels = load_digit_images(16)
    train, _, _ = stratified_split(labels, [0.7, 0.15, 0.15], 0)
    return images[train], labels[train]


@torch.enable_grad()
def thinning_classifiers() -> tuple[nn.Module, nn.Module]:
    """Classifiers of each domain of the thinning task (digits, thinned digits), trained on the
    whole training split of that domain."""
    from lit_gen.data.translation_digits import thin_digits

    images, labels = thinning_training_split()
    return train_classifier(images, labels), train_classifier(thin_digits(images), labels)


@torch.no_grad()
def quality_cyclegan(args) -> dict:
    from lit_gen.data import DigitThinningDataModule

    dm = DigitThinningDataModule(image_size=16)
    dm.setup()
    clf_a, clf_b = thinning_classifiers()
    test = dm.test_set
    real_a, real_b = unit(test.images_a), unit(test.images_b)
    ceiling = {
        "A": label_preservation(clf_a, real_a, test.labels_a),
        "B": label_preservation(clf_b, real_b, test.labels_b),
    }

    model, minutes = fit_quickstart(
        "configs/quickstart/cyclegan.yaml", args.cyclegan_overrides, args.cyclegan_ckpt
    )
    fake_b = unit(torch.cat([model.translate(x, "AtoB") for x in test.images_a.split(64)]))
    fake_a = unit(torch.cat([model.translate(x, "BtoA") for x in test.images_b.split(64)]))

    gen = torch.Generator().manual_seed(0)
    train_a, train_b = unit(dm.train_set.images_a), unit(dm.train_set.images_b)
    random_b = train_b[torch.randint(len(train_b), (len(real_a),), generator=gen)]
    random_a = train_a[torch.randint(len(train_a), (len(real_b),), generator=gen)]
    rows = {
        "CycleGAN": (fake_b, fake_a),
        "identity": (real_a, real_b),
        "input-ignoring (random target image)": (random_b, random_a),
    }
    from lit_gen.metrics import datamodule_reference

    reference = {d: datamodule_reference(dm, "test", domain=d) for d in "AB"}
    rows["real target images (val split)"] = (unit(dm.val_set.images_b), unit(dm.val_set.images_a))
    table = {}
    for name, (ab, ba) in rows.items():
        table[name] = {
            "AtoB": scores(ab, real_b, test.labels_a, clf_b, reference["B"]),
            "BtoA": scores(ba, real_a, test.labels_b, clf_a, reference["A"]),
        }
        if name.startswith("real target"):  # not translations of the test images: FID only
            for row in table[name].values():
                row.update(psnr=float("nan"), l1=float("nan"), label_acc=float("nan"))
    return {
        "table": table,
        "classifier_ceiling": ceiling,
        "train_minutes": minutes,
        "overrides": args.cyclegan_overrides,
        "checkpoint": args.cyclegan_ckpt,
        "checkpoint_run": checkpoint_run(args.cyclegan_ckpt),
        "n_test": len(real_a),
    }


@torch.no_grad()
def quality_pix2pix(args) -> dict:
    from lit_gen.data import DigitEdgesDataModule

    dm = DigitEdgesDataModule(image_size=16)
    dm.setup()
    train, test = dm.train_set, dm.test_set
    with torch.enable_grad():
        clf = train_classifier(unit(train.images_b), train.labels_b)
    edges, digits = unit(test.images_a), unit(test.images_b)
    ceiling = label_preservation(clf, digits, test.labels_b)

    model, minutes = fit_quickstart(
        "configs/quickstart/pix2pix.yaml", args.pix2pix_overrides, args.pix2pix_ckpt
    )
    batch = args.pix2pix_eval_batch
    fake = {}
    for mode in ("train", "eval"):  # paper protocol (dropout, test-batch statistics) and eval mode
        model.hparams.inference = mode
        torch.manual_seed(0)
        fake[mode] = unit(torch.cat([model.translate(x) for x in test.images_a.split(batch)]))

    train_edges, train_digits = unit(train.images_a), unit(train.images_b)
    nearest = torch.cdist(edges.flatten(1), train_edges.flatten(1)).argmin(1)
    gen = torch.Generator().manual_seed(0)
    rows = {
        "pix2pix (paper inference: dropout, test-batch statistics)": fake["train"],
        "pix2pix (eval mode)": fake["eval"],
        "nearest-neighbour retrieval": train_digits[nearest],
        "identity": edges,
        "input-ignoring (random target image)": train_digits[
            torch.randint(len(train_digits), (len(edges),), generator=gen)
        ],
    }
    from lit_gen.metrics import datamodule_reference

    reference = datamodule_reference(dm, "test", domain="B")
    table = {name: scores(out, digits, test.labels_a, clf, reference) for name, out in rows.items()}
    real = scores(
        unit(dm.val_set.images_b),
        digits[: len(dm.val_set)],
        test.labels_a[: len(dm.val_set)],
        clf,
        reference,
    )
    table["real target images (val split)"] = {
        **real,
        "psnr": float("nan"),
        "l1": float("nan"),
        "label_acc": float("nan"),
    }
    return {
        "table": table,
        "classifier_ceiling": ceiling,
        "train_minutes": minutes,
        "overrides": args.pix2pix_overrides,
        "checkpoint": args.pix2pix_ckpt,
        "checkpoint_run": checkpoint_run(args.pix2pix_ckpt),
        "eval_batch": batch,
        "n_test": len(edges),
    }


# -- the supervised ceiling of thinned -> digit ---------------------------------------------
#: CycleGAN's quickstart run scored above: 630 unaligned pairs per epoch in batches of 8
#: (78 batches, the last one dropped), 15 + 15 epochs: 2,340 generator updates.
CYCLEGAN_BATCHES_PER_EPOCH = 78


def train_oracle(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    ngf: int,
    n_epochs: int,
    n_epochs_decay: int,
    loss: str,
    seed: int,
    batch_size: int = 8,
) -> tuple[nn.Module, float, float]:
    """A supervised F: thin(x) -> x on exact pairs, with CycleGAN's F (the same
    ``ResNetTranslationGenerator`` and initialization as the quickstart's ``gen_ba``), its
    optimizer (Adam(2e-4, 0.5, 0.999)) and schedule (constant for ``n_epochs``, then linear decay
    over ``n_epochs_decay``, per epoch of 78 batches of 8 as the CycleGAN run). The loss is L1
    (``l1``) or squared error (``l2``) on the images in [-1, 1], or, for ``l1gan<w>``,
    ``w * L1`` plus CycleGAN's adversarial term for F (least squares, ``E[(D_X(F(b)) - 1)^2]``)
    against the quickstart's D_X (its PatchGAN, initialization, optimizer and schedule, updated
    after each F update on the real digits and F's fakes, as in pix2pix: the pairs' own
    digits, no image pool). ``w = 10`` is CycleGAN's cycle weight: this F sees the answer the
    cycle term gives CycleGAN's F only through G, with the same pull towards realistic digits.
    Returns the generator in eval mode, CPU seconds and wall seconds of training."""
    from lit_gen.models import CycleGAN
    from lit_gen.models.image_translation import linear_decay_schedulers, paper_adam

    torch.manual_seed(seed)
    cyclegan = CycleGAN(data_shape=(1, 16, 16), ngf=ngf, ndf=32, n_blocks=6, n_layers=2)
    net, disc = cyclegan.gen_ba.train(), cyclegan.disc_a.train()
    adv_weight = float(loss[len("l1gan") :]) if loss.startswith("l1gan") else None
    opt = paper_adam(net.parameters())
    opt_d = paper_adam(disc.parameters())
    scheds = linear_decay_schedulers([opt, opt_d], n_epochs, n_epochs_decay)
    criterion = nn.functional.mse_loss if loss == "l2" else nn.functional.l1_loss
    generator = torch.Generator().manual_seed(seed)
    stream = iter(())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n_epochs + n_epochs_decay):
        for _ in range(CYCLEGAN_BATCHES_PER_EPOCH):
            idx = next(stream, None)
            if idx is None or len(idx) < batch_size:  # a new pass over the pairs
                stream = iter(torch.randperm(len(inputs), generator=generator).split(batch_size))
                idx = next(stream)
            fake = net(inputs[idx])
            value = criterion(fake, targets[idx])
            if adv_weight is not None:
                value = adv_weight * value + cyclegan.adversarial.g_loss(disc(fake))
            opt.zero_grad()
            value.backward()
            opt.step()
            if adv_weight is not None:
                d_loss = cyclegan.discriminator_loss(disc, targets[idx], fake.detach())
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
        for sched in scheds:
            sched.step()
    return net.eval(), time.process_time() - cpu, time.perf_counter() - wall


@torch.no_grad()
def oracle(args, previous: dict | None = None) -> dict:
    """B -> A (thinned -> digit) with exact pairs: supervised generators, baselines, and the
    CycleGAN checkpoint if given, scored as the CycleGAN table's B -> A columns. Without
    ``--oracle-run``, the runs of ``previous`` (the results file's) are kept."""
    import numpy as np
    from scipy import ndimage

    from lit_gen.data import DigitThinningDataModule
    from lit_gen.data.translation_digits import thin_digits
    from lit_gen.metrics import datamodule_reference

    dm = DigitThinningDataModule(image_size=16)
    dm.setup()
    test = dm.test_set
    real_a, real_b = unit(test.images_a), unit(test.images_b)
    clf_a, _ = thinning_classifiers()
    reference = datamodule_reference(dm, "test", domain="A")
    # Pairs (thin(x), x) for every digit x of the training split: both of CycleGAN's halves
    # (1,259 pairs; CycleGAN saw 629 digits and 630 other digits' thinned versions).
    train_x, _ = thinning_training_split()
    if args.oracle_pairs == "a-half":  # only the 629 digits CycleGAN sees as domain A
        train_x = unit(dm.train_set.images_a)
    inputs, targets = dm.to_range(thin_digits(train_x)), dm.to_range(train_x)

    rows: dict[str, dict] = {}
    dilated = torch.as_tensor(
        np.stack(
            [ndimage.grey_dilation(im[0].numpy(), (3, 3), mode="constant", cval=0.0) for im in real_b]
        )
    ).unsqueeze(1)
    rows["identity"] = scores(real_b, real_a, test.labels_b, clf_a, reference)
    rows["grey dilation 3x3 (thin(x) dilated: the opening of x)"] = scores(
        dilated.clamp(0, 1), real_a, test.labels_b, clf_a, reference
    )
    if args.cyclegan_ckpt:
        from lit_gen.models import CycleGAN

        model = CycleGAN.load_from_checkpoint(args.cyclegan_ckpt, map_location="cpu").eval()
        fake_a = unit(torch.cat([model.translate(x, "BtoA") for x in test.images_b.split(64)]))
        rows["CycleGAN F (checkpoint)"] = scores(fake_a, real_a, test.labels_b, clf_a, reference)
        # The cycle: F applied to G(a) instead of thin(a). Much better than F(thin(a)) would mean
        # that G hides information about a in G(a) for F (Chu et al., 2017, arXiv:1712.02950).
        fake_b = torch.cat([model.translate(x, "AtoB") for x in test.images_a.split(64)])
        cycle = unit(torch.cat([model.translate(x, "BtoA") for x in fake_b.split(64)]))
        rows["CycleGAN F(G(a)), the cycle (input G(a) instead of thin(a))"] = scores(
            cycle, real_a, test.labels_a, clf_a, reference
        )
        # The same two on the digits CycleGAN trained on (its domain A half): how much of F is
        # fitted to G's renderings of those digits rather than to the erosion.
        train_a = dm.train_set.images_a
        seen_a = unit(train_a)
        for name, inputs in (
            ("F(thin(a))", dm.to_range(thin_digits(seen_a))),
            ("F(G(a))", torch.cat([model.translate(x, "AtoB") for x in train_a.split(64)])),
        ):
            out = unit(torch.cat([model.translate(x, "BtoA") for x in inputs.split(64)]))
            rows[f"CycleGAN {name} on its own training digits ({len(seen_a)}, domain A)"] = scores(
                out, seen_a, dm.train_set.labels_a, clf_a, reference
            )
    runs = [] if args.oracle_runs or not previous else previous["runs"]
    for ngf, factor, loss, seed in args.oracle_runs or []:
        n_epochs = max(1, round(15 * factor))
        with torch.enable_grad():
            net, cpu_s, wall_s = train_oracle(
                inputs, targets, ngf, n_epochs, n_epochs, loss, seed
            )
        fake_a = unit(torch.cat([net(x) for x in test.images_b.split(64)]))
        row = scores(fake_a, real_a, test.labels_b, clf_a, reference)
        row.update(
            ngf=ngf,
            epochs=2 * n_epochs,
            updates=2 * n_epochs * CYCLEGAN_BATCHES_PER_EPOCH,
            loss=loss,
            seed=seed,
            cpu_s=cpu_s,
            wall_s=wall_s,
            pairs=len(inputs),
        )
        runs.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "fid_protocol"}), flush=True)
    return {"baselines": rows, "runs": runs, "checkpoint": args.cyclegan_ckpt, "n_test": len(real_a)}


# -- cost at 64 / 128 / 256 px ----------------------------------------------------------------
def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cost_one(size: int, steps: int) -> dict:
    """One process: lit-gen (Lightning) steps, then plain PyTorch steps, same networks."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from lit_gen.losses.translation import cycle_consistency_loss, identity_loss
    from lit_gen.models import CycleGAN

    torch.manual_seed(0)
    data = TensorDataset(
        torch.rand(steps + 1, 3, size, size) * 2 - 1, torch.rand(steps + 1, 3, size, size) * 2 - 1
    )
    load_start = os.getloadavg()
    model = CycleGAN(data_shape=(3, size, size))
    opt_g, opt_d = model.configure_optimizers()[0]
    base = _peak_mib()

    # plain PyTorch: the official optimize_parameters (G step, then D step on pooled fakes)
    adv, times, cpu_times = model.adversarial, [], []
    for i, (real_a, real_b) in enumerate(DataLoader(data, batch_size=1)):
        start, cpu_start = time.perf_counter(), time.process_time()
        fake_b, fake_a = model.gen_ab(real_a), model.gen_ba(real_b)
        for d in (model.disc_a, model.disc_b):
            d.requires_grad_(False)
        loss_g = (
            adv.g_loss(model.disc_b(fake_b))
            + adv.g_loss(model.disc_a(fake_a))
            + 10
            * cycle_consistency_loss(real_a, model.gen_ba(fake_b), real_b, model.gen_ab(fake_a))
            + 5 * identity_loss(real_a, model.gen_ba(real_a), real_b, model.gen_ab(real_b))
        )
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for d in (model.disc_a, model.disc_b):
            d.requires_grad_(True)
        loss_d = adv.d_loss(
            model.disc_a(real_a), model.disc_a(model.pool_a.query(fake_a))
        ) + adv.d_loss(model.disc_b(real_b), model.disc_b(model.pool_b.query(fake_b)))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    peak_plain = _peak_mib()

    class StepTimer(L.Callback):
        def __init__(self):
            self.times, self.cpu_times = [], []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx:
                self.times.append(time.perf_counter() - self.start)
                self.cpu_times.append(time.process_time() - self.cpu_start)

    timer = StepTimer()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(CycleGAN(data_shape=(3, size, size)), DataLoader(data, batch_size=1))
    lit_cpu, plain_cpu = statistics.median(timer.cpu_times), statistics.median(cpu_times)
    return {
        "size": size,
        "n_blocks": 9 if size >= 256 else 6,
        "steps_timed": steps,
        # per-step seconds: wall clock and this process's CPU time (1 thread: CPU time does not
        # count the time other processes hold the core, so it is robust to the machine's load)
        "lit_gen_wall_s": timer.times,
        "lit_gen_cpu_s": timer.cpu_times,
        "plain_wall_s": times,
        "plain_cpu_s": cpu_times,
        "lit_gen_cpu_median_s": lit_cpu,
        "plain_cpu_median_s": plain_cpu,
        "ratio_cpu_median": lit_cpu / plain_cpu,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "rss_after_build_mib": base,
        "peak_rss_plain_mib": peak_plain,
        "peak_rss_after_lit_gen_mib": _peak_mib(),
        "step_memory_mib": peak_plain - base,
    }


def cost(args) -> list[dict]:
    rows = []
    for size, steps in zip(args.sizes, args.cost_steps, strict=True):
        out = subprocess.run(
            [sys.executable, __file__, "cost-one", "--size", str(size), "--steps", str(steps)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


# -- report ---------------------------------------------------------------------------------
def checkpoint_run(checkpoint: str | None) -> dict | None:
    """What a checkpoint was trained with: its epoch, global step and its run's config.yaml."""
    if not checkpoint:
        return None
    import yaml

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = Path(checkpoint).resolve().parents[1] / "config.yaml"
    settings = yaml.safe_load(config.read_text()) if config.is_file() else {}
    return {
        "epochs": state["epoch"] + 1,
        "global_step": state["global_step"],
        "model": settings.get("model", {}).get("init_args", {}),
        "max_epochs": settings.get("trainer", {}).get("max_epochs"),
    }


def trained(r: dict) -> str:
    if r.get("checkpoint_run"):
        run = r["checkpoint_run"]
        model = run["model"]
        return (
            f"{run['epochs']} epochs of a {model.get('n_epochs')} + {model.get('n_epochs_decay')} epoch schedule, "
            f"{run['global_step']} optimizer steps, ngf {model.get('ngf')}"
        )
    what = " ".join(r["overrides"]) or "the config as is"
    return f"{what}, trained {r['train_minutes']:.0f} min"


def fmt(value: float, digits: int) -> str:
    return "-" if value != value else f"{value:.{digits}f}"  # NaN: not applicable


def markdown(results: dict) -> str:
    lines = []
    if "cyclegan" in results:
        r = results["cyclegan"]
        lines += [
            f"CycleGAN, digits (A) <-> thinned digits (B), 16 px, {r['n_test']} test images "
            f"({trained(r)}; classifier ceiling A {r['classifier_ceiling']['A']:.3f}, "
            f"B {r['classifier_ceiling']['B']:.3f}):",
            "",
            "| method | A->B PSNR (dB) | A->B label acc | A->B FID | B->A PSNR (dB) | B->A label acc | B->A FID |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, row in r["table"].items():
            ab, ba = row["AtoB"], row["BtoA"]
            lines.append(
                f"| {name} | {fmt(ab['psnr'], 2)} | {fmt(ab['label_acc'], 3)} | {fmt(ab['fid'], 1)} | "
                f"{fmt(ba['psnr'], 2)} | {fmt(ba['label_acc'], 3)} | {fmt(ba['fid'], 1)} |"
            )
        lines.append("")
    if "pix2pix" in results:
        r = results["pix2pix"]
        lines += [
            f"pix2pix, edge map -> digit, 16 px, {r['n_test']} test images ("
            f"{trained(r)}; classifier ceiling {r['classifier_ceiling']:.3f}):",
            "",
            "| method | L1 | PSNR (dB) | label acc | FID |",
            "|---|---|---|---|---|",
        ]
        for name, row in r["table"].items():
            lines.append(
                f"| {name} | {fmt(row['l1'], 4)} | {fmt(row['psnr'], 2)} | {fmt(row['label_acc'], 3)} | "
                f"{fmt(row['fid'], 1)} |"
            )
        lines.append("")
    if "oracle" in results:
        r = results["oracle"]
        lines += [
            f"thinned digit -> digit (B -> A), 16 px, {r['n_test']} test images, supervised on exact "
            "pairs against baselines:",
            "",
            "| method | generator updates (batch 8) | CPU time (s) | PSNR (dB) | L1 | label acc | FID |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, row in r["baselines"].items():
            lines.append(
                f"| {name} | - | - | {fmt(row['psnr'], 2)} | {fmt(row['l1'], 4)} | "
                f"{fmt(row['label_acc'], 3)} | {fmt(row['fid'], 1)} |"
            )
        for row in r["runs"]:
            loss = row["loss"].upper()
            if loss.startswith("L1GAN"):
                loss = f"{loss[5:]} x L1 + adversarial (D_X)"
            lines.append(
                f"| supervised {loss}, ngf {row['ngf']}, {row['epochs']} epochs, "
                f"{row['pairs']} pairs, seed {row['seed']} | {row['updates']} | {row['cpu_s']:.0f} | {fmt(row['psnr'], 2)} | "
                f"{fmt(row['l1'], 4)} | {fmt(row['label_acc'], 3)} | {fmt(row['fid'], 1)} |"
            )
        lines.append("")
    if "cost" in results and "plain_cpu_s" in results["cost"][0]:  # (older files: mean wall only)

        def med_min(values: list[float]) -> str:
            return f"{statistics.median(values):.2f} ({min(values):.2f})"

        first = results["cost"][0]
        lines += [
            "CycleGAN cost per training step, batch 1, paper networks, 1 CPU thread; seconds per "
            "step as median (min) over the timed steps:",
            "",
            "| image size | residual blocks | timed steps per loop | lit-gen CPU s | plain PyTorch CPU s | lit-gen / plain (CPU medians) | lit-gen wall s | plain wall s | plain CPU time vs 64 px (pixels x) | training-step memory (MiB) | peak RSS, plain loop (MiB) | peak RSS after the lit-gen run (MiB) | load average (1 min) start / end |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in results["cost"]:
            growth = row["plain_cpu_median_s"] / first["plain_cpu_median_s"]
            pixels = (row["size"] / first["size"]) ** 2
            lines.append(
                f"| {row['size']} | {row['n_blocks']} | {row['steps_timed']} | "
                f"{med_min(row['lit_gen_cpu_s'])} | {med_min(row['plain_cpu_s'])} | "
                f"{row['ratio_cpu_median']:.2f} | {med_min(row['lit_gen_wall_s'])} | "
                f"{med_min(row['plain_wall_s'])} | {growth:.1f} ({pixels:.0f}) | "
                f"{row['step_memory_mib']:.0f} | {row['peak_rss_plain_mib']:.0f} | "
                f"{row['peak_rss_after_lit_gen_mib']:.0f} | "
                f"{row['loadavg_start'][0]:.1f} / {row['loadavg_end'][0]:.1f} |"
            )
    return "\n".join(lines)


def oracle_run(text: str) -> tuple[int, float, str, int]:
    ngf, factor, loss, seed = text.split(":")
    weight = loss[len("l1gan") :] if loss.startswith("l1gan") else None
    if loss not in ("l1", "l2") and not (weight and weight.replace(".", "", 1).isdigit()):
        raise argparse.ArgumentTypeError(
            f"loss must be l1, l2 or l1gan<weight> (e.g. l1gan10), got {loss!r}"
        )
    return int(ngf), float(factor), loss, int(seed)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "part", choices=["quality", "cyclegan", "pix2pix", "oracle", "cost", "all", "cost-one"]
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument(
        "--cost-steps",
        type=int,
        nargs="+",
        default=[10, 6, 3],
        help="timed steps of each loop at each of --sizes (after one untimed step)",
    )
    parser.add_argument(
        "--cyclegan-override",
        dest="cyclegan_overrides",
        action="append",
        default=[],
        help="CLI override for the CycleGAN run, e.g. --cyclegan-override=--trainer.max_epochs=20",
    )
    parser.add_argument("--pix2pix-override", dest="pix2pix_overrides", action="append", default=[])
    parser.add_argument(
        "--cyclegan-ckpt",
        help="evaluate this checkpoint of the quickstart config instead of training",
    )
    parser.add_argument(
        "--pix2pix-ckpt",
        help="evaluate this checkpoint of the quickstart config instead of training",
    )
    parser.add_argument(
        "--pix2pix-eval-batch", type=int, default=8, help="test batch (= training batch)"
    )
    parser.add_argument(
        "--oracle-run",
        dest="oracle_runs",
        action="append",
        type=oracle_run,
        help="a supervised thinned -> digit run, NGF:FACTOR:LOSS:SEED (budget FACTOR x the "
        "CycleGAN run's 15 + 15 epochs; loss l1, l2 or l1gan<w>: w * L1 + CycleGAN's adversarial "
        "term with its D_X), e.g. 16:1:l1:0 or 16:1:l1gan10:0 (repeatable)",
    )
    parser.add_argument(
        "--oracle-pairs",
        choices=["all", "a-half"],
        default="all",
        help="the oracle's pairs: every training digit (1,259) or only the digits CycleGAN sees "
        "as domain A (a-half: 629, the data CycleGAN's cycle pairs (G(a), a) come from)",
    )
    parser.add_argument("--output", default=str(RESULTS / "translation.json"))
    args = parser.parse_args(argv)
    if args.part == "cost-one":
        print(json.dumps(cost_one(args.size, args.steps)))
        return
    output = Path(args.output)
    results = json.loads(output.read_text()) if output.is_file() else {}
    results["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    if args.part in ("quality", "cyclegan", "all"):
        results["cyclegan"] = quality_cyclegan(args)
        print(json.dumps(results["cyclegan"]["table"], indent=1), flush=True)
    if args.part in ("quality", "pix2pix", "all"):
        results["pix2pix"] = quality_pix2pix(args)
        print(json.dumps(results["pix2pix"]["table"], indent=1), flush=True)
    if args.part == "oracle":
        results["oracle"] = oracle(args, results.get("oracle"))
    if args.part in ("cost", "all"):
        results["cost"] = cost(args)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1))
    print(markdown(results))


if __name__ == "__main__":
    main()
