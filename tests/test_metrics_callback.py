"""GenerativeMetrics during training, at ``lit-gen test``, for unconditional, conditional and
translation models, and under DDP (2 CPU processes)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import WeightAveraging
from metrics_models import DigitBank, Negator, TinyGenerator, TwoDomainDigits, _NoTraining

from lit_gen.callbacks import GenerativeMetrics, ImageGrids
from lit_gen.cli import run
from lit_gen.data import DigitsDataModule
from lit_gen.errors import ConfigurationError
from lit_gen.metrics.fidelity import dataset_images

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _trainer(callback: GenerativeMetrics, **kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                     callbacks=[callback], **kwargs)


def test_cli_fit_logs_metrics_every_n_epochs_and_test_computes_the_full_set(tmp_path, fast_trainer_args):
    config = yaml.safe_load((ROOT / "configs/quickstart/vae_with_metrics.yaml").read_text())
    callback = config["trainer"]["callbacks"][0]["init_args"]
    callback.update(every_n_epochs=1, num_samples=300, kid_subsets=10)
    path = tmp_path / "vae_metrics.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "run"
    fast = [a for a in fast_trainer_args if not a.startswith("--trainer.max_epochs")]
    cli = run(["fit", "--config", str(path), *fast, "--trainer.max_epochs=2", "--run_dir", str(run_dir)])
    metrics = next(c for c in cli.trainer.callbacks if isinstance(c, GenerativeMetrics))
    assert metrics.evaluations == 2
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    logged = [row for row in rows if row.get("val/fid")]
    assert len(logged) == 2 and all(float(row["val/is"]) >= 1.0 for row in logged)
    assert float(logged[0]["val/protocol_num_generated"]) == 300
    assert float(logged[0]["val/protocol_num_reference"]) == 1259
    record = json.loads(Path(metrics.last_results["val"]["file"]).read_text())
    assert record["metrics"]["fid"] == pytest.approx(float(logged[-1]["val/fid"]), rel=1e-6)
    protocol = record["protocol"]["all"]
    assert protocol["num_generated"] == 300 and protocol["reference"] == "DigitsDataModule train split"
    assert protocol["feature_extractor"] == "lit-gen-digits" and protocol["is_splits"] == 10
    assert protocol["image_shape"] == [1, 16, 16]
    assert Path(record["protocol"]["all"]["feature_extractor_weights"].split()[0]).name == "digits_classifier.pt"
    assert any(Path(os.environ["LIT_GEN_CACHE_DIR"]).iterdir())

    test = run(["test", "--config", str(path), *fast, "--ckpt_path", str(run_dir / "checkpoints/last.ckpt"),
                "--run_dir", str(tmp_path / "test_run")])
    results = test.trainer.callback_metrics
    for key in ("test/fid", "test/is", "test/kid", "test/precision", "test/recall", "test/protocol_num_generated"):
        assert key in results, key
    assert float(results["test/protocol_num_generated"]) == 300
    assert 0.0 <= float(results["test/precision"]) <= 1.0
    # the same weights and seed: the test FID is the last validation FID
    assert float(results["test/fid"]) == pytest.approx(float(logged[-1]["val/fid"]), rel=1e-5)
    assert (tmp_path / "test_run" / "metrics").is_dir()


def test_conditional_models_get_balanced_labels_and_per_class_metrics():
    data = DigitsDataModule(image_size=16)
    data.setup("fit")
    images, labels = dataset_images(data.test_set)
    results = {}
    for shift in (0, 1):
        model = DigitBank(images, labels, shift=shift)
        callback = GenerativeMetrics(num_samples=200, batch_size=64, metrics=["fid"], per_class=True)
        _trainer(callback).validate(model, datamodule=data)
        results[shift] = callback.last_results["val"]
        overall = torch.cat(model.seen_labels[:4])  # the first pass: 200 balanced labels
        assert torch.equal(overall, torch.arange(200) % 10)
        assert all(torch.all(chunk == chunk[0]) for chunk in model.seen_labels[4:])  # per class
    right, wrong = results[0]["metrics"], results[1]["metrics"]
    assert {f"fid_class{k}" for k in range(10)} <= right.keys() and "fid_class_mean" in right
    assert right["fid_class_mean"] * 5 < wrong["fid_class_mean"]  # wrong classes are caught ...
    assert wrong["fid"] < 2 * right["fid"] and right["fid"] < 2 * wrong["fid"]  # ... only per class
    assert results[0]["protocol"]["class3"]["reference"] == "DigitsDataModule train split, class 3"
    assert results[0]["protocol"]["class3"]["num_generated"] == 20


def test_translation_models_are_compared_with_the_target_domain():
    data = TwoDomainDigits(image_size=16)
    results = {}
    for identity in (False, True):
        model = Negator(identity=identity)
        callback = GenerativeMetrics(metrics=["fid", "prc"], batch_size=100)
        _trainer(callback).validate(model, datamodule=data)
        assert sorted(set(model.calls)) == [("A", "B"), ("B", "A")]
        results[identity] = callback.last_results["val"]
    exact, untranslated = results[False]["metrics"], results[True]["metrics"]
    assert abs(exact["fid_a2b"]) < 1e-6 and abs(exact["fid_b2a"]) < 1e-6  # -A is exactly B
    assert exact["precision_a2b"] == exact["recall_a2b"] == 1.0
    assert untranslated["fid_a2b"] > 100 and untranslated["fid_b2a"] > 100
    protocol = results[False]["protocol"]["a2b"]
    assert protocol["reference"] == "TwoDomainDigits val split, domain B"
    assert protocol["num_generated"] == protocol["num_reference"] == len(data.val_set)


def test_ddp_value_equals_the_single_process_value(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(TESTS / "ddp_metrics_script.py"), str(tmp_path), "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    sys.path.insert(0, str(TESTS))
    from ddp_metrics_script import main

    main(str(tmp_path), 1)
    single = json.loads((tmp_path / "rank0_of1.json").read_text())
    ranks = [json.loads((tmp_path / f"rank{r}_of2.json").read_text()) for r in (0, 1)]
    assert single["computed"]["fid"] > 0
    for record in ranks:
        assert record["world_size"] == 2
        assert record["computed"] == single["computed"]  # 300 images in 5 chunks: 3 + 2 per rank
        assert record["logged"] == single["logged"]  # every rank logs the same value


def test_setup_fails_before_training_on_bad_configuration(tmp_path, monkeypatch, capsys, fast_trainer_args):
    callback = GenerativeMetrics(per_class=True)
    trainer = _trainer(callback, max_epochs=1)
    with pytest.raises(ConfigurationError, match="per_class=True\\) needs a conditional model"):
        trainer.fit(TinyGenerator(), datamodule=DigitsDataModule(image_size=16))
    assert trainer.global_step == 0
    with pytest.raises(ConfigurationError, match="unknown"):
        GenerativeMetrics(metrics=["fid", "lpips"])
    # InceptionV3 without weights offline: one line naming the URL, before any training step
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("LIT_GEN_INCEPTION_WEIGHTS", raising=False)
    config = {
        "trainer": {"callbacks": [{"class_path": "lit_gen.callbacks.GenerativeMetrics", "init_args": {
            "feature_extractor": "inception-v3-compat", "feature_extractor_weights": str(tmp_path / "missing.pth")}}]},
        "model": {"class_path": "lit_gen.models.VAE"},
        "data": {"class_path": "lit_gen.data.DigitsDataModule"},
    }
    path = tmp_path / "inception.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_info:
        run(["fit", "--config", str(path), *fast_trainer_args, "--run_dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lit-gen: error: InceptionV3 weights not found at")
    assert "weights-inception-2015-12-05-6726825d.pth" in err and "LIT_GEN_INCEPTION_WEIGHTS" in err
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def test_models_without_a_metrics_protocol_are_refused():
    trainer = _trainer(GenerativeMetrics())
    with pytest.raises(ConfigurationError, match="neither sample"):
        trainer.validate(_NoTraining(), datamodule=DigitsDataModule(image_size=16))


def test_metrics_run_before_weight_averaging_swaps_weights_back():
    callback = GenerativeMetrics(num_samples=50, is_splits=5, metrics=["is"])
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                        callbacks=[WeightAveraging(), ImageGrids(), callback])
    trainer.validate(TinyGenerator(), datamodule=DigitsDataModule(image_size=16))
    order = [type(c) for c in trainer.callbacks]
    assert order.index(GenerativeMetrics) < order.index(WeightAveraging)
    assert callback.evaluations == 1
