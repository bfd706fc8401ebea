"""``lit-gen predict`` translates a folder of images, in either direction, and writes the results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from lit_gen.cli import run
from lit_gen.data import UnpairedImageDataModule

from fake_data import write_unpaired_images

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "quickstart"
FAST = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.init_args.ngf=4",
    "--model.init_args.ndf=4",
]


def write_digit_folder(folder: Path, n: int = 5) -> list[Path]:
    """Grey 8x8 "digits" (the predict input is resized to the model's 16 px)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(folder / f"digit_{i}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(paths[-1])
    return paths


def expected_input(path: Path, size: int = 16) -> torch.Tensor:
    image = TF.pil_to_tensor(Image.open(path).convert("L"))
    image = TF.resize(
        image, [size, size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True
    )
    return image.float().div(255).mul(2).sub(1).unsqueeze(0)


def read_png(path: Path) -> torch.Tensor:
    return torch.as_tensor(np.array(Image.open(path)), dtype=torch.float32).div(255)


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_cyclegan_predict_translates_a_folder(tmp_path, direction):
    config = str(CONFIGS / "cyclegan.yaml")
    fit = run(
        [
            "fit",
            "--config",
            config,
            *FAST,
            "--model.init_args.n_blocks=1",
            "--run_dir",
            str(tmp_path / "fit"),
        ]
    )
    ckpt = tmp_path / "fit" / "checkpoints" / "last.ckpt"
    paths = write_digit_folder(tmp_path / "inputs")
    cli = run(
        [
            "predict",
            "--config",
            config,
            *FAST,
            "--model.init_args.n_blocks=1",
            "--ckpt_path",
            str(ckpt),
            f"--data.init_args.predict_dir={tmp_path / 'inputs'}",
            f"--data.init_args.predict_direction={direction}",
            "--data.init_args.batch_size=2",
            "--run_dir",
            str(tmp_path / "predict"),
        ]
    )
    written = sorted((tmp_path / "predict" / "predictions").glob("*.png"))
    assert [p.stem for p in written] == [p.stem for p in paths]
    model = cli.model
    assert torch.equal(
        model.gen_ab.model[1].weight, fit.model.gen_ab.model[1].weight
    )  # weights from the checkpoint
    for path, out in zip(paths, written, strict=True):
        expected = model.to_unit_range(model.translate(expected_input(path), direction))[0, 0]
        other = model.to_unit_range(
            model.translate(expected_input(path), "BtoA" if direction == "AtoB" else "AtoB")
        )[0, 0]
        image = read_png(out)
        assert image.shape == (16, 16)
        assert torch.allclose(image, expected, atol=1 / 255 + 1e-6)  # PNG quantization only
        assert not torch.allclose(image, other, atol=1 / 255 + 1e-6)  # and it is this direction


def test_pix2pix_predict_and_missing_folder(tmp_path, capsys):
    config = str(CONFIGS / "pix2pix.yaml")
    args = [*FAST, "--model.init_args.inference=eval"]
    run(["fit", "--config", config, *args, "--run_dir", str(tmp_path / "fit")])
    ckpt = str(tmp_path / "fit" / "checkpoints" / "last.ckpt")
    paths = write_digit_folder(tmp_path / "edges", n=3)
    cli = run(
        [
            "predict",
            "--config",
            config,
            *args,
            "--ckpt_path",
            ckpt,
            f"--data.init_args.predict_dir={tmp_path / 'edges'}",
            "--run_dir",
            str(tmp_path / "predict"),
        ]
    )
    written = sorted((tmp_path / "predict" / "predictions").glob("*.png"))
    assert [p.stem for p in written] == [p.stem for p in paths]
    expected = cli.model.to_unit_range(cli.model.translate(expected_input(paths[0])))[0, 0]
    assert torch.allclose(read_png(written[0]), expected, atol=1 / 255 + 1e-6)

    with pytest.raises(SystemExit) as exit_info:
        run(
            [
                "predict",
                "--config",
                config,
                *args,
                "--ckpt_path",
                ckpt,
                "--run_dir",
                str(tmp_path / "p2"),
            ]
        )
    assert exit_info.value.code == 2
    assert "set data.init_args.predict_dir" in capsys.readouterr().err


def test_folder_module_prediction_batches(tmp_path):
    write_unpaired_images(tmp_path, name="tiny")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "a.png", "b.jpg"):
        Image.new("RGB", (30, 20), (200, 10, 10)).save(folder / name)
    dm = UnpairedImageDataModule(
        dataset="tiny",
        root=str(tmp_path),
        download=False,
        image_size=16,
        num_workers=0,
        batch_size=3,
        predict_dir=str(folder),
        predict_direction="BtoA",
    )
    batch = next(iter(dm.predict_dataloader()))
    assert batch["real"].shape == (3, 3, 16, 16)
    assert batch["name"] == ["a.jpg", "a.png", "b"]  # clashing stems keep their extension
    assert batch["direction"] == ["BtoA"] * 3
    assert torch.allclose(batch["real"][0, 0], torch.full((16, 16), 200 / 255 * 2 - 1), atol=0.02)
