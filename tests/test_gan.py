"""Mechanics of the GAN module: what each step touches, the n_critic cycle across epochs and
resumes, EMA, schedulers, clipping, bf16 autocast, sampling, checkpoints and user errors."""

from __future__ import annotations

import copy
import math
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.cli import run
from lit_gen.data import DigitsDataModule, Toy2DDataModule
from lit_gen.errors import ConfigurationError
from lit_gen.losses import Wasserstein
from lit_gen.models import GAN
from lit_gen.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def toy_data(num_samples: int = 60, batch_size: int = 10) -> Toy2DDataModule:
    return Toy2DDataModule(
        kind="ring", num_samples=num_samples, val_samples=20, test_samples=20, batch_size=batch_size
    )


def toy_gan(**kwargs) -> GAN:
    kwargs.setdefault("generator", partial(MLPGenerator, hidden=(16,), out_act="none"))
    kwargs.setdefault("discriminator", partial(MLPDiscriminator, hidden=(16,)))
    return GAN(data_shape=(2,), latent_dim=2, **kwargs)


def image_gan(**kwargs) -> GAN:
    kwargs.setdefault("generator", partial(DCGANGenerator, base_channels=8))
    kwargs.setdefault("discriminator", partial(DCGANDiscriminator, base_channels=8))
    return GAN(data_shape=(1, 8, 8), latent_dim=8, **kwargs)


def trainer(**kwargs) -> L.Trainer:
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        max_epochs=1,
    )
    options.update(kwargs)
    return L.Trainer(**options)


def clone(tensors) -> list[torch.Tensor | None]:
    return [None if t is None else t.detach().clone() for t in tensors]


def same(a, b) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
        for x, y in zip(a, b, strict=True)
    )


class StepWatcher(L.Callback):
    """Checks, inside every batch, that the critic update leaves the generator's parameters and
    gradients alone and that the generator update leaves the discriminator's alone."""

    def __init__(self):
        self.checked = {"critic": 0, "generator": 0, "critic_only_batches": 0}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.g_params = clone(module.generator.parameters())
        self.g_grads = clone(p.grad for p in module.generator.parameters())
        self.generator_steps = module.generator_steps

    def on_before_optimizer_step(self, trainer, module, optimizer):
        if optimizer is trainer.optimizers[1]:  # the critic, after its backward pass
            assert same(clone(module.generator.parameters()), self.g_params)
            assert same(clone(p.grad for p in module.generator.parameters()), self.g_grads)
            assert all(p.grad is not None for p in module.discriminator.parameters())
            self.d_grads = clone(p.grad for p in module.discriminator.parameters())
            self.checked["critic"] += 1
        else:  # the generator, after its backward pass (the critic has already stepped)
            assert same(clone(p.grad for p in module.discriminator.parameters()), self.d_grads)
            assert all(p.grad is not None for p in module.generator.parameters())
            self.d_params = clone(module.discriminator.parameters())
            self.checked["generator"] += 1

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if module.generator_steps > self.generator_steps:
            assert same(clone(module.discriminator.parameters()), self.d_params)
            assert not same(clone(module.generator.parameters()), self.g_params)
        else:
            assert same(clone(module.generator.parameters()), self.g_params)
            self.checked["critic_only_batches"] += 1


def test_each_update_touches_only_its_network():
    watcher = StepWatcher()
    trainer(callbacks=[watcher], limit_train_batches=4).fit(toy_gan(n_critic=2), toy_data())
    assert watcher.checked == {"critic": 4, "generator": 2, "critic_only_batches": 2}


class StepRecorder(L.Callback):
    def __init__(self):
        self.steps: list[tuple[int, int, int, int]] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.steps.append(
            (
                trainer.current_epoch,
                module.critic_steps,
                module.generator_steps,
                trainer.global_step,
            )
        )


def test_n_critic_cycle_runs_across_epochs_and_resumes(tmp_path):
    """3 batches per epoch, n_critic = 2: the cycle straddles epoch boundaries. A run resumed
    after epoch 1 (mid-cycle: 3 critic steps) continues exactly as the uninterrupted run."""
    full = StepRecorder()
    trainer(callbacks=[full], max_epochs=3).fit(toy_gan(n_critic=2), toy_data(num_samples=30))
    assert [s[1] for s in full.steps] == list(range(1, 10))
    assert [s[2] for s in full.steps] == [
        c // 2 for c in range(1, 10)
    ]  # after critic steps 2, 4, 6, 8
    assert all(g == c + n for _, c, n, g in full.steps)  # global_step counts optimizer steps

    first = StepRecorder()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer(callbacks=[first, checkpoint], enable_checkpointing=True, max_epochs=1).fit(
        toy_gan(n_critic=2), toy_data(num_samples=30)
    )
    assert first.steps == full.steps[:3]
    resumed = StepRecorder()
    trainer(callbacks=[resumed], max_epochs=3).fit(
        toy_gan(n_critic=2),
        toy_data(num_samples=30),
        ckpt_path=str(tmp_path / "last.ckpt"),
        weights_only=False,
    )
    assert resumed.steps == full.steps[3:]


def test_ema_follows_its_recursion_and_serves_samples():
    decay = 0.5
    history = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            history.append(
                torch.nn.utils.parameters_to_vector(module.generator.parameters()).detach().clone()
            )

    model = toy_gan(ema_decay=decay, ema_rampup=None)
    trainer(callbacks=[Record()], limit_train_batches=4).fit(model, toy_data())
    expected = history[0]  # the first update copies
    for current in history[1:]:
        expected = decay * expected + (1 - decay) * current
    ema = torch.nn.utils.parameters_to_vector(model.generator_ema.module.parameters())
    torch.testing.assert_close(ema, expected)
    assert not torch.equal(ema, history[-1])
    assert model.sampling_generator is model.generator_ema.module
    z = model.noise(5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(
        model.sample(5, generator=torch.Generator().manual_seed(3)), model.generator_ema.module(z)
    )


def test_ema_rampup_follows_the_stylegan2_ada_half_life():
    """With ``ema_rampup`` the update after ``t`` earlier updates uses ``min(decay, 0.5 ** (1 /
    (rampup * t)))``: here the ramp (t < 14) and the capped decay (t >= 14) both occur."""
    decay, rampup = 0.9, 0.5
    history = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            history.append(
                torch.nn.utils.parameters_to_vector(module.generator.parameters()).detach().clone()
            )

    model = toy_gan(ema_decay=decay, ema_rampup=rampup)
    trainer(callbacks=[Record()], max_epochs=3).fit(model, toy_data())
    assert len(history) == 18
    expected = history[0]
    decays = []
    for t, current in enumerate(history[1:], start=1):
        half_life = min(math.log(0.5) / math.log(decay), rampup * t)
        decays.append(0.5 ** (1 / half_life))
        expected = decays[-1] * expected + (1 - decays[-1]) * current
    assert decays[0] == pytest.approx(0.25) and decays[-1] == pytest.approx(decay)
    assert [model.ema_decay_at(t) for t in range(1, 18)] == pytest.approx(decays)
    ema = torch.nn.utils.parameters_to_vector(model.generator_ema.module.parameters())
    torch.testing.assert_close(ema, expected)
    # The weight left on the first generator after T updates, the closed form of the diagnosis.
    plain = toy_gan(ema_decay=0.999, ema_rampup=None)
    assert math.prod(plain.ema_decay_at(t) for t in range(1, 2400)) == pytest.approx(0.999**2399)
    assert 0.999**2399 == pytest.approx(0.0907, abs=1e-4)
    ramped = toy_gan(ema_decay=0.999)  # the default ramp-up, 0.05
    assert ramped.ema_decay_at(0) == 0.0 and ramped.ema_decay_at(100) == pytest.approx(0.5**0.2)
    assert ramped.ema_decay_at(20_000) == 0.999
    assert math.prod(ramped.ema_decay_at(t) for t in range(1, 2400)) < 1e-30


@pytest.mark.parametrize("conditional", [False, True])
def test_ema_samples_with_batch_norm_statistics_recomputed_on_fresh_noise(conditional):
    """The sampling generator is a copy of the EMA whose running statistics are the averages of
    its own batch means and unbiased variances on ``ema_bn_samples`` inputs drawn from a private
    generator (seed 0); the EMA, the module's state and the global random state are untouched."""
    from lit_gen.models import ConditionalGAN

    torch.manual_seed(0)
    if conditional:
        model = ConditionalGAN(
            data_shape=(1, 8, 8), num_classes=10, latent_dim=8, ema_decay=0.5, ema_bn_samples=300,
            generator=partial(DCGANGenerator, base_channels=8),
            discriminator=partial(DCGANDiscriminator, base_channels=8),
        )
    else:
        model = image_gan(ema_decay=0.5, ema_bn_samples=300)
    data = DigitsDataModule(image_size=8, batch_size=16)
    trainer(limit_train_batches=3).fit(model, data)
    ema = model.generator_ema.module
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng_state = torch.get_rng_state()

    standing = model.sampling_generator
    assert standing is not ema and not standing.training
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    # The closed form: batch statistics of the EMA's BN inputs on the same inputs (2 x 150).
    probe = copy.deepcopy(ema).train()
    seen: dict[int, list] = {}
    norms = [m for m in probe.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    for i, norm in enumerate(norms):
        norm.register_forward_hook(lambda m, args, out, i=i: seen.setdefault(i, []).append(args[0]))
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n in (150, 150):
            inputs = model.generator_inputs(n, rng)
            if conditional:
                assert torch.equal(inputs[1], torch.arange(n) % 10)
            probe(*inputs)
    got = [m for m in standing.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for i, norm in enumerate(got):
        means = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen[i]])
        variances = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x in seen[i]])
        torch.testing.assert_close(norm.running_mean, means.mean(0))
        torch.testing.assert_close(norm.running_var, variances.mean(0))
        assert norm.momentum == 0.1  # restored
    z = model.noise(4, torch.Generator().manual_seed(1))
    labels = (torch.arange(4) % 10,) if conditional else ()
    torch.testing.assert_close(model(z, *labels), standing(z, *labels))
    assert model.sampling_generator is standing  # cached until the EMA changes
    model.generator_steps += 1
    model.update_ema()
    assert model.sampling_generator is not standing
    # ema_bn_samples = 0: the EMA itself, with its averaged running statistics.
    model.ema_bn_samples = 0
    assert model.sampling_generator is ema


@pytest.mark.parametrize(
    ("interval", "epochs", "expected_steps"), [("generator_step", 1, 3), ("epoch", 2, 2)]
)
def test_schedulers_are_stepped_by_the_module(interval, epochs, expected_steps):
    halve = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    model = toy_gan(
        n_critic=2, lr_scheduler_g=halve, lr_scheduler_d=halve, scheduler_interval=interval
    )
    fit = trainer(max_epochs=epochs, limit_train_batches=6)
    fit.fit(model, toy_data())
    for optimizer in fit.optimizers:
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.5**expected_steps)


def test_gradient_clipping_bounds_every_update():
    clip = 1e-3
    deltas: list[float] = []

    class Measure(L.Callback):
        def on_before_optimizer_step(self, trainer, module, optimizer):
            params = [p for group in optimizer.param_groups for p in group["params"]]
            # before the module's own hook clips them:
            assert torch.nn.utils.get_total_norm([p.grad for p in params]) > 10 * clip
            if hasattr(self, "before"):
                deltas.append(
                    torch.nn.utils.parameters_to_vector(self.params).sub(self.before).norm().item()
                )
            self.params, self.before = (
                params,
                torch.nn.utils.parameters_to_vector(params).detach().clone(),
            )

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            deltas.append(
                torch.nn.utils.parameters_to_vector(self.params).sub(self.before).norm().item()
            )
            del self.before

    sgd = partial(torch.optim.SGD, lr=1.0)
    model = toy_gan(gradient_clip_val=clip, optimizer_g=sgd, optimizer_d=sgd)
    trainer(callbacks=[Measure()], limit_train_batches=3).fit(model, toy_data())
    assert len(deltas) == 6  # a critic and a generator update per batch
    assert all(0 < d <= clip * (1 + 1e-4) for d in deltas)


def test_bf16_autocast_with_gradient_penalty():
    dtypes = set()
    model = image_gan(
        objective=Wasserstein(),
        gp_weight=10.0,
        discriminator=partial(DCGANDiscriminator, base_channels=8, norm="layer"),
    )
    model.discriminator.register_forward_hook(lambda module, args, output: dtypes.add(output.dtype))
    before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    fit = trainer(precision="bf16-mixed", limit_train_batches=3, log_every_n_steps=1)
    fit.fit(model, DigitsDataModule(image_size=8, batch_size=16))
    after = torch.nn.utils.parameters_to_vector(model.parameters())
    assert torch.bfloat16 in dtypes
    assert torch.isfinite(after).all() and not torch.equal(before, after)
    for key in ("train/d_loss", "train/g_loss", "train/gp"):
        assert math.isfinite(fit.callback_metrics[key].item()), key


def test_latent_paths():
    z0 = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    z1 = torch.tensor([[0.0, 3.0], [2.0, 2.0]])
    linear = GAN.latent_path(z0, z1, 5, "linear")
    torch.testing.assert_close(linear[:, 2], (z0 + z1) / 2)
    spherical = GAN.latent_path(z0, z1, 5, "spherical")
    torch.testing.assert_close(spherical[:, 0], z0)
    torch.testing.assert_close(spherical[:, -1], z1)
    # orthogonal endpoints of norm 3: the slerp stays on the circle, at evenly spaced angles
    torch.testing.assert_close(spherical[0].norm(dim=1), torch.full((5,), 3.0))
    angles = torch.atan2(spherical[0, :, 1], spherical[0, :, 0])
    torch.testing.assert_close(angles, torch.linspace(0, math.pi / 2, 5))
    torch.testing.assert_close(spherical[1], linear[1])  # parallel endpoints: the straight line

    model = image_gan().eval()
    images = model.interpolate(z0.repeat(1, 4), z1.repeat(1, 4), 5, "spherical")
    assert images.shape == (10, 1, 8, 8)
    torch.testing.assert_close(images[0], model.generator(z0.repeat(1, 4)[:1])[0])
    torch.testing.assert_close(images[4], model.generator(z1.repeat(1, 4)[:1])[0])


def test_cli_run_images_and_checkpoint(tmp_path, fast_trainer_args):
    cli = run(
        [
            "fit",
            "--config",
            str(CONFIGS / "quickstart" / "dcgan.yaml"),
            *fast_trainer_args,
            "--run_dir",
            str(tmp_path / "run"),
        ]
    )
    images = {p.name for p in (tmp_path / "run" / "images").iterdir()}
    assert {
        "samples_epoch0000.png",
        "interpolation_linear_epoch0000.png",
        "interpolation_spherical_epoch0000.png",
    } <= images
    assert cli.model.generator_steps == 2 and cli.trainer.global_step == 4
    restored = GAN.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert restored.generator_steps == 2 and restored.critic_steps == 2
    for model in (cli.model, restored):
        model.eval()
    torch.testing.assert_close(
        restored.sample(4, generator=torch.Generator().manual_seed(0)),
        cli.model.sample(4, generator=torch.Generator().manual_seed(0)),
    )


def test_toy_run_scores_mode_coverage(tmp_path, fast_trainer_args):
    run(
        [
            "fit",
            "--config",
            str(CONFIGS / "quickstart" / "gan_ring.yaml"),
            *fast_trainer_args,
            "--data.init_args.num_samples=500",
            "--run_dir",
            str(tmp_path / "run"),
        ]
    )
    images = {p.name for p in (tmp_path / "run" / "images").iterdir()}
    assert images == {"mode_coverage_epoch0000.png"}  # no image grids for 2-D points
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val/modes", "val/high_quality", "val/kl_modes"} <= set(header)


# -- user errors ----------------------------------------------------------------------------
def test_bad_hyperparameters_are_explained():
    with pytest.raises(ConfigurationError, match="n_critic must be >= 1"):
        toy_gan(n_critic=0)
    with pytest.raises(ConfigurationError, match="clip_value must be > 0"):
        toy_gan(clip_value=-0.01)
    with pytest.raises(ConfigurationError, match=r"ema_decay must be in \(0, 1\)"):
        toy_gan(ema_decay=1.0)
    with pytest.raises(ConfigurationError, match=r"ema_rampup must be > 0"):
        toy_gan(ema_decay=0.9, ema_rampup=0.0)
    with pytest.raises(ConfigurationError, match=r"ema_bn_samples must be 0 \(off\) or >= 2"):
        toy_gan(ema_decay=0.9, ema_bn_samples=1)
    with pytest.raises(ConfigurationError, match="objective must be one of"):
        toy_gan(objective="hinge")
    with pytest.raises(ConfigurationError, match="GAN is unconditional"):
        toy_gan().sample(2, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigurationError, match="interpolation mode"):
        GAN.latent_path(torch.zeros(1, 2), torch.ones(1, 2), 3, "cubic")


def test_plain_ddp_is_refused_with_advice():
    fit = trainer(strategy="ddp", limit_train_batches=1)
    with pytest.raises(ConfigurationError, match="ddp_find_unused_parameters_true"):
        fit.fit(toy_gan(), toy_data())


def test_image_size_mismatch_is_one_line(capsys, fast_trainer_args):
    with pytest.raises(SystemExit) as exit_info:
        run(
            [
                "fit",
                "--config",
                str(CONFIGS / "quickstart" / "dcgan.yaml"),
                *fast_trainer_args,
                "--data.init_args.image_size=12",
            ]
        )
    assert exit_info.value.code == 2
    assert "power of two >= 8" in capsys.readouterr().err


def test_step_metrics_reach_the_logger_every_n_steps(tmp_path):
    """GAN logs its per-step terms only on the batches whose metrics Lightning writes (see
    GAN._logging_batch): they must all arrive, at every log_every_n_steps-th batch."""
    from lightning.pytorch.loggers import CSVLogger

    fit = trainer(
        logger=CSVLogger(tmp_path, name="", version=""),
        log_every_n_steps=2,
        limit_train_batches=6,
        max_epochs=2,
    )
    fit.fit(toy_gan(n_critic=2), toy_data())
    rows = [line.split(",") for line in (tmp_path / "metrics.csv").read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    logged = [row for row in rows if row[header.index("train/d_loss")]]
    # Lightning writes step metrics after batches 1, 3, 5, ... (1-based) for log_every_n_steps=2
    assert [int(row[header.index("step")]) for row in logged] == [1, 3, 5, 7, 9, 11]
    # n_critic = 2: after critic steps 1, 3, 5, ... the generator has stepped 0, 1, 2, ... times
    assert [float(row[header.index("train/generator_step")]) for row in logged] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]


# -- exact resume (issue 7) -----------------------------------------------------------------
class KillAtBatch(L.Callback):
    """Raises KeyboardInterrupt, as Ctrl-C would, after ``critic_steps`` critic updates."""

    def __init__(self, critic_steps: int = 10):
        self.critic_steps = critic_steps

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if module.critic_steps == self.critic_steps:
            raise KeyboardInterrupt


def _resume_args(run_dir: Path, epochs: int) -> list[str]:
    # WGAN-GP (n_critic = 5) with an EMA of the generator, 7 batches per epoch: every epoch
    # boundary falls inside an n_critic cycle.
    return [
        "fit",
        "--config",
        str(CONFIGS / "quickstart" / "wgan_gp_grid.yaml"),
        "--run_dir",
        str(run_dir),
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.deterministic=true",
        f"--trainer.max_epochs={epochs}",
        "--trainer.limit_train_batches=7",
        "--trainer.limit_val_batches=0",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.log_every_n_steps=3",
        "--data.init_args.num_samples=640",
        "--data.init_args.batch_size=32",
        "--data.init_args.val_samples=100",
        "--model.init_args.ema_decay=0.9",
        "--model.init_args.generator.init_args.batch_norm=true",  # the EMA's recomputed BN too
        "--model.init_args.generator.init_args.hidden=[32, 32]",
        "--model.init_args.discriminator.init_args.hidden=[32, 32]",
    ]


def test_gan_stopped_mid_cycle_and_resumed_equals_an_uninterrupted_run(tmp_path):
    """n_critic = 5: stopped at the end of epoch 0 (7 critic steps, 1 generator step) and killed
    in epoch 1 after 10 critic steps (2 generator steps: mid-cycle, mid-epoch), then resumed
    twice; the networks, the EMA, the optimizers' moments and the step counters equal those of
    one uninterrupted run."""
    reference = run(_resume_args(tmp_path / "reference", epochs=3))
    assert (reference.model.critic_steps, reference.model.generator_steps) == (21, 4)
    assert reference.trainer.global_step == 25  # optimizer steps: critic + generator

    run_dir = tmp_path / "resumed"
    first = run(_resume_args(run_dir, epochs=1))
    assert (first.model.critic_steps, first.model.generator_steps) == (7, 1)
    with pytest.raises(SystemExit):  # killed: interrupted.ckpt
        run(
            [
                *_resume_args(run_dir, epochs=3),
                "--ckpt_path",
                str(run_dir / "checkpoints/last.ckpt"),
                "--trainer.callbacks+=test_gan.KillAtBatch",
                "--trainer.callbacks.init_args.critic_steps=10",
            ]
        )
    resumed = run(
        [
            *_resume_args(run_dir, epochs=3),
            "--ckpt_path",
            str(run_dir / "checkpoints/interrupted.ckpt"),
        ]
    )
    assert (resumed.model.critic_steps, resumed.model.generator_steps) == (21, 4)
    assert resumed.trainer.global_step == 25

    expected, got = reference.model.state_dict(), resumed.model.state_dict()
    assert expected.keys() == got.keys() and any(k.startswith("generator_ema.") for k in got)
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    for opt_ref, opt_got in zip(
        reference.trainer.optimizers, resumed.trainer.optimizers, strict=True
    ):
        for state_ref, state_got in zip(
            opt_ref.state_dict()["state"].values(),
            opt_got.state_dict()["state"].values(),
            strict=True,
        ):
            assert torch.equal(state_ref["exp_avg_sq"], state_got["exp_avg_sq"])
