"""Pix2Pix and CycleGAN: losses against hand-computed values, the image pool, the learning-rate
schedule, optimizer mechanics, pix2pix's inference protocol and resuming."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn

from lit_gen.cli import run
from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import LeastSquares
from lit_gen.losses.translation import CycleGANLeastSquares, cycle_consistency_loss, identity_loss
from lit_gen.models import CycleGAN, Pix2Pix
from lit_gen.models.cyclegan import ImagePool
from lit_gen.models.image_translation import LinearDecay, batch_statistics_mode


class Affine(nn.Module):
    """``x -> scale * x + shift``: a generator whose outputs are easy to compute by hand."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))
        self.shift = shift

    def forward(self, x):
        return self.scale * x + self.shift


class TakeChannels(nn.Module):
    """A "discriminator" whose score map is some channels of its input."""

    def __init__(self, start: int = 0):
        super().__init__()
        self.start = start
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x[:, self.start : self.start + 1] + self.dummy


def full(value: float, shape=(2, 1, 4, 4)) -> torch.Tensor:
    return torch.full(shape, value)


# -- objectives -------------------------------------------------------------------------------
def test_cyclegan_least_squares_matches_the_paper():
    scores = torch.tensor([0.2, 1.5, -0.3])
    real = torch.tensor([0.9, 0.1])
    loss = CycleGANLeastSquares()
    assert torch.isclose(loss.g_loss(scores), ((scores - 1) ** 2).mean())  # E[(D(G(x)) - 1)^2]
    expected_d = 0.5 * ((real - 1) ** 2).mean() + 0.5 * (scores**2).mean()  # halved for D
    assert torch.isclose(loss.d_loss(real, scores), expected_d)
    assert torch.isclose(loss.g_loss(scores), 2 * LeastSquares().g_loss(scores))


def test_cycle_and_identity_terms_by_hand():
    model = CycleGAN(data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1)
    model.gen_ab, model.gen_ba = Affine(1.0, 0.5), Affine(2.0, 0.0)  # G(x) = x + 0.5, F(y) = 2y
    model.disc_a, model.disc_b = TakeChannels(), TakeChannels()  # score map = the image
    real_a, real_b = full(0.1), full(0.2)
    fake_b, fake_a = model.gen_ab(real_a), model.gen_ba(real_b)  # 0.6, 0.4
    terms = {k: v.detach() for k, v in model.generator_loss(real_a, real_b, fake_a, fake_b).items()}
    # cycle: |F(G(a)) - a| = |1.2 - 0.1| = 1.1, |G(F(b)) - b| = |0.9 - 0.2| = 0.7
    assert math.isclose(float(terms["cycle"]), 1.8, rel_tol=1e-6)
    # identity: |F(a) - a| = |0.2 - 0.1| = 0.1, |G(b) - b| = |0.7 - 0.2| = 0.5
    assert math.isclose(float(terms["identity"]), 0.6, rel_tol=1e-6)
    # adversarial: (0.6 - 1)^2 = 0.16 and (0.4 - 1)^2 = 0.36
    assert math.isclose(float(terms["g_gan_ab"]), 0.16, rel_tol=1e-5)
    assert math.isclose(float(terms["g_gan_ba"]), 0.36, rel_tol=1e-5)
    # eq. (3) + identity: 0.16 + 0.36 + 10 * 1.8 + 0.5 * 10 * 0.6
    assert math.isclose(float(terms["g_loss"]), 21.52, rel_tol=1e-5)
    # without identity the term and its weight disappear
    model.lambda_identity = 0.0
    terms = {k: v.detach() for k, v in model.generator_loss(real_a, real_b, fake_a, fake_b).items()}
    assert "identity" not in terms and math.isclose(float(terms["g_loss"]), 18.52, rel_tol=1e-5)
    # discriminator: 1/2 (D(a) - 1)^2 + 1/2 D(fake)^2 = 1/2 * 0.81 + 1/2 * 0.16
    d = model.discriminator_loss(model.disc_a, real_a, full(0.4)).detach()
    assert math.isclose(float(d), 0.5 * 0.81 + 0.5 * 0.16, rel_tol=1e-5)
    assert math.isclose(
        float(cycle_consistency_loss(real_a, full(1.2), real_b, full(0.9))), 1.8, rel_tol=1e-6
    )
    assert math.isclose(
        float(identity_loss(real_a, full(0.2), real_b, full(0.7))), 0.6, rel_tol=1e-6
    )


def test_noisy_cycle_of_bashkirova_et_al_against_a_reference_computation():
    """cycle = ||F(G(a) + e) - a||_1 + ||G(F(b) + e') - b||_1, e, e' ~ N(0, s^2) (arXiv:1908.01517)."""
    model = CycleGAN(data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1, cycle_noise_std=0.3)
    model.gen_ab, model.gen_ba = Affine(1.0, 0.5), Affine(2.0, 0.0)  # G(x) = x + 0.5, F(y) = 2y
    model.disc_a, model.disc_b = TakeChannels(), TakeChannels()
    real_a, real_b = full(0.1), full(0.2)
    fake_b, fake_a = model.gen_ab(real_a), model.gen_ba(real_b)  # 0.6, 0.4
    torch.manual_seed(7)
    terms = model.generator_loss(real_a, real_b, fake_a, fake_b)
    torch.manual_seed(7)  # the same draws, in the same order: e for G(a), then e' for F(b)
    e, e_prime = torch.randn(real_a.shape), torch.randn(real_b.shape)
    expected = (2 * (0.6 + 0.3 * e) - 0.1).abs().mean() + ((0.4 + 0.3 * e_prime + 0.5) - 0.2).abs().mean()
    assert torch.isclose(terms["cycle"].detach(), expected, rtol=1e-6)
    assert not math.isclose(float(terms["cycle"]), 1.8, rel_tol=1e-3)  # the noise is there
    # the adversarial and identity terms do not see the noise
    assert math.isclose(float(terms["g_gan_ab"]), 0.16, rel_tol=1e-5)
    assert math.isclose(float(terms["identity"]), 0.6, rel_tol=1e-6)
    # std 0 is the paper's cycle and draws nothing from the global generator
    model.cycle_noise_std = 0.0
    state = torch.get_rng_state()
    terms = model.generator_loss(real_a, real_b, fake_a, fake_b)
    assert torch.equal(torch.get_rng_state(), state)
    assert math.isclose(float(terms["cycle"]), 1.8, rel_tol=1e-6)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ConfigurationError, match="cycle_noise_std"):
            CycleGAN(data_shape=(1, 16, 16), cycle_noise_std=bad)


def test_cyclegan_ema_generators_follow_the_ramped_up_average_and_translate():
    """After updates k = 0, 1, 2, ... with the raw weights all equal to c_k, the EMA holds
    e_0 = c_0 and e_k = d_k e_(k-1) + (1 - d_k) c_k, d_k = min(beta, 0.5 ** (1 / (r k)))."""
    beta, rampup = 0.9, 0.5
    model = CycleGAN(
        data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1, ema_decay=beta, ema_rampup=rampup
    )
    expected = None
    for k, c in enumerate([0.3, -0.2, 0.7, 0.1, 0.5]):
        for net, offset in ((model.gen_ab, 0.0), (model.gen_ba, 1.0)):
            for p in net.parameters():
                p.data.fill_(c + offset)
        model.update_ema()
        d = 0.0 if k == 0 else min(beta, 0.5 ** (1 / (rampup * k)))
        expected = c if expected is None else d * expected + (1 - d) * c
        for ema, offset in ((model.gen_ab_ema, 0.0), (model.gen_ba_ema, 1.0)):
            for p in ema.module.parameters():
                assert torch.allclose(p, torch.full_like(p, expected + offset), atol=1e-6), k
    assert int(model.gen_ab_ema.n_averaged) == int(model.gen_ba_ema.n_averaged) == 5
    assert not any(p.requires_grad for p in model.gen_ab_ema.parameters())
    # translation (and forward) use the averages; training uses the raw generators
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    for direction, ema, raw in (("AtoB", model.gen_ab_ema, model.gen_ab), ("BtoA", model.gen_ba_ema, model.gen_ba)):
        assert torch.equal(model.translate(x, direction), ema.module.eval()(x))
        assert torch.equal(model(x, direction), ema.module(x))
        assert not torch.allclose(model.translate(x, direction), raw.eval()(x))
    with pytest.raises(ConfigurationError, match="ema_decay"):
        CycleGAN(data_shape=(1, 16, 16), ema_decay=1.0)
    with pytest.raises(ConfigurationError, match="ema_rampup"):
        CycleGAN(data_shape=(1, 16, 16), ema_decay=0.9, ema_rampup=0)
    with pytest.raises(ConfigurationError, match="batch"):
        CycleGAN(data_shape=(1, 16, 16), ema_decay=0.9, norm="batch")


def test_pix2pix_losses_by_hand():
    model = Pix2Pix(data_shape=(1, 16, 16), ngf=4, ndf=4, n_layers=1)
    model.discriminator = TakeChannels(start=1)  # D(x, y) = y: the output half of the pair
    real_a, real_b, fake_b = full(0.3), full(0.2), full(0.6)
    softplus = lambda s: math.log1p(math.exp(s))  # noqa: E731
    terms = {k: v.detach() for k, v in model.generator_loss(real_a, real_b, fake_b).items()}
    assert math.isclose(float(terms["g_gan"]), softplus(-0.6), rel_tol=1e-6)  # -log D(x, G(x))
    assert math.isclose(float(terms["g_l1"]), 0.4, rel_tol=1e-6)
    assert math.isclose(float(terms["g_loss"]), softplus(-0.6) + 100 * 0.4, rel_tol=1e-6)
    d = model.discriminator_loss(
        real_a, real_b, fake_b
    ).detach()  # 1/2 [-log D(x, y) - log(1 - D(x, G(x)))]
    assert math.isclose(float(d), 0.5 * softplus(-0.2) + 0.5 * softplus(0.6), rel_tol=1e-6)


# -- the image pool ---------------------------------------------------------------------------
def ids(images: torch.Tensor) -> list[int]:
    return [int(v) for v in images[:, 0, 0, 0]]


def test_image_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(pool_size=4)
    marked = lambda *v: torch.tensor(v, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)  # noqa: E731
    # Filling: every image is stored and returned unchanged.
    assert ids(pool.query(marked(0, 1, 2))) == [0, 1, 2]
    out = ids(pool.query(marked(3, 4)))
    assert out[0] == 3 and pool.count == 4  # 3 fills the pool; 4 already meets a full pool
    assert out[1] == 4 or (out[1] in {0, 1, 2, 3} and 4 in ids(pool.images))
    swaps, n = 0, 2000
    for k in range(5, 5 + n):
        before = set(ids(pool.images))
        out = ids(pool.query(marked(k)))[0]
        after = set(ids(pool.images))
        if out == k:  # returned as is: the pool is unchanged
            assert after == before
        else:  # swapped: a stored image comes out, the new one takes its place
            swaps += 1
            assert out in before and after == (before - {out}) | {k}
    assert abs(swaps / n - 0.5) < 0.04  # p = 1/2 (4 standard deviations: 0.045)


def test_image_pool_disabled_and_state_round_trip():
    images = torch.randn(3, 1, 2, 2)
    assert ImagePool(0).query(images) is images
    pool = ImagePool(5)
    pool.query(torch.randn(3, 1, 2, 2))
    pool.query(torch.randn(4, 1, 2, 2))
    state = pool.state_dict()
    copy = ImagePool(5)
    copy.load_state_dict(state)
    assert copy.count == 5 and torch.equal(copy.images, pool.images)
    new = torch.randn(6, 1, 2, 2)
    assert torch.equal(copy.query(new.clone()), pool.query(new.clone()))  # same coin flips


# -- the learning-rate schedule ---------------------------------------------------------------
def test_linear_decay_values():
    factor = LinearDecay(n_epochs=100, n_epochs_decay=100)
    assert factor(0) == 1.0 and factor(99) == 1.0  # epochs 1..100 at 2e-4
    assert math.isclose(factor(100), 100 / 101)
    assert math.isclose(factor(150), 50 / 101)
    assert math.isclose(factor(199), 1 / 101)  # the 200th and last epoch
    assert factor(200) == 0.0 and factor(500) == 0.0
    assert LinearDecay(0, 3)(0) == 0.75


class LearningRates(L.Callback):
    """Records the learning rates each epoch trains with, and the global step."""

    def __init__(self):
        self.lrs: list[tuple[float, float]] = []
        self.steps: list[int] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.lrs.append(tuple(opt.param_groups[0]["lr"] for opt in trainer.optimizers))

    def on_train_epoch_end(self, trainer, pl_module):
        self.steps.append(trainer.global_step)


def tiny_cyclegan_args(tmp_path, *extra: str) -> list[str]:
    return [
        "--model=lit_gen.models.CycleGAN",
        "--model.ngf=4",
        "--model.ndf=4",
        "--model.n_blocks=1",
        "--model.n_layers=1",
        "--model.pool_size=3",
        "--data=lit_gen.data.DigitThinningDataModule",
        "--data.image_size=16",
        "--data.batch_size=2",
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--run_dir",
        str(tmp_path / "run"),
        *extra,
    ]


def test_schedule_is_stepped_per_epoch_and_restored_on_resume(tmp_path):
    """n_epochs=1, n_epochs_decay=3: factors 1, 3/4, 2/4, 1/4. Train 2 epochs, resume to 4."""
    sched = ["--model.n_epochs=1", "--model.n_epochs_decay=3"]
    with pytest.warns(UserWarning, match=r"decays to zero over n_epochs \+ n_epochs_decay = 4 epochs but trainer.max_epochs = 2"):
        cli = run(["fit", *tiny_cyclegan_args(tmp_path, *sched, "--trainer.max_epochs=2")])
    assert cli.trainer.state.finished
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert [s["last_epoch"] for s in ckpt["lr_schedulers"]] == [2, 2]
    assert ckpt["global_step"] == 2 * 2 * 2  # 2 epochs x 2 batches x (G step + D step)
    assert ckpt["image_pools"]["a"]["count"] == 3  # 4 fakes seen, pool of 3: full
    assert [g["lr"] for g in ckpt["optimizer_states"][0]["param_groups"]] == [
        pytest.approx(2e-4 * 2 / 4)
    ]

    resumed = run(
        [
            "fit",
            *tiny_cyclegan_args(tmp_path, *sched, "--trainer.max_epochs=4"),
            "--ckpt_path",
            str(tmp_path / "run" / "checkpoints" / "last.ckpt"),
        ]
    )
    assert resumed.trainer.current_epoch == 4
    model = resumed.model
    assert model.pool_a.count == 3 and model.pool_b.count == 3
    assert resumed.trainer.global_step == 16
    for scheduler, opt in zip(model.lr_schedulers(), resumed.trainer.optimizers, strict=True):
        assert scheduler.last_epoch == 4
        assert opt.param_groups[0]["lr"] == pytest.approx(0.0)  # factor(4) after the last epoch


def test_learning_rate_per_epoch_in_training(tmp_path):
    rates = LearningRates()
    model = CycleGAN(
        data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1, n_epochs=1, n_epochs_decay=2
    )
    from lit_gen.data import DigitThinningDataModule

    data = DigitThinningDataModule(image_size=16, batch_size=2)
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[rates],
    )
    trainer.fit(model, data)
    assert [lr[0] for lr in rates.lrs] == pytest.approx([2e-4, 2e-4 * 2 / 3, 2e-4 / 3])
    assert [lr[1] for lr in rates.lrs] == pytest.approx([2e-4, 2e-4 * 2 / 3, 2e-4 / 3])
    assert rates.steps == [4, 8, 12]  # global_step counts optimizer steps: 2 per batch


# -- optimizer mechanics ----------------------------------------------------------------------
def snapshot(*nets: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for net in nets for p in net.parameters()]


def changed(before: list[torch.Tensor], *nets: nn.Module) -> bool:
    after = [p.detach() for net in nets for p in net.parameters()]
    return any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("frozen", ["generators", "discriminators"])
def test_each_optimizer_moves_only_its_networks(frozen):
    """With one optimizer's learning rate at 0, its networks do not move and the others do."""
    from functools import partial

    zero = partial(torch.optim.SGD, lr=0.0)
    kwargs = {"optimizer_g": zero} if frozen == "generators" else {"optimizer_d": zero}
    model = CycleGAN(data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1, **kwargs)
    from lit_gen.data import DigitThinningDataModule

    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    gens, discs = (model.gen_ab, model.gen_ba), (model.disc_a, model.disc_b)
    g_before, d_before = snapshot(*gens), snapshot(*discs)
    trainer.fit(model, DigitThinningDataModule(image_size=16, batch_size=2))
    assert trainer.global_step == 2  # one batch = one generator step + one discriminator step
    assert changed(g_before, *gens) == (frozen != "generators")
    assert changed(d_before, *discs) == (frozen != "discriminators")


def test_pix2pix_trains_and_counts_two_steps_per_batch():
    from lit_gen.data import DigitEdgesDataModule

    model = Pix2Pix(data_shape=(1, 16, 16), ngf=4, ndf=4, n_layers=1, dropout_blocks=1)
    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=4,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=2,
    )
    trainer.fit(model, DigitEdgesDataModule(image_size=16, batch_size=4))
    assert trainer.global_step == 4
    assert changed(g_before, model.generator) and changed(d_before, model.discriminator)
    assert {"val/l1", "val/psnr"} <= set(trainer.callback_metrics)


# -- pix2pix inference ------------------------------------------------------------------------
def test_pix2pix_inference_modes():
    torch.manual_seed(0)
    model = Pix2Pix(data_shape=(1, 16, 16), ngf=4, ndf=4, n_layers=1, dropout_blocks=2).eval()
    bn = [m for m in model.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    running = [m.running_mean.clone() for m in bn]
    counts = [int(m.num_batches_tracked) for m in bn]
    x = torch.randn(4, 1, 16, 16)
    first, second = model.translate(x), model.translate(x)
    assert not torch.equal(first, second)  # dropout is on at test time (the paper's protocol)
    assert all(
        torch.equal(m.running_mean, r) for m, r in zip(bn, running, strict=True)
    )  # stats untouched
    assert [int(m.num_batches_tracked) for m in bn] == counts
    assert not model.generator.training  # mode restored
    # batch statistics: without dropout, an image's output still depends on the rest of its batch
    model = Pix2Pix(data_shape=(1, 16, 16), ngf=4, ndf=4, n_layers=1, dropout=False).eval()
    assert not torch.allclose(model.translate(x[:2]), model.translate(x)[:2], atol=1e-4)
    model.hparams.inference = "eval"  # the usual protocol: running statistics, no dropout
    assert torch.allclose(model.translate(x[:2]), model.translate(x)[:2], atol=1e-6)
    model = Pix2Pix(
        data_shape=(1, 16, 16), ngf=4, ndf=4, n_layers=1, dropout_blocks=2, inference="eval"
    )
    assert torch.equal(model.translate(x), model.translate(x))


def test_batch_statistics_mode_restores_training_flags():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    net.train()
    net[2].eval()  # mixed flags come back as they were
    with batch_statistics_mode(net):
        assert all(m.training for m in net.modules())
        assert net[1].momentum == 0.0
    assert net.training and net[1].training and not net[2].training and net[1].momentum == 0.1


# -- configuration errors ---------------------------------------------------------------------
def test_configuration_errors():
    with pytest.raises(ConfigurationError, match="too small"):
        CycleGAN(data_shape=(3, 16, 16))  # 70x70 PatchGAN needs >= 24 px
    with pytest.raises(ConfigurationError, match="divisible by 4"):
        CycleGAN(data_shape=(3, 30, 30), n_layers=1)
    with pytest.raises(ConfigurationError, match="divisible by 32"):
        Pix2Pix(data_shape=(3, 48, 48), num_downs=5)
    with pytest.raises(ConfigurationError, match="lambda_cycle"):
        CycleGAN(data_shape=(1, 32, 32), lambda_cycle=-1)
    with pytest.raises(ConfigurationError, match="pool_size"):
        CycleGAN(data_shape=(1, 32, 32), pool_size=-1)
    with pytest.raises(ConfigurationError, match="direction"):
        CycleGAN(data_shape=(1, 32, 32), ngf=4, ndf=4, n_blocks=1).translate(
            torch.zeros(1, 1, 32, 32), "AtoC"
        )


def test_cli_prints_configuration_errors_on_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(
            [
                "fit",
                "--model=lit_gen.models.CycleGAN",
                "--data=lit_gen.data.DigitThinningDataModule",
                "--data.image_size=16",
                "--trainer.max_epochs=1",
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lit-gen: error:") and "too small for a PatchGAN with n_layers=3" in err


# -- precision and distributed training -------------------------------------------------------
def test_cyclegan_trains_in_bf16_mixed_precision():
    from lit_gen.data import DigitThinningDataModule

    model = CycleGAN(data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1, pool_size=2)
    trainer = L.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        max_steps=4,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, DigitThinningDataModule(image_size=16, batch_size=2))
    assert trainer.global_step == 4 and model.pool_a.count == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.slow  # two fresh processes: ~20 s on a quiet machine, 90 s on the busy CI box
def test_cyclegan_ddp_two_processes(tmp_path):
    """DDP (gloo, 2 CPU processes) needs find_unused_parameters: each optimizer step leaves the
    other networks without gradients. Both ranks train and validate (image grids on rank 0), and
    the checkpoint holds 2 optimizer steps per batch. Run with ``pytest -m slow``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    command = [
        sys.executable,
        "-m",
        "lit_gen",
        "fit",
        *tiny_cyclegan_args(tmp_path, "--trainer.max_epochs=1"),
        "--trainer.devices=2",
        "--trainer.strategy=ddp_find_unused_parameters_true",
    ]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 4  # 2 batches per rank x (G step + D step)
    assert [s["last_epoch"] for s in ckpt["lr_schedulers"]] == [1, 1]


# -- FID of translations through the evaluation layer ----------------------------------------
def test_generative_metrics_score_both_cyclegan_directions():
    """GenerativeMetrics translates the validation images of each domain and compares them with
    the other domain's; a translation that returns its input scores the FID of A against B."""
    from lit_gen.callbacks import GenerativeMetrics
    from lit_gen.data import DigitThinningDataModule
    from lit_gen.metrics import DIGITS_EXTRACTOR

    data = DigitThinningDataModule(image_size=16, batch_size=8)
    model = CycleGAN(data_shape=(1, 16, 16), ngf=4, ndf=4, n_blocks=1, n_layers=1)
    callback = GenerativeMetrics(
        metrics=["fid"], feature_extractor=DIGITS_EXTRACTOR, batch_size=200
    )
    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
        limit_val_batches=1,
    )
    trainer.validate(model, datamodule=data)
    result = callback.last_results["val"]
    assert {"fid_a2b", "fid_b2a"} <= set(result["metrics"])
    assert result["protocol"]["a2b"]["reference"] == "DigitThinningDataModule val split, domain B"
    assert result["protocol"]["a2b"]["num_generated"] == len(data.val_set)

    model.gen_ab = model.gen_ba = nn.Identity()  # untranslated images: FID(A, B) both ways
    trainer.validate(model, datamodule=data)
    untranslated = callback.last_results["val"]["metrics"]
    assert untranslated["fid_a2b"] == pytest.approx(untranslated["fid_b2a"], rel=1e-3)
    assert untranslated["fid_a2b"] > 1.0
