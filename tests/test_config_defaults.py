"""Every network in a shipped config gets its own class's defaults for the arguments the YAML
does not set. jsonargparse keeps the init_args shared by the old and the new class when a
class_path replaces a default class (by design, omni-us/jsonargparse#460): with ``GAN(generator=
MLPGenerator)`` as the default, every ``class_path: lit_gen.nets.DCGANGenerator`` silently got
MLPGenerator's ``batch_norm: false``. The GAN family's network defaults are therefore ``None``."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

from lit_gen.cli import run

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL_CONFIGS = sorted(
    p for p in CONFIGS.rglob("*.yaml") if p.parent.name not in ("trainer", "logger")
)


def _class(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _carried_over(resolved, written, where: str) -> list[str]:
    """init_args that differ from their class's default without being written in the YAML."""
    found = []
    if isinstance(resolved, dict) and isinstance(resolved.get("init_args"), dict) and "class_path" in resolved:
        parameters = inspect.signature(_class(resolved["class_path"])).parameters
        written_args = (written or {}).get("init_args") or {} if isinstance(written, dict) else {}
        for key, value in resolved["init_args"].items():
            default = parameters[key].default if key in parameters else inspect.Parameter.empty
            if default is not inspect.Parameter.empty and key not in written_args and not isinstance(value, dict):
                if value != (list(default) if isinstance(default, tuple) else default):
                    found.append(f"{where}.{key} = {value!r} (class default {default!r})")
            found += _carried_over(value, written_args.get(key), f"{where}.{key}")
    elif isinstance(resolved, dict):
        for key, value in resolved.items():
            found += _carried_over(value, written.get(key) if isinstance(written, dict) else None, f"{where}.{key}")
    return found


def _problems(configs, capsys) -> list[str]:
    problems = []
    for config in configs:
        with pytest.raises(SystemExit):
            run(["fit", "--config", str(config), "--print_config"])
        resolved = yaml.safe_load(capsys.readouterr().out)
        written = yaml.safe_load(config.read_text())
        problems += [f"{config.relative_to(CONFIGS)}: {p}" for p in _carried_over(resolved["model"], written["model"], "model")]
    return problems


def test_dcgan_generators_of_the_gan_family_keep_batch_norm(capsys):
    """One config per module of the GAN family (GAN, ConditionalGAN, ACGAN)."""
    configs = [CONFIGS / "dcgan.yaml", CONFIGS / "quickstart/cgan_projection.yaml", CONFIGS / "quickstart/acgan.yaml"]
    assert _problems(configs, capsys) == []
    with pytest.raises(SystemExit):
        run(["fit", "--config", str(configs[1]), "--print_config"])
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["model"]["init_args"]["generator"]["init_args"]["batch_norm"] is True


@pytest.mark.slow
def test_networks_in_all_configs_keep_their_own_defaults(capsys):
    assert len(MODEL_CONFIGS) > 30
    assert _problems(MODEL_CONFIGS, capsys) == []
