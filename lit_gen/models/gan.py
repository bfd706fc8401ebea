"""Generative adversarial networks: one module, the classic variants as configs.

GAN (Goodfellow et al., 2014, arXiv:1406.2661, eq. (1)):
``min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))]``. The variants differ only in what is
injected - networks, objective (:mod:`lit_gen.losses.adversarial`), number of critic steps per
generator step and Lipschitz constraint (:mod:`lit_gen.losses.penalties`) - so each is a YAML:

============  ===============  ====================  ========  ======================  ==========================
variant       objective        networks              n_critic  constraint              optimizers (G and D)
============  ===============  ====================  ========  ======================  ==========================
GAN           NonSaturating    MLP (maxout D)        1         -                       SGD + momentum (paper)
DCGAN         NonSaturating    DCGAN                 1         -                       Adam(2e-4, 0.5, 0.999)
LSGAN         LeastSquares     DCGAN                 1         -                       Adam(2e-4, 0.5, 0.999)
hinge GAN     Hinge            DCGAN                 1         -                       Adam(2e-4, 0.5, 0.999)
WGAN          Wasserstein      DCGAN                 5         clip_value = 0.01       RMSprop(5e-5)
WGAN-GP       Wasserstein      ResNet / DCGAN + LN   5         gp_weight = 10          Adam(1e-4, 0, 0.9)
SN-GAN        Hinge            ResNet, SN in D       5         spectral_norm = true    Adam(2e-4, 0, 0.9)
============  ===============  ====================  ========  ======================  ==========================

Also available to any variant: the R1 penalty (``r1_gamma``), PacGAN's packed discriminator
(``MLPDiscriminator(pack=m)``) and an EMA of the generator (``ema_decay``).

**Injection.** ``generator`` and ``discriminator`` are network classes given by ``class_path``
with their own ``init_args``; the module calls ``generator(latent_dim, data_shape)`` and
``discriminator(data_shape)`` (see :mod:`lit_gen.nets`). ``objective`` is an instance of a loss
class of :mod:`lit_gen.losses.adversarial`, also by ``class_path``. Optimizers and schedulers are
``OptimizerCallable`` / ``LRSchedulerCallable``. In YAML::

    model:
      class_path: lit_gen.models.GAN
      init_args:
        generator: {class_path: lit_gen.nets.DCGANGenerator, init_args: {base_channels: 64}}
        discriminator: {class_path: lit_gen.nets.DCGANDiscriminator, init_args: {norm: layer}}
        objective: lit_gen.losses.Wasserstein
        n_critic: 5
        gp_weight: 10.0
        optimizer_d: {class_path: torch.optim.Adam, init_args: {lr: 1.0e-4, betas: [0.0, 0.9]}}

**The step** reads like WGAN-GP's Algorithm 1 (arXiv:1704.00028): every batch is one critic
update on ``real`` and ``G(z)`` (detached); after every ``n_critic``-th critic update the
generator is updated on the same ``G(z)``, which is generated once per batch (with a graph only
when the generator steps). The critic and generator step counts are the module's own state
(``critic_steps``, ``generator_steps``), saved in checkpoints, so the ``n_critic`` cycle runs on
across epoch boundaries and through a resume exactly as in one uninterrupted run.

**Counting.** With two optimizers Lightning's ``trainer.global_step`` counts *optimizer* steps:
``critic_steps + generator_steps``, i.e. ``n_critic + 1`` per generator step (2 per batch for
``n_critic = 1``), and ``trainer.max_steps`` counts the same way. ``train/generator_step`` is
logged for plotting against generator iterations.

**Mechanics.** Schedulers are stepped by the module, every epoch or after every generator step
(``scheduler_interval``). Gradient clipping uses ``gradient_clip_val`` (the Trainer's own
``gradient_clip_val`` is refused by Lightning under manual optimization), applied in
``on_before_optimizer_step``, i.e. after AMP unscaling. Mixed precision works through
``manual_backward`` (``bf16-mixed`` is tested; with ``16-mixed`` the gradient penalties are
taken on unscaled fp16 scores, so prefer bf16 with ``gp_weight``/``r1_gamma``). Under DDP use
``strategy: ddp_find_unused_parameters_true``: each backward pass uses only one of the two
networks; plain ``ddp`` is refused with that advice. Each rank then draws its own noise (the
global seed plus the rank).

**EMA.** With ``ema_decay`` an exponential moving average of the generator's weights and buffers
(``torch.optim.swa_utils.AveragedModel``; Yazici et al., 2019, arXiv:1806.04498) is updated
after every generator step and used by :meth:`sample`, the image grids and the metrics. It is
held by the module rather than by Lightning's ``EMAWeightAveraging`` callback, which averages the
whole module (the discriminator too), updates per batch rather than per generator step, swaps
the weights back before lit-gen's image callbacks run, and lives on the CPU unless told a device.
``AveragedModel`` reads its update counter on the host once per generator step (one device
synchronization per generator step when the EMA is on).

*Ramp-up* (``ema_rampup``, default 0.05). ``AveragedModel``'s first update copies the generator,
so with a constant decay ``beta`` the weights after the first generator step, which are close to
the random initialization, keep the weight ``beta ** (T - 1)`` in the average after ``T`` steps:
9% for ``beta = 0.999`` after 2,400 steps (60 epochs of the 16 px digits), enough to ruin the
samples (digits FD 62.9 against 7.7 for the raw generator of the same run; 8.1 with the ramp-up;
benchmarks/RESULTS.md, "EMA generator: diagnosis"). As in StyleGAN2-ADA (Karras et al., 2020,
arXiv:2006.06676; ``ema_rampup`` of its official training loop) the half-life of the average is
capped at ``ema_rampup`` times the training so far: after ``t`` earlier updates the decay is
``min(beta, 0.5 ** (1 / (ema_rampup * t)))`` (:meth:`ema_decay_at`), so the average forgets its
start at the pace of the training. Once ``ema_rampup * t`` reaches ``beta``'s half-life
(``ln 0.5 / ln beta`` = 693 steps for 0.999, i.e. after 13,860 steps) the EMA is the plain one.
``ema_rampup: null`` gives the plain EMA from the first step.

*Batch-norm statistics* (``ema_bn_samples``, default 2,048). With ``use_buffers=True`` the EMA's
running means and variances are averages of the training generator's, i.e. statistics of other
weights than the averaged ones. Sampling therefore uses a copy of the EMA generator whose
statistics are recomputed from its own activations - the "standing statistics" of BigGAN (Brock
et al., 2019, arXiv:1809.11096, appendix C.1) and what ``torch.optim.swa_utils.update_bn`` does
for SWA (Izmailov et al., 2018, arXiv:1803.05407, section 3.2) - on ``ema_bn_samples`` fresh
``z`` (and balanced labels for the conditional GANs) drawn from a private ``torch.Generator``,
in training mode with ``momentum=None`` (:meth:`ema_with_recomputed_batch_norm`). The copy is a
cache, rebuilt after each EMA update when a sample is asked for; the EMA, the checkpoints and
the global random state stay as they are, so training and its exact resume do not depend on it.
Measured on the 16 px digits cGAN (same run): digits FD 4.56 -> 4.36 with the ramp-up, and
799 -> 16 without it. Without batch norm in the generator it does nothing.

**Checkpoints.** The CLI stores the networks and the objective as class paths, so its checkpoints
load with PyTorch's default ``weights_only=True``. A module built in Python stores the classes
themselves: resume it with ``trainer.fit(..., ckpt_path=..., weights_only=False)`` (trusted
files only).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim.swa_utils import AveragedModel

from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import AdversarialLoss, NonSaturating
from lit_gen.losses.penalties import clip_weights_, gradient_penalty, r1_penalty
from lit_gen.models.base import GenerativeModule
from lit_gen.models.ema import averaged, check_ema, rampup_decay, update_averaged
from lit_gen.nets.mlp import MLPDiscriminator, MLPGenerator

#: ``generator(latent_dim, data_shape) -> nn.Module`` mapping ``(N, latent_dim)`` to samples.
GeneratorFactory = Callable[[int, Sequence[int]], nn.Module]
#: ``discriminator(data_shape) -> nn.Module`` mapping samples to raw scores ``(N,)``.
DiscriminatorFactory = Callable[[Sequence[int]], nn.Module]

#: Adam as in DCGAN (Radford et al., 2016, section 4): the default of both optimizers.
DEFAULT_LR = 2e-4
DEFAULT_BETAS = (0.5, 0.999)


class GAN(GenerativeModule):
    """An unconditional GAN trained by manual optimization; variants are configurations.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked from the data module).
        latent_dim: size of ``z ~ N(0, I)``.
        generator: generator class, called as ``generator(latent_dim, data_shape)``
            (``None``: :class:`~lit_gen.nets.MLPGenerator`; not a class default, because
            jsonargparse would carry a default class's init_args, e.g. MLPGenerator's
            ``batch_norm: false``, over to the class a config names, omni-us/jsonargparse#460).
        discriminator: discriminator (critic) class, called as ``discriminator(data_shape)``;
            it returns one raw score per sample (a logit for probabilistic objectives)
            (``None``: :class:`~lit_gen.nets.MLPDiscriminator`).
        objective: the adversarial objective (``d_loss``, ``g_loss``).
        n_critic: critic updates per generator update (WGAN: 5).
        gp_weight: weight ``lambda`` of the WGAN-GP gradient penalty (0: off; the paper's 10).
        r1_gamma: ``gamma`` of the R1 penalty ``gamma / 2 * E||grad D(x)||^2`` on real data
            (Mescheder et al., 2018; 0: off).
        clip_value: clip every critic weight to ``[-c, c]`` after each critic update (WGAN:
            0.01; ``None``: off).
        ema_decay: decay of the generator's exponential moving average (e.g. 0.999; ``None``:
            no EMA). Sampling uses the average when it exists.
        ema_rampup: ramp-up of the EMA's half-life (see **EMA** above): the update after ``t``
            generator steps uses ``min(ema_decay, 0.5 ** (1 / (ema_rampup * t)))``
            (StyleGAN2-ADA's 0.05 by default; ``None``: ``ema_decay`` from the first step).
        ema_bn_samples: with batch norm in the generator, sample with the EMA's own batch-norm
            statistics, recomputed on this many fresh inputs (see **EMA** above; 0: use the
            running statistics averaged from the training generator's).
        gradient_clip_val: clip each network's gradient norm to this value before its update
            (``None``: off).
        optimizer_g: generator optimizer (``None``: Adam(lr=2e-4, betas=(0.5, 0.999))).
        optimizer_d: discriminator optimizer (``None``: the same Adam).
        lr_scheduler_g: optional generator scheduler.
        lr_scheduler_d: optional discriminator scheduler.
        scheduler_interval: step the schedulers every ``epoch`` or after every
            ``generator_step`` (the WGAN-GP / SN-GAN linear decays count generator steps).
        interpolation_rows: rows of the latent interpolation grids (linear and spherical)
            written with the image grids (0: none).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        latent_dim: int = 100,
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        objective: AdversarialLoss = NonSaturating(),
        n_critic: int = 1,
        gp_weight: float = 0.0,
        r1_gamma: float = 0.0,
        clip_value: float | None = None,
        ema_decay: float | None = None,
        gradient_clip_val: float | None = None,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        lr_scheduler_g: LRSchedulerCallable | None = None,
        lr_scheduler_d: LRSchedulerCallable | None = None,
        scheduler_interval: Literal["epoch", "generator_step"] = "epoch",
        interpolation_rows: int = 4,
        ema_rampup: float | None = 0.05,
        ema_bn_samples: int = 2048,
    ):
        super().__init__(data_shape, value_range)
        self.automatic_optimization = False
        self.save_hyperparameters(
            ignore=["optimizer_g", "optimizer_d", "lr_scheduler_g", "lr_scheduler_d"]
        )
        if latent_dim < 1 or n_critic < 1:
            raise ConfigurationError(
                f"latent_dim and n_critic must be >= 1, got {latent_dim} and {n_critic}"
            )
        if gp_weight < 0 or r1_gamma < 0:
            raise ConfigurationError(
                f"gp_weight and r1_gamma must be >= 0, got {gp_weight} and {r1_gamma}"
            )
        if clip_value is not None and clip_value <= 0:
            raise ConfigurationError(
                f"clip_value must be > 0 (or null for no clipping), got {clip_value}"
            )
        check_ema(ema_decay, ema_rampup)
        if ema_bn_samples < 0 or ema_bn_samples == 1:
            raise ConfigurationError(
                f"ema_bn_samples must be 0 (off) or >= 2 (batch statistics), got {ema_bn_samples}"
            )
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ConfigurationError(
                f"gradient_clip_val must be > 0 (or null), got {gradient_clip_val}"
            )
        if scheduler_interval not in ("epoch", "generator_step"):
            raise ConfigurationError(
                f"scheduler_interval must be 'epoch' or 'generator_step', got {scheduler_interval!r}"
            )
        if not isinstance(objective, AdversarialLoss):
            raise ConfigurationError(
                f"objective must be one of lit_gen.losses.adversarial's losses (Minimax, NonSaturating, "
                f"LeastSquares, Hinge, Wasserstein), got {objective!r}"
            )
        self.latent_dim = latent_dim
        self.objective = objective
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.r1_gamma = r1_gamma
        self.clip_value = clip_value
        self.gradient_clip_val = gradient_clip_val
        self.scheduler_interval = scheduler_interval
        self.interpolation_rows = interpolation_rows
        self.generator = (generator or MLPGenerator)(latent_dim, self.data_shape)
        self.discriminator = (discriminator or MLPDiscriminator)(self.data_shape)
        self.ema_decay = ema_decay
        self.ema_rampup = ema_rampup
        self.ema_bn_samples = ema_bn_samples
        # The EMA generator with recomputed batch-norm statistics: a cache, not module state (not
        # in checkpoints, not moved by .to()), rebuilt when the EMA, the step or the device changes.
        self._standing: tuple[tuple, nn.Module] | None = None
        self.generator_ema: AveragedModel | None = None
        if ema_decay is not None:
            self.generator_ema = averaged(self.generator, ema_decay)
        self.optimizer_g = optimizer_g
        self.optimizer_d = optimizer_d
        self.lr_scheduler_g = lr_scheduler_g
        self.lr_scheduler_d = lr_scheduler_d
        # Persistent step counts (saved in checkpoints): the n_critic cycle, not batch_idx.
        self.critic_steps = 0
        self.generator_steps = 0

    # -- sampling ----------------------------------------------------------------------------
    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``z ~ N(0, I)``, ``(n, latent_dim)``, on this module's device."""
        return self.latent_noise(n, self.latent_dim, generator)

    @property
    def sampling_generator(self) -> nn.Module:
        """The network used for samples and evaluation: the EMA generator when there is one
        (with batch norm and ``ema_bn_samples``, a copy of it with recomputed statistics)."""
        if self.generator_ema is None:
            return self.generator
        ema = self.generator_ema.module
        if not self.ema_bn_samples or not any(isinstance(m, _BatchNorm) for m in ema.modules()):
            return ema
        key = (id(ema), self.generator_steps, int(self.generator_ema.n_averaged), self.device)
        if self._standing is None or self._standing[0] != key:
            self._standing = (key, self.ema_with_recomputed_batch_norm())
        return self._standing[1]

    def generator_inputs(self, n: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        """Inputs of ``n`` generated samples for :meth:`ema_with_recomputed_batch_norm`: ``(z,)``."""
        return (self.noise(n, generator),)

    def ema_with_recomputed_batch_norm(self, batch_size: int = 256) -> nn.Module:
        """A copy of the EMA generator whose batch-norm running statistics are those of its own
        activations: the cumulative averages (``momentum=None``) of the batch means and variances
        over ``ema_bn_samples`` fresh inputs, in training mode, in ``ceil(ema_bn_samples /
        batch_size)`` batches of equal size (to within one: no batch of one sample).
        The noise comes from a private ``torch.Generator`` (seed 0), so the global random state,
        and with it the training and its exact resume, is untouched; the EMA itself is not
        modified. The copy is returned in evaluation mode, without gradients."""
        with torch.inference_mode(False), torch.no_grad():
            standing = copy.deepcopy(self.generator_ema.module)
            norms = [m for m in standing.modules() if isinstance(m, _BatchNorm)]
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # cumulative average over the batches
            standing.train()
            rng = torch.Generator(device=self.device).manual_seed(0)
            batches = math.ceil(self.ema_bn_samples / batch_size)
            for i in range(batches):
                n = self.ema_bn_samples // batches + (i < self.ema_bn_samples % batches)
                standing(*self.generator_inputs(n, rng))
            originals = [m for m in self.generator_ema.module.modules() if isinstance(m, _BatchNorm)]
            for norm, original in zip(norms, originals, strict=True):
                norm.momentum = original.momentum
        return standing.eval().requires_grad_(False)

    def forward(self, z: Tensor) -> Tensor:
        """``G(z)`` with the sampling generator (the EMA when enabled)."""
        return self.sampling_generator(z)

    @torch.no_grad()
    def sample(
        self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` samples ``G(z)``, ``z ~ N(0, I)`` (the EMA generator when enabled), in the
        data's range. ``generator`` makes the noise reproducible (fixed-noise grids)."""
        if labels is not None:
            raise ConfigurationError(
                "GAN is unconditional: call sample(n) without labels (use ConditionalGAN for labels)"
            )
        return self(self.noise(n, generator)).float()

    @staticmethod
    def latent_path(
        z_start: Tensor, z_end: Tensor, steps: int, mode: Literal["linear", "spherical"] = "linear"
    ) -> Tensor:
        """Points from each row of ``z_start`` to the same row of ``z_end`` (both
        ``(rows, latent_dim)``): ``(rows, steps, latent_dim)``, ``t`` evenly spaced in [0, 1].

        ``linear``: ``(1 - t) z0 + t z1``, the DCGAN paper's walk in latent space (Radford et
        al., 2016, section 6.1). ``spherical``: ``sin((1 - t) w) / sin(w) z0 + sin(t w) /
        sin(w) z1`` with ``cos(w) = <z0, z1> / (|z0| |z1|)`` (slerp; White, 2016,
        arXiv:1609.04468), which keeps the norm typical of a Gaussian ``z`` along the path.
        """
        if z_start.shape != z_end.shape or z_start.ndim != 2:
            raise ConfigurationError(
                f"z_start and z_end must both be (rows, latent_dim), got {tuple(z_start.shape)} and {tuple(z_end.shape)}"
            )
        if steps < 2:
            raise ConfigurationError(f"an interpolation needs steps >= 2, got {steps}")
        if mode not in ("linear", "spherical"):
            raise ConfigurationError(
                f"interpolation mode must be 'linear' or 'spherical', got {mode!r}"
            )
        z0, z1 = z_start[:, None], z_end[:, None]  # (rows, 1, d)
        t = torch.linspace(0, 1, steps, device=z_start.device, dtype=z_start.dtype)[None, :, None]
        path = (1 - t) * z0 + t * z1
        if mode == "spherical":
            cos = torch.nn.functional.cosine_similarity(z0, z1, dim=-1)[..., None].clamp(-1, 1)
            omega = torch.arccos(cos)
            sin = torch.sin(omega)
            safe = sin.abs() > 1e-6  # (anti)parallel endpoints: keep the straight line
            sin = torch.where(safe, sin, torch.ones_like(sin))
            slerp = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / sin
            path = torch.where(safe, slerp, path)
        return path

    @torch.no_grad()
    def interpolate(
        self,
        z_start: Tensor,
        z_end: Tensor,
        steps: int,
        mode: Literal["linear", "spherical"] = "linear",
    ) -> Tensor:
        """Samples along :meth:`latent_path` (the EMA generator when enabled):
        ``(rows * steps, ...)``, row by row."""
        path = self.latent_path(z_start.to(self.device), z_end.to(self.device), steps, mode)
        return self(path.flatten(0, 1)).float()

    def extra_images(
        self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Latent interpolation grids for :class:`~lit_gen.callbacks.ImageGrids`: the same
        ``interpolation_rows`` pairs of endpoints, walked linearly and spherically, each row
        ``len(images)`` steps long."""
        if len(self.data_shape) != 3 or self.interpolation_rows < 1 or len(images) < 2:
            return {}
        z_start = self.noise(self.interpolation_rows, generator)
        z_end = self.noise(self.interpolation_rows, generator)
        return {
            f"interpolation_{mode}": self.interpolate(z_start, z_end, len(images), mode)
            for mode in ("linear", "spherical")
        }

    # -- the objective -----------------------------------------------------------------------
    def discriminator_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The critic's loss on a batch: the objective's ``d_loss`` plus the enabled penalties.

        Returns the loss and its terms (detached) for logging: ``d_loss`` (the total),
        ``real_score`` and ``fake_score`` (mean raw scores; their difference estimates the
        Wasserstein distance for a WGAN critic), ``gp``, ``r1``.
        """
        if self.r1_gamma:
            real = real.detach().requires_grad_(True)
        real_scores = self.discriminator(real)
        fake_scores = self.discriminator(fake)
        loss = self.objective.d_loss(real_scores, fake_scores)
        terms = {
            "real_score": real_scores.detach().mean(),
            "fake_score": fake_scores.detach().mean(),
        }
        if self.gp_weight:
            gp = gradient_penalty(self.discriminator, real, fake)
            loss = loss + self.gp_weight * gp
            terms["gp"] = gp.detach()
        if self.r1_gamma:
            r1 = r1_penalty(real_scores, real)
            loss = loss + 0.5 * self.r1_gamma * r1
            terms["r1"] = r1.detach()
        terms["d_loss"] = loss.detach()
        return loss, terms

    def generator_loss(self, fake: Tensor) -> Tensor:
        """The objective's ``g_loss`` on the critic's scores of ``fake``."""
        return self.objective.g_loss(self.discriminator(fake))

    # -- training ----------------------------------------------------------------------------
    def update(self, optimizer, loss: Tensor) -> None:
        """One optimizer step on ``loss`` (gradients clipped in ``on_before_optimizer_step``)."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        """One critic update, and a generator update every ``n_critic``-th batch. Returns the
        losses of the updates made (``d_loss``, and ``g_loss`` on generator turns), detached, for
        :class:`~lit_gen.callbacks.NonFiniteLossGuard`."""
        real = batch[0]
        opt_g, opt_d = self.optimizers()
        generator_turn = (self.critic_steps + 1) % self.n_critic == 0
        with torch.set_grad_enabled(generator_turn):  # a graph through G only when G steps
            fake = self.generator(self.noise(len(real)))

        with self.toggled_optimizer(opt_d):  # critic: Algorithm 1, lines 2-9
            d_loss, terms = self.discriminator_loss(real, fake.detach())
            self.update(opt_d, d_loss)
            if self.clip_value is not None:  # WGAN, Algorithm 1, line 7
                clip_weights_(self.discriminator, self.clip_value)
        self.critic_steps += 1

        if generator_turn:  # generator: Algorithm 1, lines 11-12
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_loss(fake)
                self.update(opt_g, g_loss)
            self.generator_steps += 1
            terms["g_loss"] = g_loss.detach()
            self.update_ema()
            if self.scheduler_interval == "generator_step":
                self._step_schedulers()

        if self._logging_batch():
            self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=True, on_epoch=False)
            # A CPU tensor: logging the count costs no device transfer.
            self.log(
                "train/generator_step",
                torch.tensor(float(self.generator_steps)),
                on_step=True,
                on_epoch=False,
            )
        losses = {"d_loss": terms["d_loss"]}
        if generator_turn:
            losses["g_loss"] = terms["g_loss"]
        return losses

    def _logging_batch(self) -> bool:
        """Whether Lightning hands this batch's step metrics to the loggers (every
        ``trainer.log_every_n_steps`` batches). Each ``self.log`` call costs Lightning ~0.1-0.5 ms
        of Python, 5% of a small GAN step for six keys, so the per-step terms are logged only
        then: Lightning writes them after the batch that finds ``b`` batches done before it with
        ``(b + 2) % log_every_n_steps == 0`` (``_LoggerConnector.should_update_logs``, evaluated
        after the batch's increment; tested in tests/test_gan.py)."""
        every = self.trainer.log_every_n_steps
        done = self.trainer.fit_loop.epoch_loop._batches_that_stepped
        return every > 0 and ((done + 2) % every == 0 or self.trainer.fast_dev_run)

    def ema_decay_at(self, t: int) -> float:
        """The EMA decay of the update made after ``t + 1`` generator steps (``t`` earlier
        updates; the first, ``t = 0``, copies the generator): ``ema_decay``, or with
        ``ema_rampup`` the decay of half-life ``min(h, ema_rampup * t)`` steps, ``h`` being
        ``ema_decay``'s half-life ``ln 0.5 / ln ema_decay``, i.e.
        ``min(ema_decay, 0.5 ** (1 / (ema_rampup * t)))``."""
        if self.ema_decay is None:
            raise ConfigurationError("ema_decay_at needs ema_decay (this GAN has no EMA)")
        return rampup_decay(self.ema_decay, self.ema_rampup, t)

    def update_ema(self) -> None:
        """Fold the generator into its EMA (after a generator step; nothing without an EMA).
        The decay is computed on the host from the step count, so the ramp-up adds no device
        synchronization."""
        if self.generator_ema is None:
            return
        update_averaged(
            self.generator_ema, self.generator, self.ema_decay, self.ema_rampup, self.generator_steps - 1
        )

    def on_before_optimizer_step(self, optimizer) -> None:
        if self.gradient_clip_val is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm"
            )

    def _step_schedulers(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        if self.scheduler_interval == "epoch":
            self._step_schedulers()

    # -- evaluation --------------------------------------------------------------------------
    def _evaluate(self, batch, stage: str) -> None:
        """The game on held-out data: the objective's ``d_loss`` and ``g_loss`` and the mean
        scores of the current (not averaged) networks; sample quality is measured by the metric
        callbacks (mode coverage, FID) on :meth:`sample`."""
        real = batch[0]
        fake = self.generator(self.noise(len(real)))
        real_scores = self.discriminator(real)
        fake_scores = self.discriminator(fake)
        values = {
            "d_loss": self.objective.d_loss(real_scores, fake_scores),
            "g_loss": self.objective.g_loss(fake_scores),
            "real_score": real_scores.mean(),
            "fake_score": fake_scores.mean(),
        }
        self.log_epoch_metrics({f"{stage}/{k}": v for k, v in values.items()}, batch_size=len(real))

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    # -- optimizers, state, distributed ------------------------------------------------------
    def configure_optimizers(self):
        def default(params):
            return torch.optim.Adam(params, lr=DEFAULT_LR, betas=DEFAULT_BETAS)

        config = []
        for name, network, factory, scheduler in (
            ("generator", self.generator, self.optimizer_g, self.lr_scheduler_g),
            ("discriminator", self.discriminator, self.optimizer_d, self.lr_scheduler_d),
        ):
            optimizer = (factory or default)(network.parameters())
            entry: dict[str, Any] = {"optimizer": optimizer}
            if scheduler is not None:
                instance = scheduler(optimizer)
                if isinstance(instance, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    raise ConfigurationError(
                        "GAN steps its schedulers itself; ReduceLROnPlateau (which needs a metric) is not supported"
                    )
                interval = "step" if self.scheduler_interval == "generator_step" else "epoch"
                entry["lr_scheduler"] = {
                    "scheduler": instance,
                    "interval": interval,
                    "name": f"lr/{name}",
                }
            config.append(entry)
        return config

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_steps"] = {"critic": self.critic_steps, "generator": self.generator_steps}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._standing = None
        steps = checkpoint.get("gan_steps")
        if steps is not None:
            self.critic_steps = int(steps["critic"])
            self.generator_steps = int(steps["generator"])

    def setup(self, stage: str) -> None:
        strategy = self.trainer.strategy
        if stage == "fit" and isinstance(strategy, DDPStrategy):
            if not getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters", False):
                raise ConfigurationError(
                    "GAN updates the generator and the discriminator in separate backward passes, each "
                    "leaving the other network unused, which plain DDP rejects: use "
                    "trainer.strategy=ddp_find_unused_parameters_true"
                )

    def on_fit_start(self) -> None:
        if self.trainer.world_size > 1:
            # Every rank was seeded alike; without this all ranks would draw the same z.
            torch.manual_seed(torch.initial_seed() + self.global_rank)
