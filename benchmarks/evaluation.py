"""Evaluation benchmarks: lit-gen's overhead over torch-fidelity, and the digits FD/IS scale.

    python benchmarks/evaluation.py            # all three tables, markdown on stdout
    python benchmarks/evaluation.py --only timing --repeats 9

1. Timing: one evaluation of N=1,000 digit images (float tensors in [-1, 1]) with the digits
   extractor through ``FidelityEvaluator.evaluate`` against ``torch_fidelity.calculate_metrics``
   called directly on the same images (already uint8, so the baseline does not even pay the
   conversion) with the same arguments and the same cached reference. Alternating runs, median.
2. Scale: FD/IS/KID/precision/recall of real held-out digits, blurred and noisy digits, one class,
   against the training split, so users can read their models' numbers.
3. Small-N bias: FD of N held-out real digits against the training split, 20 random draws each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch
import torch_fidelity
from torch.utils.data import Dataset
from torchvision.transforms.functional import gaussian_blur

from lit_gen.data import DigitsDataModule
from lit_gen.metrics import DIGITS_EXTRACTOR, FidelityEvaluator, datamodule_reference, to_uint8
from lit_gen.metrics.fidelity import METRICS, dataset_images, extractor_weights


class Plain(Dataset):
    """What a user would hand torch-fidelity: uint8 images, one per item."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def digits():
    data = DigitsDataModule(image_size=16, value_range=(-1.0, 1.0))
    data.setup("fit")
    return data, {name: dataset_images(getattr(data, f"{name}_set")) for name in ("train", "val", "test")}


def timing(repeats: int, cache_dir: str) -> str:
    data, splits = digits()
    pool = torch.cat([splits[s][0] for s in ("train", "val", "test")])
    generator = torch.Generator().manual_seed(0)
    # 1,000 "samples": real digits with a little noise, float in [-1, 1] as a model returns them
    samples = (pool[torch.randperm(len(pool), generator=generator)[:1000]]
               + 0.05 * torch.randn(1000, 1, 16, 16, generator=generator)).clamp(-1, 1)
    samples_u8 = to_uint8(samples, (-1, 1))
    rows = []
    for metrics in (("fid", "is"), ("fid", "is", "kid", "prc")):
        evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=metrics, device="cpu", cache_dir=cache_dir)
        reference = datamodule_reference(data, "train")
        evaluator.evaluate(samples, reference, value_range=(-1, 1))  # warm the reference cache
        _, weights_id = extractor_weights(DIGITS_EXTRACTOR, None)
        reference_u8 = to_uint8(splits["train"][0], (-1, 1))
        direct_kwargs = dict(
            input2=Plain(reference_u8), input2_cache_name=evaluator.reference_cache_name(reference, weights_id),
            feature_extractor=DIGITS_EXTRACTOR, cuda=False, batch_size=200, isc_splits=10, kid_subsets=100,
            kid_subset_size=1000, prc_neighborhood=3, rng_seed=2020, cache=True, cache_root=cache_dir,
            save_cpu_ram=True, verbose=False, **{METRICS[m]: True for m in metrics},
        )
        lit, direct, results = [], [], {}
        for _ in range(repeats if len(metrics) == 2 else max(3, repeats // 3)):
            start = time.perf_counter()
            results["lit"] = evaluator.evaluate(samples, datamodule_reference(data, "train"), value_range=(-1, 1)).metrics
            lit.append(time.perf_counter() - start)
            start = time.perf_counter()
            results["direct"] = torch_fidelity.calculate_metrics(input1=Plain(samples_u8), **direct_kwargs)
            direct.append(time.perf_counter() - start)
        assert abs(results["lit"]["fid"] - results["direct"]["frechet_inception_distance"]) < 1e-9
        # torch-fidelity's own defaults read the images with 4 DataLoader worker processes
        start = time.perf_counter()
        torch_fidelity.calculate_metrics(input1=Plain(samples_u8), **{**direct_kwargs, "save_cpu_ram": False})
        workers = time.perf_counter() - start
        lit_s, direct_s = statistics.median(lit), statistics.median(direct)
        rows.append(f"| {', '.join(metrics)} | {len(lit)} | {lit_s:.3f} / {min(lit):.3f} | {direct_s:.3f} / {min(direct):.3f} "
                    f"| **{lit_s / direct_s:.3f}** / **{min(lit) / min(direct):.3f}** | {workers:.3f} |")
    return "\n".join([
        "One evaluation, N=1,000 generated vs the 1,259-image training split (cached features), digits "
        "extractor, CPU, alternating runs; median / minimum:",
        "",
        "| metrics | runs | lit-gen (s) | torch-fidelity direct (s) | ratio | direct with torch-fidelity's default 4 loader workers, one run (s) |",
        "|---|---|---|---|---|---|",
        *rows,
    ])


def scale_table(cache_dir: str) -> str:
    data, splits = digits()
    reference = datamodule_reference(data, "train")
    evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("fid", "is", "kid", "prc"), device="cpu",
                                  cache_dir=cache_dir, kid_subsets=100)
    one_split = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("is",), is_splits=1, device="cpu", cache_dir=cache_dir)
    test, test_labels = splits["test"]
    val, val_labels = splits["val"]
    held_out = torch.cat([val, test])
    held_labels = torch.cat([val_labels, test_labels])
    generator = torch.Generator().manual_seed(0)
    sets = [
        ("real: training split itself", splits["train"][0]),
        ("real: test split", test),
        ("real: validation split", val),
        ("real: validation + test", held_out),
        ("test, Gaussian blur sigma 0.5 px", gaussian_blur(test, 3, 0.5)),
        ("test, Gaussian blur sigma 1 px", gaussian_blur(test, 5, 1.0)),
        ("test + Gaussian noise std 0.1", (test + 0.1 * torch.randn(test.shape, generator=generator)).clamp(-1, 1)),
        ("test + Gaussian noise std 0.3", (test + 0.3 * torch.randn(test.shape, generator=generator)).clamp(-1, 1)),
        ("uniform noise", torch.rand(test.shape, generator=generator) * 2 - 1),
        ("one class (3), validation + test", held_out[held_labels == 3]),
        ("one class (0), validation + test", held_out[held_labels == 0]),
    ]
    rows = []
    for name, images in sets:
        m = evaluator.evaluate(images, reference, value_range=(-1, 1)).metrics
        is1 = one_split.evaluate(images, value_range=(-1, 1)).metrics["is"]
        rows.append(f"| {name} | {len(images)} | {m['fid']:.2f} | {m['is']:.2f} ± {m['is_std']:.2f} | {is1:.2f} | "
                    f"{m['kid']:.1f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    return "\n".join([
        "Digits extractor (lit-gen-digits), reference: DigitsDataModule(image_size=16) training split "
        "(1,259 images), images 1x16x16 uint8; IS over 10 splits (and 1 split); KID 100 subsets of "
        "min(1000, N); precision/recall k=3:",
        "",
        "| images | N | FD | IS (10 splits) | IS (1 split) | KID | precision | recall |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ])


def small_n_table(cache_dir: str, draws: int = 20) -> str:
    data, splits = digits()
    reference = datamodule_reference(data, "train")
    evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("fid", "is"), device="cpu", cache_dir=cache_dir)
    held_out = torch.cat([splits["val"][0], splits["test"][0]])
    rng = np.random.default_rng(0)
    rows = []
    for n in (50, 100, 200, 300, 400, 538):
        fids, iss = [], []
        for _ in range(draws if n < len(held_out) else 1):
            images = held_out[torch.as_tensor(rng.choice(len(held_out), n, replace=False))]
            result = evaluator.evaluate(images, reference, value_range=(-1, 1)).metrics
            fids.append(result["fid"])
            iss.append(result["is"])
        spread = f" ± {np.std(fids):.2f}" if len(fids) > 1 else ""
        rows.append(f"| {n} | {np.mean(fids):.2f}{spread} | {np.mean(iss):.2f} |")
    return "\n".join([
        f"FD and IS (10 splits) of N real held-out digits (validation + test, 538) against the training split, "
        f"mean ± std over {draws} random draws:",
        "",
        "| N | FD | IS (10 splits) |",
        "|---|---|---|",
        *rows,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["timing", "scale", "small_n"], default=None)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["LIT_GEN_CACHE_DIR"] = cache_dir
        if args.only in (None, "timing"):
            print(timing(args.repeats, cache_dir), end="\n\n")
        if args.only in (None, "scale"):
            print(scale_table(cache_dir), end="\n\n")
        if args.only in (None, "small_n"):
            print(small_n_table(cache_dir))


if __name__ == "__main__":
    main()
