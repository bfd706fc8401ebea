"""W&B sweeps without a server: every file in sweeps/ passes W&B's own sweep-config validation
(the ``sweeps`` package, ``wandb[sweeps]``); for sampled suggestions, the exact command line the
W&B agent would run parses in lit-gen's CLI and sets the sampled values in the resolved config;
and a trial logs the metric the sweep optimizes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from lit_gen.cli import main, run

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))

try:
    import sweeps as wandb_sweeps
except ImportError:  # pragma: no cover - the message is the test result
    wandb_sweeps = None
NOT_INSTALLED = "W&B's sweep validator is not installed: pip install --no-deps 'sweeps>=0.2' jsonref (see .ci/run)"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def agent_command(config: dict, suggestion: dict) -> list[str]:
    """The command line ``wandb agent`` runs for ``suggestion`` (wandb/wandb_agent.py,
    Agent._command_run), built with wandb's own helpers."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    command = create_sweep_command(list(config["command"]))
    variables = create_sweep_command_args({"args": suggestion})
    variables.update(interpreter=["python"], program=[config.get("program", "")], env=["/usr/bin/env"])
    out: list[str] = []
    for chunk in map(str, command):
        if chunk.startswith("${") and chunk.endswith("}"):
            out += variables.get(chunk[2:-1]) or []
        else:
            out.append(chunk)
    return out


def lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def test_there_are_sweeps():
    assert {p.stem for p in SWEEPS} >= {"vae", "cyclegan", "dcgan", "wgan_gp"}


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_passes_wandb_validation(path):
    assert wandb_sweeps is not None, NOT_INSTALLED
    config = load(path)
    assert wandb_sweeps.schema_violations_from_proposed_config(config) == []
    assert config["command"][:3] == ["${env}", "lit-gen", "fit"] and config["command"][-1] == "${args}"
    # and a broken one does not pass (the validator is really checking)
    broken = dict(config, method="bayesian")
    assert wandb_sweeps.schema_violations_from_proposed_config(broken)


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sampled_agent_commands_parse_and_set_the_values(path, monkeypatch, capsys):
    assert wandb_sweeps is not None, NOT_INSTALLED
    config = load(path)
    monkeypatch.chdir(ROOT)  # the agent runs from the repository root: configs/... paths
    for _ in range(3):
        suggestion = wandb_sweeps.next_run(config, [], validate=True).config
        command = agent_command(config, suggestion)
        assert command[:3] == ["/usr/bin/env", "lit-gen", "fit"]
        with pytest.raises(SystemExit) as info:
            main([*command[2:], "--print_config"])
        assert info.value.code == 0
        resolved = yaml.safe_load(capsys.readouterr().out)
        for key, entry in suggestion.items():
            got, wanted = lookup(resolved, key), entry["value"]
            if isinstance(wanted, float):
                assert math.isclose(float(got), wanted, rel_tol=1e-12), key
            else:
                assert got == wanted, key


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_a_trial_logs_the_metric_the_sweep_optimizes(path, monkeypatch, fast_trainer_args):
    assert wandb_sweeps is not None, NOT_INSTALLED
    config = load(path)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    suggestion = wandb_sweeps.next_run(config, [], validate=True).config
    command = agent_command(config, suggestion)
    configs = [str(ROOT / c) if c.startswith("configs/") else c for c in command[3:]]
    cli = run(["fit", *configs, *fast_trainer_args, *SWEEP_FAST_ARGS.get(path.stem, [])])
    assert config["metric"]["name"] in cli.trainer.callback_metrics


#: extra overrides so that a trial of each sweep runs in seconds and still logs its metric
SWEEP_FAST_ARGS: dict[str, list[str]] = {
    # FID is logged every 5 epochs by the config's GenerativeMetrics: every epoch for a 1-epoch trial
    "cyclegan": ["--trainer.callbacks.init_args.every_n_epochs=1"],
    # GAN sweeps: score after the one short epoch, on few samples (the metric key is the same)
    "dcgan": ["--trainer.callbacks.every_n_epochs=1", "--trainer.callbacks.num_samples=100"],
    "wgan_gp": ["--trainer.callbacks.every_n_epochs=1", "--trainer.callbacks.num_samples=100"],
}
