"""Evaluation through torch-fidelity: the digits classifier, the metrics against independent
numpy/scipy computations, their behaviour on real/noise/one-class sets, the reference cache and
the feature-extractor weights (local files, InceptionV3 errors)."""

from __future__ import annotations

import urllib.error
from functools import lru_cache

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import torch
import torch_fidelity
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from lit_gen.data import DigitsDataModule
from lit_gen.errors import ConfigurationError, CorruptDataError, UserError
from lit_gen.metrics import (
    DIGITS_CLASSIFIER_WEIGHTS,
    INCEPTION,
    INCEPTION_WEIGHTS_ENV,
    FidelityEvaluator,
    ReferenceSet,
    datamodule_reference,
    load_digits_classifier,
    resolve_inception_weights,
    to_uint8,
)
from lit_gen.metrics.digits_classifier import prepare_digits
from lit_gen.metrics.fidelity import dataset_images, inception_hub_path


@lru_cache(maxsize=4)
def _digits(image_size: int = 16, value_range: tuple = (-1.0, 1.0)):
    data = DigitsDataModule(image_size=image_size, value_range=value_range)
    data.setup("fit")
    return data, {name: dataset_images(getattr(data, f"{name}_set")) for name in ("train", "val", "test")}


def digits(image_size: int = 16, value_range: tuple = (-1.0, 1.0)):
    data, splits = _digits(image_size, value_range)
    return data, {k: (v[0].clone(), v[1].clone()) for k, v in splits.items()}


# -- the digits classifier ----------------------------------------------------------------------
def test_shipped_classifier_is_small_and_accurate_on_the_held_out_test_split():
    assert DIGITS_CLASSIFIER_WEIGHTS.is_file()
    assert DIGITS_CLASSIFIER_WEIGHTS.stat().st_size < 1_000_000
    classifier = load_digits_classifier()
    assert "train split" in classifier.meta["trained_on"]
    _, splits = digits(16, (-1.0, 1.0))
    images, labels = splits["test"]
    accuracy = (classifier.predict(images, value_range=(-1, 1)) == labels).float().mean().item()
    assert accuracy > 0.97
    assert accuracy == pytest.approx(classifier.meta["test_accuracy"], abs=0.01)


@pytest.mark.parametrize("image_size", [8, 16, 32])
def test_classifier_accepts_any_size_range_and_channels(image_size):
    classifier = load_digits_classifier()
    _, splits = digits(image_size, (0.0, 1.0))
    images, labels = splits["val"]
    unit = classifier.predict(images, value_range=(0, 1))
    assert (unit == labels).float().mean() > 0.93
    # the same images in [-1, 1], as uint8, and as RGB give the same decisions
    assert torch.equal(classifier.predict(images * 2 - 1, value_range=(-1, 1)), unit)
    assert (classifier.predict(to_uint8(images, (0, 1))) == unit).float().mean() > 0.99
    assert torch.equal(classifier.predict(images.expand(-1, 3, -1, -1), value_range=(0, 1)), unit)


def test_classifier_rejects_bad_shapes_and_bad_weights(tmp_path):
    classifier = load_digits_classifier()
    with pytest.raises(ConfigurationError, match=r"\(N, 1 or 3, H, W\)"):
        classifier.predict(torch.zeros(2, 2, 16, 16))
    with pytest.raises(UserError, match="not found"):
        load_digits_classifier(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {}, "config": {}}, bad)
    with pytest.raises(CorruptDataError, match="train_digits_classifier"):
        load_digits_classifier(bad)


def test_classifier_training_is_deterministic():
    from lit_gen.metrics.train_digits_classifier import train

    first = train(epochs=1, verbose=False)
    second = train(epochs=1, verbose=False)
    assert first["state_dict"].keys() == second["state_dict"].keys()
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])
    assert first["meta"]["val_accuracy"] > 0.25  # above chance (0.1) after one epoch


@pytest.mark.slow
def test_training_script_reproduces_the_shipped_weights():
    from lit_gen.metrics.train_digits_classifier import train

    shipped = torch.load(DIGITS_CLASSIFIER_WEIGHTS, weights_only=True)
    record = train(verbose=False)
    assert all(torch.equal(record["state_dict"][k], v) for k, v in shipped["state_dict"].items())


# -- the metrics, against independent computations -----------------------------------------------
def _features(images_uint8: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features and logits of the digits classifier, float64 numpy."""
    net = load_digits_classifier().net
    with torch.no_grad():
        features = net.features(prepare_digits(images_uint8))
        logits = net.head(features)
    return features.double().numpy(), logits.double().numpy()


def _fid(f1: np.ndarray, f2: np.ndarray) -> float:
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def _inception_score(logits: np.ndarray) -> float:
    p = scipy.special.softmax(logits, axis=1)
    marginal = p.mean(0, keepdims=True)
    return float(np.exp((p * (np.log(p) - np.log(marginal))).sum(1).mean()))


def _kid_unbiased(f1: np.ndarray, f2: np.ndarray) -> float:
    d = f1.shape[1]
    k11, k22, k12 = ((a @ b.T / d + 1) ** 3 for a, b in ((f1, f1), (f2, f2), (f1, f2)))
    m = len(f1)
    return float((k11.sum() - np.trace(k11)) / (m * (m - 1)) + (k22.sum() - np.trace(k22)) / (m * (m - 1))
                 - 2 * k12.mean())


def _precision_recall(fake: np.ndarray, real: np.ndarray, k: int = 3) -> tuple[float, float]:
    def radii(x):  # distance to the k-th nearest other point
        return np.sort(scipy.spatial.distance.cdist(x, x), axis=1)[:, k]

    d = scipy.spatial.distance.cdist(fake, real)
    precision = (d <= radii(real)[None, :]).any(1).mean()
    recall = (d.T <= radii(fake)[None, :]).any(1).mean()
    return float(precision), float(recall)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # inactive features: singular covariances
def test_metrics_equal_independent_numpy_scipy_computations():
    data, splits = digits()
    fake = to_uint8(splits["test"][0], (-1, 1))
    real = to_uint8(splits["val"][0], (-1, 1))
    assert len(fake) == len(real)  # KID over one subset of all images is then order-free
    evaluator = FidelityEvaluator(device="cpu", is_splits=1, kid_subsets=1, kid_subset_size=len(fake))
    result = evaluator.evaluate(fake, ReferenceSet.from_images(real, "val split"))
    f_fake, logits_fake = _features(fake)
    f_real, _ = _features(real)
    assert result.metrics["fid"] == pytest.approx(_fid(f_fake, f_real), rel=1e-4, abs=1e-4)
    assert result.metrics["is"] == pytest.approx(_inception_score(logits_fake), rel=1e-4, abs=1e-4)
    assert result.metrics["kid"] == pytest.approx(_kid_unbiased(f_fake, f_real), rel=1e-4, abs=1e-4)
    precision, recall = _precision_recall(f_fake, f_real)
    assert result.metrics["precision"] == pytest.approx(precision, abs=1e-4)
    assert result.metrics["recall"] == pytest.approx(recall, abs=1e-4)
    # The IS over 10 splits: torch-fidelity's shuffle (RandomState(rng_seed)), then the mean.
    split_result = FidelityEvaluator(device="cpu", metrics=["is"]).evaluate(fake)
    order = np.random.RandomState(2020).permutation(len(fake))
    n = len(fake)
    scores = [_inception_score(logits_fake[order][i * n // 10:(i + 1) * n // 10]) for i in range(10)]
    assert split_result.metrics["is"] == pytest.approx(np.mean(scores), rel=1e-4)
    assert split_result.metrics["is_std"] == pytest.approx(np.std(scores), rel=1e-4)


def test_metrics_order_real_test_data_before_noise_and_one_class():
    data, splits = digits()
    evaluator = FidelityEvaluator(device="cpu", metrics=["fid", "kid", "prc"], kid_subsets=10)
    reference = datamodule_reference(data, "train")
    test_images, test_labels = splits["test"]
    real = evaluator.evaluate(test_images, reference, value_range=(-1, 1)).metrics
    noise = evaluator.evaluate(torch.rand(len(test_images), 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1,
                               reference, value_range=(-1, 1)).metrics
    one_class = evaluator.evaluate(test_images[test_labels == 3], reference, value_range=(-1, 1)).metrics
    assert real["fid"] < noise["fid"] / 10 and real["fid"] < one_class["fid"] / 10
    assert real["kid"] < noise["kid"] and real["kid"] < one_class["kid"]
    assert real["recall"] > 0.8 and one_class["recall"] < 0.2  # one class covers a tenth of the data
    assert real["precision"] > 0.8 and noise["precision"] < 0.1
    # the reference against itself
    identical = evaluator.evaluate(splits["train"][0], reference, value_range=(-1, 1), metrics=["fid", "prc"])
    assert abs(identical.metrics["fid"]) < 1e-6
    assert identical.metrics["precision"] == identical.metrics["recall"] == 1.0


def test_inception_score_of_one_class_is_one_and_of_real_digits_near_ten():
    data, splits = digits()
    images = torch.cat([splits["val"][0], splits["test"][0]])
    labels = torch.cat([splits["val"][1], splits["test"][1]])
    evaluator = FidelityEvaluator(device="cpu", metrics=["is"], is_splits=1)
    assert evaluator.evaluate(images, value_range=(-1, 1)).metrics["is"] > 9.0
    for digit in (0, 7):
        assert evaluator.evaluate(images[labels == digit], value_range=(-1, 1)).metrics["is"] < 1.2


def test_protocol_is_part_of_every_result():
    data, splits = digits()
    result = FidelityEvaluator(device="cpu", kid_subsets=10).evaluate(
        splits["test"][0], datamodule_reference(data, "train"), value_range=(-1, 1))
    protocol = result.protocol
    assert protocol["num_generated"] == len(splits["test"][0])
    assert protocol["reference"] == "DigitsDataModule train split"
    assert protocol["num_reference"] == len(splits["train"][0])
    assert protocol["feature_extractor"] == "lit-gen-digits"
    assert protocol["feature_extractor_weights"].startswith("digits_classifier.pt sha256:")
    assert protocol["image_shape"] == [1, 16, 16]
    assert protocol["is_splits"] == 10
    assert protocol["kid_subset_size"] == len(splits["test"][0])  # capped at the smaller set
    assert protocol["kid_subsets"] == 10 and protocol["prc_neighborhood"] == 3
    assert protocol["torch_fidelity"] == torch_fidelity.__version__
    assert "1259 images" in result.summary() and "IS 10 splits" in result.summary()


def test_reference_features_are_cached_and_keyed(tmp_path):
    data, splits = digits()
    evaluator = FidelityEvaluator(device="cpu", metrics=["fid", "is"], cache_dir=tmp_path / "cache")
    generated = splits["test"][0]
    reference = datamodule_reference(data, "train")
    first = evaluator.evaluate(generated, reference, value_range=(-1, 1))
    assert reference.loads == 1
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any("features" in f for f in files) and any("stat-fid" in f for f in files)
    again = datamodule_reference(data, "train")  # a new object, as at the next validation
    second = evaluator.evaluate(generated, again, value_range=(-1, 1))
    assert again.loads == 0  # cache hit: the reference images were not even loaded
    assert second.metrics == first.metrics
    # a different split, class or extractor weights is a different entry
    other = datamodule_reference(data, "val")
    evaluator.evaluate(generated, other, value_range=(-1, 1))
    assert other.loads == 1
    one_class = datamodule_reference(data, "train", label=3)
    assert one_class.size == int((splits["train"][1] == 3).sum())
    evaluator.evaluate(generated, one_class, value_range=(-1, 1), metrics=["fid"])
    assert one_class.loads == 1
    assert evaluator.reference_cache_name(reference, "a") != evaluator.reference_cache_name(reference, "b")
    # a data module with other settings (image size) never reuses the entry
    assert datamodule_reference(DigitsDataModule(image_size=8), "train").key != reference.key
    # without cache, every evaluation loads the reference
    uncached = FidelityEvaluator(device="cpu", metrics=["fid"], cache=False)
    fresh = datamodule_reference(data, "train")
    for _ in range(2):
        uncached.evaluate(generated, fresh, value_range=(-1, 1))
    assert fresh.loads == 2


def test_bad_inputs_are_clear_errors():
    data, splits = digits()
    with pytest.raises(ConfigurationError, match="subset of"):
        FidelityEvaluator(metrics=["fid", "lpips"])
    with pytest.raises(ConfigurationError, match="unknown feature extractor 'vgg19'"):
        FidelityEvaluator(feature_extractor="vgg19")
    evaluator = FidelityEvaluator(device="cpu")
    with pytest.raises(ConfigurationError, match="need a reference set"):
        evaluator.evaluate(splits["test"][0], value_range=(-1, 1))
    with pytest.raises(ConfigurationError, match="value_range"):
        evaluator.evaluate(splits["test"][0], datamodule_reference(data))
    with pytest.raises(ConfigurationError, match=r"\(N, 1 or 3, H, W\)"):
        evaluator.evaluate(torch.zeros(20, 16, 16, dtype=torch.uint8), datamodule_reference(data))
    with pytest.raises(ConfigurationError, match="10 splits needs >= 10 images"):
        evaluator.evaluate(splits["test"][0][:5], value_range=(-1, 1), metrics=["is"])


# -- feature extractor weights ----------------------------------------------------------------------
class TinyExtractor(FeatureExtractorBase):
    """A registered extractor that reads its weights from ``feature_extractor_weights_path``:
    a linear map of the mean-pooled 4x4 image (16 features)."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.linear = torch.nn.Linear(16, 16)
        self.linear.load_state_dict(torch.load(feature_extractor_weights_path, weights_only=True))

    @staticmethod
    def get_provided_features_list():
        return ("features",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "features"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 16, 16, dtype=torch.uint8)

    def forward(self, x):
        pooled = torch.nn.functional.adaptive_avg_pool2d(x.float().mean(1, keepdim=True) / 255, 4).flatten(1)
        return (self.linear(pooled),)


if "lit-gen-test-tiny" not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor("lit-gen-test-tiny", TinyExtractor)


def test_local_weights_file_of_a_registered_extractor_is_honoured(tmp_path):
    data, splits = digits()
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = tmp_path / f"tiny{seed}.pt"
        torch.save(torch.nn.Linear(16, 16).state_dict(), path)
        paths.append(path)
    generated, reference = splits["test"][0], datamodule_reference(data, "train")
    results = []
    for path in paths:
        evaluator = FidelityEvaluator("lit-gen-test-tiny", metrics=["fid"], feature_extractor_weights=path, device="cpu")
        results.append(evaluator.evaluate(generated, reference, value_range=(-1, 1)))
    # independent: the FID of the linear features computed with each saved weight file
    u8 = to_uint8(generated, (-1, 1))
    for path, result in zip(paths, results, strict=True):
        extractor = TinyExtractor("x", ["features"], feature_extractor_weights_path=path)
        with torch.no_grad():
            f1 = extractor(u8)[0].double().numpy()
            f2 = extractor(to_uint8(splits["train"][0], (-1, 1)))[0].double().numpy()
        assert result.metrics["fid"] == pytest.approx(_fid(f1, f2), rel=1e-4, abs=1e-6)
        assert result.protocol["feature_extractor_weights"].startswith(path.name)
    assert results[0].metrics["fid"] != results[1].metrics["fid"]
    assert reference.loads == 2  # other weights, other cache entry
    with pytest.raises(UserError, match="not found"):
        FidelityEvaluator("lit-gen-test-tiny", feature_extractor_weights=tmp_path / "nope.pt").evaluate(
            generated, reference, value_range=(-1, 1))


def test_missing_inception_weights_name_the_url_and_the_places(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    url = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
    with pytest.raises(UserError) as missing:
        resolve_inception_weights(tmp_path / "nowhere.pth")
    message = str(missing.value)
    assert "nowhere.pth" in message and url in message and INCEPTION_WEIGHTS_ENV in message
    assert str(inception_hub_path()) in message and str(tmp_path / "torch_home") in message
    # the environment variable is used when no path is configured, and named in the error
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(tmp_path / "env.pth"))
    with pytest.raises(UserError, match=rf"\${INCEPTION_WEIGHTS_ENV}"):
        resolve_inception_weights()
    # a file that is not the InceptionV3 state dict
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(3, 3).state_dict(), wrong)
    with pytest.raises(CorruptDataError, match="not the InceptionV3 state dict") as bad:
        resolve_inception_weights(wrong)
    assert url in str(bad.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptDataError, match="garbage.pth"):
        FidelityEvaluator(INCEPTION, feature_extractor_weights=garbage, device="cpu").evaluate(
            torch.zeros(20, 3, 8, 8, dtype=torch.uint8), metrics=["is"])
    # offline and nothing configured: the download fails with the same instructions
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(UserError, match="could not download") as failed:
        resolve_inception_weights()
    assert url in str(failed.value)


@pytest.mark.slow
def test_inception_weights_from_a_local_file(tmp_path):
    """Full InceptionV3 (~0.35 s per image here): architecture-valid random weights saved to a
    file are loaded from that file and give finite metrics."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Untrained(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None

    empty = tmp_path / "empty.pth"
    torch.save({}, empty)
    weights = tmp_path / "inception.pth"
    torch.save(Untrained(INCEPTION, ["2048"], feature_extractor_weights_path=str(empty)).state_dict(), weights)
    assert resolve_inception_weights(weights) == str(weights)
    data, splits = digits()
    evaluator = FidelityEvaluator(INCEPTION, metrics=["fid", "is"], feature_extractor_weights=weights,
                                  is_splits=2, device="cpu")
    result = evaluator.evaluate(splits["test"][0][:12], ReferenceSet.from_images(splits["val"][0][:12], "val", (-1, 1)),
                                value_range=(-1, 1))
    assert np.isfinite(result.metrics["fid"]) and result.metrics["is"] >= 1.0
    assert result.protocol["image_shape"] == [1, 16, 16]
    assert "299x299" in result.protocol["extractor_input"]


def test_reading_a_split_for_the_reference_leaves_the_data_unchanged():
    data = DigitsDataModule(image_size=16, value_range=(-1.0, 1.0))  # float32 storage
    data.setup("fit")
    stored = data.train_set.images.clone()
    first = datamodule_reference(data, "train").load()
    data.train_set[0]
    data.train_set.tensors()
    assert torch.equal(data.train_set.images, stored)
    assert torch.equal(datamodule_reference(data, "train").load(), first)
