"""The lit-gen command: subcommands, help, config stacking, errors, run directories, resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import yaml

from lit_gen.cli import main, run

ROOT = Path(__file__).resolve().parents[1]
VAE = str(ROOT / "configs/quickstart/vae.yaml")


def _exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


def test_fit_help_lists_the_models_and_data(capsys):
    assert _exit_code(["fit", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("lit_gen.models.VAE", "lit_gen.models.ConditionalVAE", "lit_gen.models.SparseAutoEncoder", "lit_gen.data.DigitsDataModule", "lit_gen.data.MNISTDataModule"):
        assert name in out


def test_print_config_shows_the_resolved_stacked_config(capsys):
    assert _exit_code(["fit", "--config", VAE, "--config", str(ROOT / "configs/trainer/gpu.yaml"), "--model.init_args.beta=4", "--print_config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "lit_gen.models.VAE"
    assert config["model"]["init_args"]["beta"] == 4.0
    assert config["trainer"]["accelerator"] == "gpu"  # the second file overrides the first
    assert config["trainer"]["precision"] == "bf16-mixed"


def test_unknown_key_is_a_clear_argument_error(capsys):
    assert _exit_code(["fit", "--config", VAE, "--model.init_args.latnt_dim=3"]) == 2
    err = capsys.readouterr().err
    assert "latnt_dim" in err and "Traceback" not in err


def test_wrong_type_is_a_clear_argument_error(capsys):
    assert _exit_code(["fit", "--config", VAE, "--model.init_args.latent_dim=eight"]) == 2
    err = capsys.readouterr().err
    assert "latent_dim" in err and "eight" in err and "Traceback" not in err


def test_unknown_model_class_is_a_clear_argument_error(capsys):
    assert _exit_code(["fit", "--config", VAE, "--model=lit_gen.models.NoSuchModel"]) == 2
    assert "NoSuchModel" in capsys.readouterr().err


def test_missing_dataset_gives_one_line_and_exit_2(tmp_path, capsys, fast_trainer_args):
    code = _exit_code(["fit", "--config", str(ROOT / "configs/vae.yaml"), *fast_trainer_args,
                       f"--data.init_args.root={tmp_path / 'nowhere'}", "--data.init_args.download=false"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lit-gen: error: MNIST not found in")
    assert not any("Traceback" in line for line in err)


def test_wrong_image_size_for_the_network_gives_one_line(capsys, fast_trainer_args):
    code = _exit_code(["fit", "--config", str(ROOT / "configs/quickstart/conv_autoencoder.yaml"), *fast_trainer_args,
                       "--data.init_args.image_size=12", "--model.init_args.channels=[16,32,64]"])
    assert code == 2
    assert "lit-gen: error: image size 12 does not fit the convolutional encoder" in capsys.readouterr().err


def test_run_directory_layout_and_versions(fast_trainer_args):
    first = run(["fit", "--config", VAE, *fast_trainer_args, "--trainer.log_every_n_steps=1"])
    second = run(["fit", "--config", VAE, *fast_trainer_args])
    assert Path(first.run_dir) == Path("runs/quickstart_vae/version_0")
    assert Path(second.run_dir) == Path("runs/quickstart_vae/version_1")
    run_dir = Path(first.run_dir)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["class_path"] == "lit_gen.models.VAE"
    assert (run_dir / "checkpoints/last.ckpt").is_file()
    assert "train/loss" in (run_dir / "metrics.csv").read_text().splitlines()[0]
    images = sorted(p.name for p in (run_dir / "images").iterdir())
    assert images == ["reconstructions_epoch0000.png", "samples_epoch0000.png"]


def test_name_defaults_to_the_model_class(fast_trainer_args, tmp_path):
    config = tmp_path / "cvae.yaml"
    spec = yaml.safe_load((ROOT / "configs/quickstart/cvae.yaml").read_text())
    del spec["name"]
    config.write_text(yaml.safe_dump(spec))
    assert Path(run(["fit", "--config", str(config), *fast_trainer_args]).run_dir).parent.name == "conditional_vae"


def test_resume_continues_from_the_last_checkpoint(tmp_path, fast_trainer_args):
    run_dir = tmp_path / "run"
    args = ["fit", "--config", VAE, *fast_trainer_args, "--run_dir", str(run_dir)]
    first = run(args)
    assert first.trainer.current_epoch == 1 and first.trainer.global_step == 2
    resumed = run([*args, "--trainer.max_epochs=2", "--ckpt_path", str(run_dir / "checkpoints/last.ckpt")])
    assert resumed.trainer.current_epoch == 2 and resumed.trainer.global_step == 4


def test_validate_test_and_predict_subcommands(tmp_path, fast_trainer_args):
    run_dir = tmp_path / "run"
    run(["fit", "--config", VAE, *fast_trainer_args, "--run_dir", str(run_dir)])
    ckpt = str(run_dir / "checkpoints/last.ckpt")
    common = ["--config", VAE, "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", "--ckpt_path", ckpt]
    validated = run(["validate", *common, "--trainer.limit_val_batches=2", "--run_dir", str(tmp_path / "val")])
    assert "val/elbo" in validated.trainer.callback_metrics
    # iw_samples only affects evaluation: the command line wins over the checkpoint; beta
    # shapes the trained weights: the checkpoint wins, and the user is told.
    with pytest.warns(UserWarning, match=r"instead of the config: beta=1.0 \(config: 3.0\)"):
        tested = run(["test", *common, "--trainer.limit_test_batches=1", "--model.init_args.iw_samples=10",
                      "--model.init_args.beta=3", "--run_dir", str(tmp_path / "test")])
    assert tested.model.beta == 1.0
    metrics = tested.trainer.callback_metrics
    assert metrics["test/iw_samples"] == 10 and metrics["test/nll_iw"] <= -metrics["test/elbo"] + 1.0
    predicted = run(["predict", *common, "--trainer.limit_predict_batches=1", "--run_dir", str(tmp_path / "pred")])
    assert predicted.trainer.state.finished


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "lit_gen", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and "fit" in result.stdout and "test" in result.stdout



class CtrlC(L.Callback):
    """Raises KeyboardInterrupt, as Ctrl-C would, after ``at_step`` optimizer steps."""

    def __init__(self, at_step: int = 3):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise KeyboardInterrupt


def test_interrupt_keeps_a_resumable_checkpoint(tmp_path, fast_trainer_args):
    run_dir = tmp_path / "run"
    args = ["fit", "--config", VAE, *fast_trainer_args, "--trainer.max_epochs=3", "--trainer.limit_train_batches=5", "--run_dir", str(run_dir)]
    with pytest.raises(SystemExit):
        run([*args, "--trainer.callbacks+=test_cli.CtrlC"])
    checkpoint = run_dir / "checkpoints/interrupted.ckpt"
    assert checkpoint.is_file()
    resumed = run([*args, "--ckpt_path", str(checkpoint)])
    assert resumed.trainer.global_step == 15
