"""Class-conditional GANs: the conditional GAN and the auxiliary-classifier GAN.

Both are :class:`~lit_gen.models.GAN` with labels; only the step changes (the networks take or
predict the label), so everything else - objectives, ``n_critic``, penalties, EMA, schedulers,
checkpointed step counts - is the GAN's.

**Conditional GAN** (Mirza & Osindero, 2014, arXiv:1411.1784, eq. (2)):
``min_G max_D E_x[log D(x|y)] + E_z[log(1 - D(G(z|y)|y))]``. The generator gets ``[z, e(y)]``
(one-hot or learned embedding, :class:`~lit_gen.nets.conditional.ConditionalGenerator`); the
discriminator gets ``y`` by concatenation (``conditioning: concat``, section 4.1: ``x`` and ``y``
joined at the input; for images as constant one-hot feature maps) or by projection
(``conditioning: projection``, Miyato & Koyama, 2018, arXiv:1802.05637, eq. (3):
``D(x, y) = psi(phi(x)) + <V e_y, phi(x)>``). The generated batch uses the real batch's labels
(``fake_labels: data``, so ``D`` sees the data's label distribution on both sides) or uniform
labels (``uniform``).

**AC-GAN** (Odena, Olah & Shlens, 2017, arXiv:1610.09585, section 3, eqs. (2)-(3)): every
generated sample has a class ``c ~ p_c`` (uniform) and ``X_fake = G(c, z)``; the discriminator
has two heads, ``P(S | X)`` (source) and ``P(C | X)`` (class):

* ``L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]``
* ``L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]``

``D`` maximizes ``L_S + L_C``; ``G`` maximizes ``L_C - L_S``. As losses (minimized): ``D``:
``objective.d_loss(real, fake) + class_weight * (CE(real, y_real) + CE(fake, c)) / 2`` (lit-gen's
``d_loss`` averages its real and fake terms, i.e. is ``-L_S / 2``, so with ``class_weight = 1``
this is ``-(L_S + L_C) / 2``); ``G``: ``objective.g_loss(fake) + class_weight * CE(fake, c)``
(``-L_C`` on the fake batch plus the non-saturating form of ``L_S``'s fake term). The class loss is applied to real and fake for ``D``
(``class_loss_on_fake_for_d: false`` drops the fake term, a common variant) and to fake for ``G``.

Labels are class indices ``(N,)`` or class weights ``(N, K)`` (label interpolation); any other
shape is a :class:`~lit_gen.errors.ConfigurationError`. ``sample(n)`` without labels draws the
classes ``0, 1, ..., K-1, 0, ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import AdversarialLoss, NonSaturating
from lit_gen.losses.penalties import clip_weights_, gradient_penalty, r1_penalty
from lit_gen.models.base import GenerativeModule
from lit_gen.models.gan import GAN, DiscriminatorFactory, GeneratorFactory
from lit_gen.nets.conditional import (
    AuxiliaryClassifierDiscriminator,
    ConcatDiscriminator,
    ConditionalGenerator,
    Embedding,
    ProjectionDiscriminator,
    check_labels,
)
from lit_gen.nets.mlp import MLPDiscriminator, MLPGenerator

Conditioning = Literal["concat", "projection"]
FakeLabels = Literal["data", "uniform"]


class ConditionalGAN(GAN):
    """Conditional GAN: ``G(z, y)`` and ``D(x, y)``.

    Args (besides :class:`~lit_gen.models.GAN`'s, which keep their meaning):
        num_classes: ``K`` (must match the data module's).
        embedding: the generator's label code, ``onehot`` or ``learned``.
        embedding_dim: width of a learned embedding (default ``K``).
        conditioning: how ``D`` sees ``y``: ``concat`` or ``projection``.
        fake_labels: labels of the generated batch: ``data`` (the real batch's) or ``uniform``.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_classes: int = 10,
        latent_dim: int = 100,
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        embedding: Embedding = "onehot",
        embedding_dim: int | None = None,
        conditioning: Conditioning = "concat",
        fake_labels: FakeLabels = "data",
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
        if num_classes < 2:
            raise ConfigurationError(f"{type(self).__name__} needs num_classes >= 2, got {num_classes}")
        if conditioning not in ("concat", "projection"):
            raise ConfigurationError(f"conditioning must be 'concat' or 'projection', got {conditioning!r}")
        if fake_labels not in ("data", "uniform"):
            raise ConfigurationError(f"fake_labels must be 'data' or 'uniform', got {fake_labels!r}")
        generator = generator or MLPGenerator
        discriminator = discriminator or MLPDiscriminator

        def conditional_generator(latent: int, shape: Sequence[int]):
            return ConditionalGenerator(generator, latent, shape, num_classes, embedding, embedding_dim)

        super().__init__(
            data_shape, value_range, latent_dim, conditional_generator,
            self._discriminator_factory(discriminator, num_classes, conditioning), objective, n_critic, gp_weight,
            r1_gamma, clip_value, ema_decay, gradient_clip_val, optimizer_g, optimizer_d, lr_scheduler_g,
            lr_scheduler_d, scheduler_interval, interpolation_rows, ema_rampup=ema_rampup, ema_bn_samples=ema_bn_samples,
        )
        self.num_classes = num_classes
        self.conditioning = conditioning
        self.fake_labels = fake_labels

    @staticmethod
    def _discriminator_factory(discriminator: DiscriminatorFactory, num_classes: int, conditioning: str):
        if conditioning == "projection":
            return lambda shape: ProjectionDiscriminator(discriminator, shape, num_classes)
        return lambda shape: ConcatDiscriminator(discriminator, shape, num_classes)

    # -- labels and sampling -----------------------------------------------------------------
    def check_labels(self, labels: Tensor | None, n: int) -> Tensor:
        """Class indices ``(n,)`` or class weights ``(n, K)`` on this device, or a clear error
        (index values are checked on CPU tensors only: on a GPU it would synchronize)."""
        if labels is None:
            raise ConfigurationError(f"{type(self).__name__} needs labels (class indices of shape ({n},))")
        labels = check_labels(labels, n, self.num_classes)
        if labels.ndim == 1 and labels.device.type == "cpu" and len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ConfigurationError(f"labels must be class indices in [0, {self.num_classes - 1}]")
        return labels.to(self.device)

    def draw_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Uniform classes ``c ~ p_c``, ``(n,)``, on this device."""
        device = generator.device if generator is not None else self.device
        return torch.randint(0, self.num_classes, (n,), generator=generator, device=device).to(self.device)

    def fake_batch_labels(self, real_labels: Tensor) -> Tensor:
        return real_labels if self.fake_labels == "data" else self.draw_labels(len(real_labels))

    def generator_inputs(self, n: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        """``(z, y)`` with balanced classes ``y = 0, 1, ..., K-1, 0, ...`` (batch-norm statistics
        of the EMA generator)."""
        return self.noise(n, generator), torch.arange(n, device=self.device) % self.num_classes

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        """``G(z, y)`` with the sampling generator (the EMA when enabled)."""
        return self.sampling_generator(z, self.check_labels(labels, len(z)))

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor) -> Tensor:
        """``G(z, y)`` without gradients, in the data's range."""
        return self(z.to(self.device), labels).float()

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``G(z, y)``; ``labels`` default to ``0, 1, ..., K-1, 0, ...``."""
        if labels is None:
            labels = torch.arange(n, device=self.device) % self.num_classes
        return self(self.noise(n, generator), labels).float()

    @torch.no_grad()
    def interpolate(self, z_start: Tensor, z_end: Tensor, steps: int, mode: Literal["linear", "spherical"] = "linear",
                    labels: Tensor | None = None) -> Tensor:
        """Samples along :meth:`~lit_gen.models.GAN.latent_path` with a fixed label per row
        (default ``0, 1, ...``): ``(rows * steps, ...)``."""
        rows = len(z_start)
        labels = torch.arange(rows, device=self.device) % self.num_classes if labels is None else self.check_labels(labels, rows)
        path = self.latent_path(z_start.to(self.device), z_end.to(self.device), steps, mode)
        return self(path.flatten(0, 1), labels.repeat_interleave(steps, dim=0)).float()

    @torch.no_grad()
    def interpolate_labels(self, z: Tensor, start: Tensor, end: Tensor, steps: int) -> Tensor:
        """Fixed noise, the label moved from class ``start`` to class ``end`` through the label
        code (class weights ``(1 - t) onehot(start) + t onehot(end)``): ``(rows * steps, ...)``."""
        rows = len(z)
        one_start = F.one_hot(self.check_labels(start, rows).long(), self.num_classes).float()
        one_end = F.one_hot(self.check_labels(end, rows).long(), self.num_classes).float()
        t = torch.linspace(0, 1, steps, device=self.device)[None, :, None]
        weights = ((1 - t) * one_start[:, None] + t * one_end[:, None]).flatten(0, 1)
        return self(z.to(self.device).repeat_interleave(steps, dim=0), weights).float()

    def extra_images(self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """For :class:`~lit_gen.callbacks.ImageGrids`: ``classes`` (one row per class, the same
        noise along each column), ``label_interpolation`` (fixed noise per row, class ``i`` to
        ``i + 1``) and the GAN's latent interpolations with a fixed class per row."""
        if len(self.data_shape) != 3 or len(images) < 2:
            return {}
        n = len(images)
        z = self.noise(n, generator)
        grids = {"classes": torch.cat([self.generate(z, torch.full((n,), k, device=self.device)) for k in range(self.num_classes)])}
        if self.interpolation_rows >= 1:
            rows = self.interpolation_rows
            start = torch.arange(rows, device=self.device) % self.num_classes
            grids["label_interpolation"] = self.interpolate_labels(self.noise(rows, generator), start, (start + 1) % self.num_classes, n)
            z_start, z_end = self.noise(rows, generator), self.noise(rows, generator)
            for mode in ("linear", "spherical"):
                grids[f"interpolation_{mode}"] = self.interpolate(z_start, z_end, n, mode)
        return grids

    # -- the objective -----------------------------------------------------------------------
    def discriminator_loss(self, real: Tensor, fake: Tensor, real_labels: Tensor | None = None,
                           fake_labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``D``'s loss on ``(real, y_real)`` vs ``(fake, y_fake)``, plus the enabled penalties
        (the gradient penalty is taken on interpolates with the real batch's labels)."""
        real_labels = self.check_labels(real_labels, len(real))
        fake_labels = self.check_labels(fake_labels, len(fake))
        if self.r1_gamma:
            real = real.detach().requires_grad_(True)
        real_scores = self.discriminator(real, real_labels)
        fake_scores = self.discriminator(fake, fake_labels)
        loss = self.objective.d_loss(real_scores, fake_scores)
        terms = {"real_score": real_scores.detach().mean(), "fake_score": fake_scores.detach().mean()}
        if self.gp_weight:
            gp = gradient_penalty(lambda x: self.discriminator(x, real_labels), real, fake)
            loss = loss + self.gp_weight * gp
            terms["gp"] = gp.detach()
        if self.r1_gamma:
            r1 = r1_penalty(real_scores, real)
            loss = loss + 0.5 * self.r1_gamma * r1
            terms["r1"] = r1.detach()
        terms["d_loss"] = loss.detach()
        return loss, terms

    def generator_loss(self, fake: Tensor, fake_labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``G``'s loss on ``(fake, y_fake)`` and its terms."""
        loss = self.objective.g_loss(self.discriminator(fake, self.check_labels(fake_labels, len(fake))))
        return loss, {"g_loss": loss.detach()}

    # -- training ----------------------------------------------------------------------------
    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        """The GAN's step (see :class:`~lit_gen.models.GAN`) with labels: one critic update on
        ``(real, y)`` vs ``(G(z, y_fake), y_fake)``, a generator update after every ``n_critic``-th."""
        real, real_labels = batch[0], self.check_labels(batch[1], len(batch[0]))
        opt_g, opt_d = self.optimizers()
        fake_labels = self.fake_batch_labels(real_labels)
        generator_turn = (self.critic_steps + 1) % self.n_critic == 0
        with torch.set_grad_enabled(generator_turn):  # a graph through G only when G steps
            fake = self.generator(self.noise(len(real)), fake_labels)

        with self.toggled_optimizer(opt_d):
            d_loss, terms = self.discriminator_loss(real, fake.detach(), real_labels, fake_labels)
            self.update(opt_d, d_loss)
            if self.clip_value is not None:
                clip_weights_(self.discriminator, self.clip_value)
        self.critic_steps += 1

        if generator_turn:
            with self.toggled_optimizer(opt_g):
                g_loss, g_terms = self.generator_loss(fake, fake_labels)
                self.update(opt_g, g_loss)
            self.generator_steps += 1
            terms.update(g_terms)
            self.update_ema()
            if self.scheduler_interval == "generator_step":
                self._step_schedulers()

        if self._logging_batch():
            self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=True, on_epoch=False)
            self.log("train/generator_step", torch.tensor(float(self.generator_steps)), on_step=True, on_epoch=False)
        return {k: terms[k] for k in ("d_loss", "g_loss") if k in terms}

    def _evaluate(self, batch, stage: str) -> None:
        """The game on held-out data (no penalties): ``d_loss``, ``g_loss`` and mean scores."""
        real, real_labels = batch[0], self.check_labels(batch[1], len(batch[0]))
        fake_labels = self.fake_batch_labels(real_labels)
        fake = self.generator(self.noise(len(real)), fake_labels)
        real_scores = self.discriminator(real, real_labels)
        fake_scores = self.discriminator(fake, fake_labels)
        values = {
            "d_loss": self.objective.d_loss(real_scores, fake_scores), "g_loss": self.objective.g_loss(fake_scores),
            "real_score": real_scores.mean(), "fake_score": fake_scores.mean(),
        }
        self.log_epoch_metrics({f"{stage}/{k}": v for k, v in values.items()}, batch_size=len(real))

    def setup(self, stage: str) -> None:
        super().setup(stage)  # the GAN's DDP check
        GenerativeModule.setup(self, stage)  # data shape and num_classes against the data module


class ACGAN(ConditionalGAN):
    """AC-GAN: ``G(z, c)`` and a discriminator with a source head and a ``K``-way class head.

    Args (besides :class:`ConditionalGAN`'s; ``conditioning`` does not apply):
        class_weight: weight of the class loss ``L_C`` against the source loss (the paper: 1).
        class_loss_on_fake_for_d: include ``CE(D_class(X_fake), c)`` in ``D``'s loss (the
            paper's ``L_C``); ``false`` trains the class head on real data only.
        fake_labels: default ``uniform`` (the paper's ``c ~ p_c``).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_classes: int = 10,
        latent_dim: int = 100,
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        embedding: Embedding = "onehot",
        embedding_dim: int | None = None,
        conditioning: Conditioning = "concat",
        fake_labels: FakeLabels = "uniform",
        class_weight: float = 1.0,
        class_loss_on_fake_for_d: bool = True,
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
        if class_weight < 0:
            raise ConfigurationError(f"class_weight must be >= 0, got {class_weight}")
        super().__init__(
            data_shape, value_range, num_classes, latent_dim, generator, discriminator, embedding, embedding_dim,
            conditioning, fake_labels, objective, n_critic, gp_weight, r1_gamma, clip_value, ema_decay,
            gradient_clip_val, optimizer_g, optimizer_d, lr_scheduler_g, lr_scheduler_d, scheduler_interval,
            interpolation_rows, ema_rampup=ema_rampup, ema_bn_samples=ema_bn_samples,
        )
        self.class_weight = class_weight
        self.class_loss_on_fake_for_d = class_loss_on_fake_for_d

    @staticmethod
    def _discriminator_factory(discriminator: DiscriminatorFactory, num_classes: int, conditioning: str):
        return lambda shape: AuxiliaryClassifierDiscriminator(discriminator, shape, num_classes)

    def class_logits(self, x: Tensor) -> Tensor:
        """The auxiliary classifier's logits ``(N, K)``."""
        return self.discriminator(x)[1]

    def discriminator_loss(self, real: Tensor, fake: Tensor, real_labels: Tensor | None = None,
                           fake_labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``-(L_S + L_C) / 2`` in the objective's form: source loss on real vs fake plus
        ``class_weight * (CE(real, y_real) + CE(fake, c)) / 2``."""
        real_labels = self.check_labels(real_labels, len(real))
        fake_labels = self.check_labels(fake_labels, len(fake))
        if real_labels.ndim != 1 or fake_labels.ndim != 1:
            raise ConfigurationError("AC-GAN's class loss needs class indices (N,), not class weights")
        if self.r1_gamma:
            real = real.detach().requires_grad_(True)
        real_scores, real_logits = self.discriminator(real)
        fake_scores, fake_logits = self.discriminator(fake)
        source = self.objective.d_loss(real_scores, fake_scores)
        class_real = F.cross_entropy(real_logits, real_labels.long())
        class_fake = F.cross_entropy(fake_logits, fake_labels.long())
        # lit-gen's d_loss is the mean over the real and the fake half, -L_S / 2: the class
        # terms are halved alike, so that class_weight = 1 is the paper's -(L_S + L_C) / 2
        class_loss = 0.5 * (class_real + class_fake) if self.class_loss_on_fake_for_d else 0.5 * class_real
        loss = source + self.class_weight * class_loss
        terms = {
            "real_score": real_scores.detach().mean(), "fake_score": fake_scores.detach().mean(),
            "d_source": source.detach(), "d_class_real": class_real.detach(), "d_class_fake": class_fake.detach(),
            "d_class_accuracy": (real_logits.detach().argmax(1) == real_labels).float().mean(),
        }
        if self.gp_weight:
            gp = gradient_penalty(lambda x: self.discriminator(x)[0], real, fake)
            loss = loss + self.gp_weight * gp
            terms["gp"] = gp.detach()
        if self.r1_gamma:
            r1 = r1_penalty(real_scores, real)
            loss = loss + 0.5 * self.r1_gamma * r1
            terms["r1"] = r1.detach()
        terms["d_loss"] = loss.detach()
        return loss, terms

    def generator_loss(self, fake: Tensor, fake_labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``-(L_C - L_S)`` in the objective's form: ``g_loss(fake) + class_weight * CE(fake, c)``."""
        fake_labels = self.check_labels(fake_labels, len(fake))
        scores, logits = self.discriminator(fake)
        source = self.objective.g_loss(scores)
        class_fake = F.cross_entropy(logits, fake_labels.long())
        loss = source + self.class_weight * class_fake
        return loss, {"g_loss": loss.detach(), "g_source": source.detach(), "g_class": class_fake.detach()}

    def _evaluate(self, batch, stage: str) -> None:
        """Held-out source and class losses (no penalties) and the class head's accuracy on
        real data."""
        real, real_labels = batch[0], self.check_labels(batch[1], len(batch[0]))
        fake_labels = self.fake_batch_labels(real_labels)
        fake = self.generator(self.noise(len(real)), fake_labels)
        real_scores, real_logits = self.discriminator(real)
        fake_scores, fake_logits = self.discriminator(fake)
        values = {
            "d_source": self.objective.d_loss(real_scores, fake_scores), "g_source": self.objective.g_loss(fake_scores),
            "class_real": F.cross_entropy(real_logits, real_labels.long()),
            "class_fake": F.cross_entropy(fake_logits, fake_labels.long()),
            "class_accuracy_real": (real_logits.argmax(1) == real_labels).float().mean(),
            "class_accuracy_fake": (fake_logits.argmax(1) == fake_labels).float().mean(),
        }
        self.log_epoch_metrics({f"{stage}/{k}": v for k, v in values.items()}, batch_size=len(real))
