"""Translation data: the pix2pix (A|B side by side) and CycleGAN (trainA/trainB/testA/testB)
layouts built in tmp_path, the jitter, downloads from a local archive, clear errors, and the
embedded digit tasks."""

from __future__ import annotations

import shutil
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lit_gen.data import (
    DigitEdgesDataModule,
    DigitThinningDataModule,
    PairedImageDataModule,
    UnpairedImageDataModule,
)
from lit_gen.data import translation as translation_data
from lit_gen.data.translation import Jitter, default_load_size
from lit_gen.data.translation_digits import edge_maps, shift_images, thin_digits
from lit_gen.errors import ConfigurationError, CorruptDataError, DatasetNotFoundError

from fake_data import write_paired_images, write_unpaired_images


def write_marked_pairs(root: Path, n: int = 4, size: int = 20) -> Path:
    """Pairs whose A half is a horizontal ramp and whose B half is the same ramp + 100, so the
    relation survives any shared crop or flip but not a mismatched one (PNG: lossless)."""
    for split in ("train", "val"):
        folder = root / "pairs" / split
        folder.mkdir(parents=True, exist_ok=True)
        ramp = np.tile(np.linspace(0, 120, size).astype(np.uint8), (size, 1))
        for i in range(n):
            a = np.stack([ramp + i] * 3, -1)
            Image.fromarray(np.concatenate([a, a + 100], axis=1), "RGB").save(folder / f"{i}.png")
    return root


# -- pix2pix layout ---------------------------------------------------------------------------
def test_paired_layout_directions_and_shared_jitter(tmp_path):
    write_marked_pairs(tmp_path)
    kwargs = dict(
        dataset="pairs",
        root=str(tmp_path),
        download=False,
        image_size=16,
        load_size=20,
        value_range=(0.0, 1.0),
        num_workers=0,
        batch_size=2,
        drop_last=False,
    )
    dm = PairedImageDataModule(direction="AtoB", **kwargs)
    dm.setup()
    assert (
        len(dm.train_set) == 4 and len(dm.val_set) == 4 and len(dm.test_set) == 4
    )  # test falls back to val/
    assert dm.data_shape == (3, 16, 16) and dm.num_classes == 0
    torch.manual_seed(0)
    for _ in range(10):  # random crops and flips: the B - A offset stays exactly 100 / 255
        a, b = dm.train_set[0]
        assert a.shape == b.shape == (3, 16, 16)
        assert torch.allclose(b - a, torch.full_like(a, 100 / 255), atol=1e-6)
    flips = set()
    for _ in range(20):
        a, _ = dm.train_set[0]
        flips.add(bool(a[0, 0, 0] > a[0, 0, -1]))  # the ramp rises left to right unless flipped
    assert flips == {True, False}
    a, b = next(iter(dm.val_dataloader()))
    assert a.shape == (2, 3, 16, 16) and float((b - a).mean()) > 0.3  # A is the left half
    reverse = PairedImageDataModule(direction="BtoA", **kwargs)
    reverse.setup()
    a2, b2 = next(iter(reverse.val_dataloader()))
    assert torch.equal(a2, b) and torch.equal(b2, a)


def test_paired_defaults_follow_the_paper(tmp_path):
    assert (
        default_load_size(256) == 286
        and default_load_size(128) == 143
        and default_load_size(32) == 36
    )
    dm = PairedImageDataModule(root=str(tmp_path), download=False)
    assert dm.image_size == 256 and dm.load_size == 286 and dm.batch_size == 1 and dm.flip
    jitter = Jitter(256, 286, flip=True, train=True)
    out = jitter(torch.zeros(3, 200, 300, dtype=torch.uint8))[0]
    assert out.shape == (3, 256, 256)  # any input size: resized to 286 x 286, cropped to 256


def test_paired_fake_archive_layout_loads(tmp_path):
    write_paired_images(tmp_path, name="facades")
    dm = PairedImageDataModule(
        root=str(tmp_path), download=False, image_size=32, num_workers=0, batch_size=3
    )
    dm.prepare_data()
    dm.setup()
    a, b = next(iter(dm.train_dataloader()))
    assert a.shape == b.shape == (3, 3, 32, 32) and a.min() >= -1 and a.max() <= 1
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (6, 3, 3)


def test_paired_errors(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"facades.*does not exist and download=false.*\{train,val,test\}",
    ):
        PairedImageDataModule(root=str(tmp_path), download=False).prepare_data()
    with pytest.raises(DatasetNotFoundError, match="not an official dataset name"):
        PairedImageDataModule(dataset="mine", root=str(tmp_path), download=True).prepare_data()
    with pytest.raises(DatasetNotFoundError, match="prepare_cityscapes_dataset.py"):
        PairedImageDataModule(dataset="cityscapes", root=str(tmp_path)).prepare_data()
    # odd width: the halves cannot match
    folder = tmp_path / "odd" / "train"
    folder.mkdir(parents=True)
    (tmp_path / "odd" / "val").mkdir()
    Image.new("RGB", (41, 20)).save(folder / "0.png")
    Image.new("RGB", (40, 20)).save(tmp_path / "odd" / "val" / "0.png")
    dm = PairedImageDataModule(
        dataset="odd", root=str(tmp_path), download=False, image_size=16, num_workers=0
    )
    dm.setup()
    with pytest.raises(CorruptDataError, match=r"0\.png is 41 px wide.*even"):
        dm.train_set[0]
    # an unreadable image names itself
    (folder / "0.png").write_bytes(b"not an image")
    with pytest.raises(CorruptDataError, match=r"cannot read image .*0\.png"):
        dm.train_set[0]
    # an empty split folder
    shutil.rmtree(folder)
    folder.mkdir()
    dm = PairedImageDataModule(dataset="odd", root=str(tmp_path), download=False, num_workers=0)
    with pytest.raises(DatasetNotFoundError, match=r"odd/train holds no images"):
        dm.setup()
    shutil.rmtree(tmp_path / "odd" / "val")
    Image.new("RGB", (40, 20)).save(folder / "0.png")
    with pytest.raises(DatasetNotFoundError, match="neither val/ nor test/"):
        PairedImageDataModule(dataset="odd", root=str(tmp_path), download=False).setup()
    with pytest.raises(ConfigurationError, match="direction"):
        PairedImageDataModule(direction="AtoC")
    with pytest.raises(ConfigurationError, match="load_size"):
        PairedImageDataModule(image_size=64, load_size=32)


# -- CycleGAN layout --------------------------------------------------------------------------
def test_unpaired_layout_and_sampling(tmp_path):
    write_unpaired_images(tmp_path, name="h2z", size=24)
    dm = UnpairedImageDataModule(
        dataset="h2z",
        root=str(tmp_path),
        download=False,
        image_size=16,
        num_workers=0,
        channels=1,
        batch_size=2,
    )
    dm.setup()
    assert dm.data_shape == (1, 16, 16)
    assert len(dm.train_set) == 7  # max(|trainA| = 5, |trainB| = 7)
    assert len(dm.test_set) == 3 and len(dm.val_set) == 3  # no valA/valB: test folders validate
    train = dm.train_set
    assert [p.name for p in train.paths_a] == [f"trainA_{i}.jpg" for i in range(5)]
    # A in order (wrapping), B uniformly at random in training and index % |B| in testing
    picked = set()
    torch.manual_seed(0)
    for _ in range(50):
        draw = int(torch.randint(0, len(train.paths_b), ()))
        picked.add(draw)
    assert len(picked) > 3
    test = dm.test_set
    a0, b0 = test[0]
    a2, b2 = test[2]
    assert torch.equal(b0, b2)  # |testB| = 2: index 2 wraps to B[0]
    assert a0.shape == (1, 16, 16) and not torch.equal(a0, a2)
    a, b = next(iter(dm.train_dataloader()))
    assert a.shape == b.shape == (2, 1, 16, 16)


def test_unpaired_random_b_covers_the_domain(tmp_path):
    write_unpaired_images(
        tmp_path,
        name="h2z",
        counts=(("trainA", 1), ("trainB", 4), ("testA", 1), ("testB", 1)),
        size=12,
    )
    dm = UnpairedImageDataModule(
        dataset="h2z",
        root=str(tmp_path),
        download=False,
        image_size=8,
        load_size=8,
        flip=False,
        num_workers=0,
    )
    dm.setup()
    torch.manual_seed(0)
    seen = {tuple(dm.train_set[0][1].flatten()[:4].tolist()) for _ in range(40)}
    assert len(seen) == 4  # the single A image meets every B image


def test_unpaired_errors(tmp_path):
    write_unpaired_images(tmp_path, name="h2z")
    shutil.rmtree(tmp_path / "h2z" / "trainB")
    (tmp_path / "h2z" / "trainB").mkdir()
    with pytest.raises(
        DatasetNotFoundError, match=r"domain B \(train\): folder .*h2z/trainB holds no images"
    ):
        UnpairedImageDataModule(dataset="h2z", root=str(tmp_path), download=False).setup()
    shutil.rmtree(tmp_path / "h2z" / "testA")
    write_unpaired_images(tmp_path, name="h2z", counts=(("trainB", 2),))
    with pytest.raises(
        DatasetNotFoundError, match=r"domain A \(test\): folder .*testA does not exist"
    ):
        UnpairedImageDataModule(dataset="h2z", root=str(tmp_path), download=False).setup()
    with pytest.raises(
        DatasetNotFoundError,
        match=r"horse2zebra does not exist and download=false.*trainA,trainB,testA,testB",
    ):
        UnpairedImageDataModule(root=str(tmp_path), download=False).prepare_data()
    write_unpaired_images(
        tmp_path, name="bad", counts=(("trainA", 1), ("trainB", 1), ("testA", 1), ("testB", 1))
    )
    (tmp_path / "bad" / "trainB" / "trainB_0.jpg").write_bytes(b"\x89PNG truncated")
    dm = UnpairedImageDataModule(
        dataset="bad", root=str(tmp_path), download=False, image_size=16, num_workers=0
    )
    dm.setup()
    with pytest.raises(CorruptDataError, match=r"cannot read image .*trainB_0\.jpg"):
        next(iter(dm.train_dataloader()))
    with pytest.raises(ConfigurationError, match="channels"):
        UnpairedImageDataModule(channels=2)


# -- downloads (from a local HTTP server: the real download and extraction code, no internet) ---
@contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on localhost; yields the base URL."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_official_archives_from_a_mirror(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_unpaired_images(
        source,
        name="horse2zebra",
        counts=(("trainA", 2), ("trainB", 2), ("testA", 1), ("testB", 1)),
    )
    with zipfile.ZipFile(tmp_path / "horse2zebra.zip", "w") as archive:
        for path in (source / "horse2zebra").rglob("*.jpg"):
            archive.write(path, path.relative_to(source))
    write_paired_images(source, name="facades", counts=(("train", 2), ("val", 1)))
    with tarfile.open(tmp_path / "facades.tar.gz", "w:gz") as archive:
        archive.add(source / "facades", arcname="facades")
    with serve(tmp_path) as base:  # a local HTTP mirror of the official server
        monkeypatch.setattr(translation_data.UnpairedImageDataModule, "url", f"{base}/{{name}}.zip")
        monkeypatch.setattr(
            translation_data.PairedImageDataModule, "url", f"{base}/{{name}}.tar.gz"
        )
        root = tmp_path / "data"
        unpaired = UnpairedImageDataModule(root=str(root), image_size=16, num_workers=0)
        unpaired.prepare_data()
        unpaired.setup()
        assert len(unpaired.train_set) == 2 and not (root / "horse2zebra.zip").exists()
        paired = PairedImageDataModule(root=str(root), image_size=16, num_workers=0)
        paired.prepare_data()
        paired.setup()
        assert len(paired.train_set) == 2 and not (root / "facades.tar.gz").exists()


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    with serve(tmp_path) as base:  # the mirror answers 404
        monkeypatch.setattr(
            translation_data.UnpairedImageDataModule, "url", f"{base}/missing/{{name}}.zip"
        )
        dm = UnpairedImageDataModule(dataset="monet2photo", root=str(tmp_path / "data"))
        with pytest.raises(
            DatasetNotFoundError,
            match=r"downloading http://.*monet2photo\.zip failed.*HTTP.*404.*copy the dataset",
        ):
            dm.prepare_data()
    assert not (tmp_path / "data" / "monet2photo.zip").exists()


def test_official_urls():
    assert (
        translation_data.PIX2PIX_URL.format(name="facades")
        == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
    )
    assert (
        translation_data.CYCLEGAN_URL.format(name="horse2zebra")
        == "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    )


# -- embedded digit tasks ---------------------------------------------------------------------
def test_thinning_is_a_grey_erosion():
    torch.manual_seed(0)
    images = torch.rand(3, 1, 10, 10)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), value=0.0)
    expected = -torch.nn.functional.max_pool2d(-padded, 3, stride=1)  # min over 3x3, zero outside
    assert torch.allclose(thin_digits(images, 3), expected)
    edges = edge_maps(torch.cat([torch.zeros(1, 1, 8, 8), images[:1, :, :8, :8]]))
    assert float(edges[0].abs().max()) == 0 and float(edges[1].max()) == pytest.approx(1.0)


def test_digit_thinning_domains_come_from_disjoint_halves():
    dm = DigitThinningDataModule(image_size=16, batch_size=4)
    dm.setup()
    train = dm.train_set
    assert dm.data_shape == (1, 16, 16) and dm.num_classes == 10
    assert abs(len(train.images_a) - len(train.images_b)) <= 10 and len(train) == max(
        len(train.images_a), len(train.images_b)
    )
    # no thinned B image is the thinning of an A image (disjoint halves of the training split)
    thin_a = dm.to_range(thin_digits(dm.train_set.images_a * 0.5 + 0.5))
    distances = torch.cdist(thin_a.flatten(1), train.images_b.flatten(1))
    assert float(distances.min()) > 1e-3
    # validation/test pairs are aligned: B = thin(A), the known answer
    test = dm.test_set
    assert torch.allclose(
        test.images_b, dm.to_range(thin_digits(test.images_a * 0.5 + 0.5)), atol=1e-6
    )
    assert torch.equal(test.labels_a, test.labels_b)
    assert torch.bincount(test.labels_a).min() >= 25  # stratified
    a, b = next(iter(dm.train_dataloader()))
    assert a.shape == b.shape == (4, 1, 16, 16)


def test_shift_jitter_against_a_reference_and_only_on_training_batches():
    torch.manual_seed(0)
    images = torch.rand(6, 2, 9, 7)
    torch.manual_seed(5)
    shifted = shift_images(images, 2, fill=-1.0)
    torch.manual_seed(5)  # the same draws: crop corners (dy + 2, dx + 2) in the padded image
    corners = torch.randint(0, 5, (2, 6))
    for i in range(6):
        dy, dx = int(corners[0, i]) - 2, int(corners[1, i]) - 2
        expected = torch.full_like(images[i], -1.0)
        # the output pixel (r, c) shows the input pixel (r + dy, c + dx)
        rows, cols = slice(max(0, -dy), min(9, 9 - dy)), slice(max(0, -dx), min(7, 7 - dx))
        src_rows, src_cols = slice(max(0, dy), min(9, 9 + dy)), slice(max(0, dx), min(7, 7 + dx))
        expected[:, rows, cols] = images[i][:, src_rows, src_cols]
        assert torch.equal(shifted[i], expected), i
    assert len({tuple(c) for c in corners.T.tolist()}) > 1  # the images get different shifts
    # the erosion commutes with a shift (zero background): B = thin(shift(x)) = shift(thin(x))
    digits = torch.zeros(1, 1, 12, 12)
    digits[0, 0, 3:9, 4:8] = torch.rand(6, 4)
    torch.manual_seed(1)
    a = thin_digits(shift_images(digits, 2, 0.0), 3)
    torch.manual_seed(1)
    assert torch.allclose(a, shift_images(thin_digits(digits, 3), 2, 0.0))

    dm = DigitThinningDataModule(image_size=16, batch_size=4, jitter=2)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))

    class Trainer:
        training = False

    dm.trainer = Trainer()
    assert dm.on_after_batch_transfer(batch, 0) is batch  # validation, test, predict: untouched
    Trainer.training = True
    torch.manual_seed(3)
    jittered = dm.on_after_batch_transfer(batch, 0)
    torch.manual_seed(3)
    assert torch.equal(jittered[0], shift_images(batch[0], 2, -1.0))
    assert torch.equal(jittered[1], shift_images(batch[1], 2, -1.0))
    assert not torch.equal(jittered[0], batch[0])
    for bad in (-1, 8):
        with pytest.raises(ConfigurationError, match="jitter"):
            DigitThinningDataModule(image_size=16, jitter=bad)


def test_digit_edges_pairs():
    dm = DigitEdgesDataModule(image_size=16, batch_size=5, value_range=(0.0, 1.0))
    dm.setup()
    a, b = next(iter(dm.val_dataloader()))
    assert torch.allclose(a, edge_maps(b), atol=1e-6)  # A = edges of B
    reverse = DigitEdgesDataModule(image_size=16, direction="BtoA", value_range=(0.0, 1.0))
    reverse.setup()
    assert torch.equal(reverse.val_set.images_a, dm.val_set.images_b)
    with pytest.raises(ConfigurationError, match="val_fraction"):
        DigitEdgesDataModule(val_fraction=0.0)


def test_reference_sets_of_each_domain(tmp_path):
    """``reference_set(split, domain)``: the metrics' real images of one domain, unjittered."""
    write_marked_pairs(tmp_path)
    for direction, offset in (("AtoB", 100), ("BtoA", -100)):
        dm = PairedImageDataModule(
            dataset="pairs",
            root=str(tmp_path),
            download=False,
            image_size=16,
            load_size=20,
            direction=direction,
            value_range=(0.0, 1.0),
            num_workers=0,
        )
        a, b = dm.reference_set("train", "A"), dm.reference_set("train", "B")
        assert len(a) == len(b) == 4
        assert torch.allclose(b[1] - a[1], torch.full((3, 16, 16), offset / 255), atol=1e-6)
        assert torch.equal(a[1], dm.val_set[1][0])  # same as the validation inputs
    write_unpaired_images(tmp_path, name="h2z")
    dm = UnpairedImageDataModule(
        dataset="h2z", root=str(tmp_path), download=False, image_size=16, num_workers=0
    )
    assert [len(dm.reference_set(s, d)) for s in ("train", "test") for d in "AB"] == [5, 7, 3, 2]
    assert dm.reference_set("val", "B")[0].shape == (3, 16, 16)
    with pytest.raises(ConfigurationError, match="domain"):
        dm.reference_set("test", None)
    digits = DigitThinningDataModule(image_size=16)
    reference = digits.reference_set("test", "B")
    assert torch.equal(reference.images, digits.test_set.images_b) and torch.equal(
        reference.labels, digits.test_set.labels_b
    )
