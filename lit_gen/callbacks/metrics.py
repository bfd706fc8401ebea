"""FID, IS, KID and precision/recall during validation and in ``lit-gen test``.

``GenerativeMetrics`` evaluates the model every ``every_n_epochs`` validation epochs with a
cheap set (default FID and IS) and at ``test`` with the full set (FID, IS, KID, precision and
recall), by :mod:`lit_gen.metrics.fidelity` (torch-fidelity). It logs ``val/fid``, ``val/is``,
``test/kid``, ... plus ``<stage>/protocol_num_generated`` and ``<stage>/protocol_num_reference``,
prints the full protocol, and writes it with the values to
``<run_dir>/metrics/<stage>_epoch<E>_step<S>.json``.

Works for unconditional models (``sample``), conditional ones (balanced labels, or per class)
and translation models (``translate_for_metrics``); see :mod:`lit_gen.metrics.generation`.
Under DDP each rank makes its share of the images, rank 0 computes the metrics once on the
gathered set and every rank logs the same broadcast values.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info

from lit_gen.errors import ConfigurationError, UserError
from lit_gen.metrics.digits_classifier import DIGITS_EXTRACTOR
from lit_gen.metrics.fidelity import (
    INCEPTION,
    METRICS,
    REFERENCE_METRICS,
    FidelityEvaluator,
    FidelityResult,
    ReferenceSet,
    datamodule_reference,
    extractor_weights,
    protocol_line,
    split_dataset,
)
from lit_gen.metrics.generation import is_conditional, sample_chunks, translate_chunks


class GenerativeMetrics(L.Callback):
    """Generative metrics by a stated protocol, computed by torch-fidelity.

    Defaults suit the embedded digits: 1,000 generated images against the 1,259-image training
    split. FID is biased upwards at small N (measured on real digits with the digits extractor:
    see benchmarks/RESULTS.md, "Evaluation"), so compare values only at equal N and keep
    N >= 300 (1,000 here; papers use 50,000 for CIFAR-10 with InceptionV3).

    Args:
        every_n_epochs: evaluate after every n-th validation epoch (never in the sanity check).
        num_samples: generated images per validation evaluation.
        test_num_samples: generated images at ``test`` (default ``num_samples``).
        metrics: computed during validation, among ``fid``, ``is``, ``kid``, ``prc``.
        test_metrics: computed at ``test``.
        reference_split: split of the data module generated images are compared with
            (``train``, ``val`` or ``test``). Translations are always compared with the target
            domain of the split being evaluated (``val`` or ``test``).
        feature_extractor: ``auto`` (``lit-gen-digits`` for ``DigitsDataModule``, else
            ``inception-v3-compat``), or any torch-fidelity extractor name.
        feature_extractor_weights: local weights file (InceptionV3 on offline nodes; default
            ``$LIT_GEN_INCEPTION_WEIGHTS``, torch's hub cache, or the download).
        per_class: for conditional models, also compare the samples of each class with the
            reference images of that class (``fid_class<k>``, ``fid_class_mean``; no IS).
        per_class_samples: generated images per class (default ``num_samples // num_classes``).
        is_splits: Inception Score splits.
        kid_subsets: KID subsets.
        kid_subset_size: KID subset size (capped at the set sizes; the used value is logged in
            the protocol).
        prc_neighborhood: ``k`` of precision/recall.
        seed: seed of the generated images (the same images every evaluation).
        batch_size: images per generation chunk and per feature-extractor batch.
        cache_dir: cache of reference features (default ``$LIT_GEN_CACHE_DIR`` or
            ``~/.cache/lit_gen/fidelity``).
        cache: cache reference features at all.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 1000,
        test_num_samples: int | None = None,
        metrics: Sequence[str] = ("fid", "is"),
        test_metrics: Sequence[str] = ("fid", "is", "kid", "prc"),
        reference_split: str = "train",
        feature_extractor: str = "auto",
        feature_extractor_weights: str | None = None,
        per_class: bool = False,
        per_class_samples: int | None = None,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        prc_neighborhood: int = 3,
        seed: int = 0,
        batch_size: int = 250,
        cache_dir: str | None = None,
        cache: bool = True,
    ):
        for name, values in (("metrics", metrics), ("test_metrics", test_metrics)):
            unknown = [m for m in values if m not in METRICS]
            if unknown:
                raise ConfigurationError(f"GenerativeMetrics {name}: unknown {unknown}; choose among {list(METRICS)}")
        if every_n_epochs < 1 or num_samples < 2 or (test_num_samples is not None and test_num_samples < 2):
            raise ConfigurationError("GenerativeMetrics needs every_n_epochs >= 1 and num_samples >= 2")
        if reference_split not in ("train", "val", "test"):
            raise ConfigurationError(f"reference_split must be 'train', 'val' or 'test', got {reference_split!r}")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.test_num_samples = test_num_samples or num_samples
        self.metrics = tuple(metrics)
        self.test_metrics = tuple(test_metrics)
        self.reference_split = reference_split
        self.feature_extractor = feature_extractor
        self.feature_extractor_weights = feature_extractor_weights
        self.per_class = per_class
        self.per_class_samples = per_class_samples
        self.is_splits = is_splits
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.prc_neighborhood = prc_neighborhood
        self.seed = seed
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.cache = cache
        #: ``{stage: {"metrics": {...}, "protocol": {...}, "file": path}}`` of the last evaluation.
        self.last_results: dict[str, dict[str, Any]] = {}
        self.evaluations = 0

    # -- hooks -------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._run_before_weight_averaging(trainer)
        if stage not in ("fit", "validate", "test"):
            return
        if self.per_class and not is_conditional(pl_module):
            raise ConfigurationError(
                f"GenerativeMetrics(per_class=True) needs a conditional model; {type(pl_module).__name__} "
                "has no num_classes"
            )
        if not (hasattr(pl_module, "sample") or hasattr(pl_module, "translate_for_metrics")):
            raise ConfigurationError(
                f"GenerativeMetrics: {type(pl_module).__name__} has neither sample(n, labels=None, "
                "generator=None) nor translate_for_metrics(images, direction)"
            )
        # Fail before training, not at the first evaluation: missing weights, unknown extractor.
        self._on_rank_zero(trainer, lambda: extractor_weights(self.extractor_name(trainer), self.feature_extractor_weights))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self.evaluate(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.evaluate(trainer, pl_module, "test")

    # -- evaluation --------------------------------------------------------------------------
    def extractor_name(self, trainer: L.Trainer) -> str:
        if self.feature_extractor != "auto":
            return self.feature_extractor
        from lit_gen.data import DigitsDataModule

        return DIGITS_EXTRACTOR if isinstance(trainer.datamodule, DigitsDataModule) else INCEPTION

    def evaluator(self, trainer: L.Trainer, pl_module: L.LightningModule) -> FidelityEvaluator:
        return FidelityEvaluator(
            feature_extractor=self.extractor_name(trainer),
            metrics=tuple(dict.fromkeys(self.metrics + self.test_metrics)),
            feature_extractor_weights=self.feature_extractor_weights,
            is_splits=self.is_splits, kid_subsets=self.kid_subsets, kid_subset_size=self.kid_subset_size,
            prc_neighborhood=self.prc_neighborhood, batch_size=self.batch_size,
            cache=self.cache, cache_dir=self.cache_dir,
            device=pl_module.device if pl_module.device.type == "cuda" else "cpu",
        )

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> dict[str, float]:
        """Make the images (all ranks), compute the metrics (rank 0), log them (all ranks)."""
        datamodule = trainer.datamodule
        if datamodule is None:
            raise ConfigurationError("GenerativeMetrics needs the trainer's data module (the reference images)")
        start = time.perf_counter()
        metrics = self.metrics if stage == "val" else self.test_metrics
        num_samples = self.num_samples if stage == "val" else self.test_num_samples
        value_range = tuple(getattr(pl_module, "value_range", getattr(datamodule, "value_range", (-1.0, 1.0))))
        gather = {"rank": trainer.global_rank, "world_size": trainer.world_size, "all_gather": trainer.strategy.all_gather}
        was_training = pl_module.training
        pl_module.eval()
        # (suffix of the log names, images, reference set or None, metrics, what the images are)
        jobs: list[tuple[str, torch.Tensor, ReferenceSet | None, tuple[str, ...], str]] = []
        try:
            if hasattr(pl_module, "translate_for_metrics"):
                split = "val" if stage == "val" else "test"
                for source, target in pl_module.translation_directions:
                    images, _ = translate_chunks(
                        pl_module, split_dataset(datamodule, split, source), (source, target), value_range,
                        self.batch_size, **gather)
                    reference = _lazy(lambda t=target: datamodule_reference(datamodule, split, domain=t), metrics)
                    jobs.append((f"_{source.lower()}2{target.lower()}", images, reference, metrics,
                                 f"{split} images of domain {source} translated to {target}"))
            else:
                images, _ = sample_chunks(pl_module, num_samples, value_range, self.seed, self.batch_size, **gather)
                what = "generated (balanced labels)" if is_conditional(pl_module) else "generated"
                reference = _lazy(lambda: datamodule_reference(datamodule, self.reference_split), metrics)
                jobs.append(("", images, reference, metrics, what))
                if self.per_class:
                    k = int(pl_module.num_classes)
                    per_class = self.per_class_samples or max(2, num_samples // k)
                    class_metrics = tuple(m for m in metrics if m in REFERENCE_METRICS) or ("fid",)
                    for label in range(k):
                        images, _ = sample_chunks(pl_module, per_class, value_range, self.seed, self.batch_size,
                                                  label=label, **gather)
                        reference = _lazy(lambda c=label: datamodule_reference(datamodule, self.reference_split, label=c),
                                          class_metrics)
                        jobs.append((f"_class{label}", images, reference, class_metrics, f"generated class {label}"))
        finally:
            if was_training:
                pl_module.train()

        def compute() -> dict[str, Any]:
            evaluator = self.evaluator(trainer, pl_module)
            values: dict[str, float] = {}
            protocols: dict[str, dict] = {}
            for suffix, images, reference, job_metrics, what in jobs:
                result: FidelityResult = evaluator.evaluate(
                    images, reference() if reference else None, metrics=job_metrics, generated_description=what)
                values.update({f"{name}{suffix}": value for name, value in result.metrics.items()})
                protocols[suffix.lstrip("_") or "all"] = result.protocol
            class_fids = [v for k, v in values.items() if k.startswith("fid_class")]
            if class_fids:
                values["fid_class_mean"] = sum(class_fids) / len(class_fids)
            return {"metrics": values, "protocol": protocols}

        payload = self._on_rank_zero(trainer, compute)
        values = dict(payload["metrics"])
        first = next(iter(payload["protocol"].values()))
        logged = dict(values)
        logged["protocol_num_generated"] = float(first["num_generated"])
        if "num_reference" in first:
            logged["protocol_num_reference"] = float(first["num_reference"])
        for name, value in logged.items():
            # Every rank holds rank 0's value already; "max" of equal values is exact (a mean
            # over 3 ranks might not be) and marks the value as synchronized for Lightning.
            pl_module.log(f"{stage}/{name}", value, on_step=False, on_epoch=True, sync_dist=True, reduce_fx="max")
        seconds = time.perf_counter() - start
        self.evaluations += 1
        self.last_results[stage] = {"metrics": values, "protocol": payload["protocol"], "seconds": seconds}
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective under DDP: every rank asks
        if trainer.is_global_zero:
            self.last_results[stage]["file"] = self._write(trainer, log_dir, stage, values, payload["protocol"], seconds)
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            rank_zero_info(f"{stage} metrics ({seconds:.1f} s): {shown}\n  protocol: {protocol_line(first)}")
        return values

    # -- helpers -----------------------------------------------------------------------------
    def _on_rank_zero(self, trainer: L.Trainer, fn):
        """Run ``fn`` on rank 0 and broadcast its result; an exception there is raised on every
        rank (so no rank waits forever for the others)."""
        payload: Any = None
        if trainer.is_global_zero:
            try:
                payload = {"ok": fn()}
            except UserError as error:
                if trainer.world_size == 1:
                    raise
                payload = {"user_error": (type(error), str(error))}
            except Exception as error:
                if trainer.world_size == 1:
                    raise
                payload = {"error": f"{type(error).__name__}: {error}"}
        if trainer.world_size > 1:
            payload = trainer.strategy.broadcast(payload, src=0)
        if "user_error" in payload:
            cls, message = payload["user_error"]
            raise cls(message)
        if "error" in payload:
            raise RuntimeError(f"GenerativeMetrics failed on rank 0: {payload['error']}")
        return payload["ok"]

    def _write(self, trainer: L.Trainer, log_dir: str, stage: str, values: dict, protocol: dict, seconds: float) -> str:
        folder = os.path.join(log_dir, "metrics")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{stage}_epoch{trainer.current_epoch:04d}_step{trainer.global_step}.json")
        record = {"stage": stage, "epoch": trainer.current_epoch, "global_step": trainer.global_step,
                  "seconds": round(seconds, 3), "metrics": values, "protocol": protocol}
        with open(path, "w") as handle:
            json.dump(record, handle, indent=2)
        return path

    def _run_before_weight_averaging(self, trainer: L.Trainer) -> None:
        """Weight averaging (EMA) swaps the averaged weights in for validation and back in its
        own ``on_validation_epoch_end``: evaluate before that, on the averaged weights."""
        from lightning.pytorch.callbacks import WeightAveraging

        callbacks = trainer.callbacks
        averaging = [i for i, c in enumerate(callbacks) if isinstance(c, WeightAveraging)]
        me = next((i for i, c in enumerate(callbacks) if c is self), None)
        if averaging and me is not None and me > averaging[0]:
            callbacks.remove(self)
            callbacks.insert(averaging[0], self)


def _lazy(make, metrics: Sequence[str]):
    """The reference set is built on rank 0 only, and only when a metric needs one."""
    if not any(m in REFERENCE_METRICS for m in metrics):
        return None
    return make
