"""Every YAML in configs/ runs through ``lit_gen.cli.run`` (the hydra-template's glob over
experiments), so configs cannot drift from code. Quickstart configs run on the embedded data for
a few batches; real-dataset configs run on a tiny copy written in the dataset's real format."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lit_gen.cli import run

from fake_data import WRITERS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# Stackable fragments (trainer/, logger/) are exercised together with an experiment elsewhere.
EXPERIMENTS = sorted(
    p for p in CONFIGS.rglob("*.yaml") if p.parent.name not in ("trainer", "logger")
)


def test_there_are_configs():
    assert any(p.parent.name == "quickstart" for p in EXPERIMENTS)
    assert any(p.parent == CONFIGS for p in EXPERIMENTS)


@pytest.mark.parametrize("config", EXPERIMENTS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_runs(config: Path, tmp_path: Path, fast_trainer_args: list[str]):
    spec = yaml.safe_load(config.read_text())
    data_class = spec["data"]["class_path"].rsplit(".", 1)[-1]
    extra: list[str] = []
    if data_class in WRITERS:
        writer, overrides = WRITERS[data_class]
        extra = [f"--data.init_args.root={writer(tmp_path / 'data')}", *overrides]
    cli = run(["fit", "--config", str(config), *fast_trainer_args, *extra, "--run_dir", str(tmp_path / "run")])
    assert cli.trainer.state.finished, cli.trainer.state
    run_dir = tmp_path / "run"
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "metrics.csv").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
