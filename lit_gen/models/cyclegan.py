"""CycleGAN: Zhu, Park, Isola & Efros (2017), "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", ICCV, arXiv:1703.10593.

Objective, eq. (3): ``L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) +
lambda_cycle * L_cyc(G, F)`` plus the identity term ``lambda_identity * lambda_cycle *
L_identity(G, F)`` (sec. 5.2; ``lambda_identity = 0.5`` as in the official code, where it scales
``lambda_cycle``), with the least-squares ``L_GAN`` of sec. 4 (G minimizes ``E[(D(G(x)) - 1)^2]``,
D minimizes half of ``E[(D(y) - 1)^2] + E[D(G(x))^2]``), ``lambda_cycle = 10``.

Names: ``gen_ab`` = G: X -> Y, ``gen_ba`` = F: Y -> X, ``disc_b`` = D_Y, ``disc_a`` = D_X,
with domain A = X and domain B = Y.

Training as the paper and official code (github.com/junyanz/pytorch-CycleGAN-and-pix2pix,
``models/cycle_gan_model.py``): ResNet generators (9 blocks at 256 px, 6 below), 70x70 PatchGAN
discriminators, instance norm, weights ~ N(0, 0.02), Adam(2e-4, 0.5, 0.999) for the two
generators together and for the two discriminators together, batch size 1; per batch one
generator step and then one discriminator step on fakes drawn from a history of 50 generated
images (:class:`ImagePool`, Shrivastava et al., 2017, arXiv:1612.07828); learning rate constant
for 100 epochs, then linearly decayed to zero over 100.

Batches are ``(real_a, real_b, ...)``: unaligned images of the two domains.

Departure from the paper, off by default: ``cycle_noise_std`` > 0 replaces the cycle term by the
*noisy* cycle of Bashkirova, Usman & Saenko (2019), "Adversarial Self-Defense for Cycle-Consistent
GANs", NeurIPS, arXiv:1908.01517 (its additive-noise defense): ``||F(G(a) + e) - a||_1 + ||G(F(b) + e') - b||_1``
with ``e, e' ~ N(0, cycle_noise_std^2)`` per pixel, so that a generator cannot pass the source
to the other one in low-amplitude patterns of its output (the "self-adversarial attack" of
Chu et al., 2017, arXiv:1712.02950) and the reconstruction must rest on what survives the noise.
The adversarial and identity terms are unchanged.

Also off by default: ``ema_decay`` keeps exponential moving averages of both generators' weights
(:mod:`lit_gen.models.ema`: ``AveragedModel``, Yazici et al., 2019, arXiv:1806.04498, with
StyleGAN2-ADA's half-life ramp-up ``ema_rampup``), updated after every generator step and used
for every translation (:meth:`CycleGAN.translate`: validation, metrics, image grids, ``predict``);
training uses the raw generators. The averages are submodules, so they travel in checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gen.errors import ConfigurationError
from lit_gen.losses.adversarial import AdversarialLoss
from lit_gen.losses.translation import (
    CycleGANLeastSquares,
    cycle_consistency_loss,
    identity_loss,
    l1_loss,
)
from lit_gen.models.base import GenerativeModule
from lit_gen.models.ema import averaged, check_ema, update_averaged
from lit_gen.models.image_translation import (
    LinearDecayTraining,
    linear_decay_schedulers,
    paper_adam,
)
from lit_gen.nets.patchgan import PatchGANDiscriminator, check_patchgan_size
from lit_gen.nets.resnet_translation import ResNetTranslationGenerator, default_resnet_blocks
from lit_gen.nets.translation_layers import check_norm, init_normal_

DIRECTIONS = ("AtoB", "BtoA")


class ImagePool:
    """A history of generated images for the discriminator (Shrivastava et al., 2017, sec. 2.3;
    CycleGAN sec. 4), as the official ``ImagePool``.

    ``query(images)``: while the pool holds fewer than ``pool_size`` images, each image is
    stored and returned as is. Once full, each image is, with probability 1/2, swapped for a
    uniformly chosen stored image (the stored one is returned, the new one takes its place);
    otherwise it is returned and the pool is unchanged. ``pool_size = 0`` disables the pool.

    The coin flips come from the pool's own CPU generator (seeded from torch's global generator
    on first use, saved by ``state_dict``), so no step waits on the GPU and resumed runs
    continue the same sequence.
    """

    def __init__(self, pool_size: int = 50):
        if pool_size < 0:
            raise ConfigurationError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: Tensor | None = None  # (pool_size, C, H, W), filled up to ``count``
        self.count = 0
        self.generator: torch.Generator | None = None

    def _rng(self) -> torch.Generator:
        if self.generator is None:
            seed = int(torch.randint(0, 2**62, (1,)))  # CPU draw from the seeded global generator
            self.generator = torch.Generator().manual_seed(seed)
        return self.generator

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """Images for the discriminator, one per input image, same shape as ``images``."""
        if self.pool_size == 0:
            return images
        images = images.detach()
        if self.images is None:
            self.images = torch.empty(
                self.pool_size, *images.shape[1:], dtype=images.dtype, device=images.device
            )
        elif (
            self.images.device != images.device
        ):  # restored from a checkpoint before the move to GPU
            self.images = self.images.to(images.device)
        rng = self._rng()
        out = []
        for image in images:
            if self.count < self.pool_size:  # filling: store and return the new image
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif float(torch.rand((), generator=rng)) > 0.5:  # swap with a stored image
                index = int(torch.randint(0, self.pool_size, (), generator=rng))
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out).to(images.dtype)

    def state_dict(self) -> dict:
        return {
            "pool_size": self.pool_size,
            "count": self.count,
            "images": None if self.images is None else self.images[: self.count].cpu(),
            "rng": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, state: dict, device: torch.device | None = None) -> None:
        self.count = min(int(state["count"]), self.pool_size)
        self.images = None
        if state["images"] is not None and self.count:
            stored = state["images"][: self.count]
            self.images = torch.empty(
                self.pool_size, *stored.shape[1:], dtype=stored.dtype, device=device
            )
            self.images[: self.count] = stored.to(device)
        self.generator = None
        if state["rng"] is not None:
            self.generator = torch.Generator()
            self.generator.set_state(state["rng"])


class CycleGAN(LinearDecayTraining, GenerativeModule):
    """Two generators and two discriminators trained with adversarial, cycle-consistency and
    identity losses on unpaired images. ``gen_ab`` = G (A -> B), ``gen_ba`` = F (B -> A),
    ``disc_b`` = D_Y (judges domain B), ``disc_a`` = D_X (judges domain A).

    Args:
        data_shape: ``(C, H, W)`` of the images of both domains (linked from the data module).
        value_range: range of the data (linked).
        ngf: generator width (64).
        ndf: discriminator width (64).
        n_blocks: residual blocks per generator; ``None``: 9 from 256 px up, 6 below (paper).
        n_layers: PatchGAN stride-2 layers (3: 70x70 patches).
        norm: ``instance`` (paper), ``batch`` or ``none``.
        dropout: dropout in the residual blocks (off in the paper).
        lambda_cycle: weight of the cycle-consistency loss (10).
        lambda_identity: weight of the identity loss relative to ``lambda_cycle`` (0.5, i.e. a
            weight of 5; 0 disables the term and its two generator passes).
        pool_size: generated images kept for the discriminators (50; 0 disables the pool).
        adversarial: the adversarial objective; ``None``: ``CycleGANLeastSquares`` (the paper's least squares).
        optimizer_g: optimizer factory of both generators; ``None``: Adam(2e-4, betas=(0.5, 0.999)).
        optimizer_d: optimizer factory of both discriminators; ``None``: the same Adam.
        n_epochs: epochs at the initial learning rate (100).
        n_epochs_decay: epochs of linear decay towards zero (100); set the trainer's
            ``max_epochs`` to ``n_epochs + n_epochs_decay``.
        init_std: standard deviation of the N(0, std) weight initialization (0.02).
        cycle_noise_std: standard deviation of the Gaussian noise added to ``G(a)`` and ``F(b)``
            before the cycle's second generator (0: the paper's cycle; > 0: the noisy cycle of
            Bashkirova et al., 2019, in the data's units, e.g. 0.1 on [-1, 1] images).
        ema_decay: decay of the generators' exponential moving averages, used for translation
            (e.g. 0.999; ``None``: no averages, translate with the trained weights).
        ema_rampup: ramp-up of the averages' half-life (:func:`lit_gen.models.ema.rampup_decay`;
            0.05 as StyleGAN2-ADA; ``None``: ``ema_decay`` from the first update).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        value_range: tuple[float, float] = (-1.0, 1.0),
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int | None = None,
        n_layers: int = 3,
        norm: Literal["batch", "instance", "none"] = "instance",
        dropout: bool = False,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        adversarial: AdversarialLoss | None = None,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        init_std: float = 0.02,
        cycle_noise_std: float = 0.0,
        ema_decay: float | None = None,
        ema_rampup: float | None = 0.05,
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["adversarial", "optimizer_g", "optimizer_d"])
        self.automatic_optimization = False
        if len(self.data_shape) != 3:
            raise ConfigurationError(
                f"CycleGAN translates images (C, H, W); got data_shape {self.data_shape}"
            )
        if lambda_cycle < 0 or lambda_identity < 0:
            raise ConfigurationError(
                f"lambda_cycle and lambda_identity must be >= 0, got {lambda_cycle} and {lambda_identity}"
            )
        if not cycle_noise_std >= 0:  # also refuses NaN
            raise ConfigurationError(f"cycle_noise_std must be >= 0, got {cycle_noise_std}")
        check_norm(norm)
        check_ema(ema_decay, ema_rampup)
        if ema_decay is not None and norm == "batch":
            raise ConfigurationError(
                "ema_decay with norm 'batch' is not supported: averaged running statistics do not "
                "belong to the averaged weights; use norm 'instance' (the paper's) or no EMA"
            )
        channels, height, width = self.data_shape
        side = min(height, width)
        if height % 4 or width % 4 or side < 8:
            raise ConfigurationError(
                f"the ResNet generator needs image sides divisible by 4 and at least 8 px; got {height}x{width}"
            )
        check_patchgan_size(side, n_layers)
        n_blocks = default_resnet_blocks(side) if n_blocks is None else n_blocks
        out = "tanh" if self.value_range[0] < 0 else "sigmoid"  # the data's range
        self.gen_ab = ResNetTranslationGenerator(
            channels, channels, ngf, n_blocks, norm, dropout, out
        )  # G
        self.gen_ba = ResNetTranslationGenerator(
            channels, channels, ngf, n_blocks, norm, dropout, out
        )  # F
        self.disc_a = PatchGANDiscriminator(channels, ndf, n_layers, norm)  # D_X
        self.disc_b = PatchGANDiscriminator(channels, ndf, n_layers, norm)  # D_Y
        for net in (self.gen_ab, self.gen_ba, self.disc_a, self.disc_b):
            init_normal_(net, init_std)
        self.adversarial = adversarial or CycleGANLeastSquares()
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.cycle_noise_std = cycle_noise_std
        self.ema_decay, self.ema_rampup = ema_decay, ema_rampup
        # EMAs of G and F (None without ema_decay): the networks translate() uses.
        self.gen_ab_ema = averaged(self.gen_ab, ema_decay) if ema_decay is not None else None
        self.gen_ba_ema = averaged(self.gen_ba, ema_decay) if ema_decay is not None else None
        self.pool_a = ImagePool(pool_size)  # past F(y), for D_X
        self.pool_b = ImagePool(pool_size)  # past G(x), for D_Y
        self.optimizer_g_factory = optimizer_g or paper_adam
        self.optimizer_d_factory = optimizer_d or paper_adam

    # -- the model ---------------------------------------------------------------------------
    def generator_for(self, direction: str) -> nn.Module:
        if direction not in DIRECTIONS:
            raise ConfigurationError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        return self.gen_ab if direction == "AtoB" else self.gen_ba

    def translation_network(self, direction: str) -> nn.Module:
        """The generator used to translate: its EMA when ``ema_decay`` is set, else itself."""
        net = self.generator_for(direction)
        ema = self.gen_ab_ema if net is self.gen_ab else self.gen_ba_ema
        return net if ema is None else ema.module

    def forward(self, images: Tensor, direction: str = "AtoB") -> Tensor:
        return self.translation_network(direction)(images)

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str = "AtoB") -> Tensor:
        """``G(a)`` (``AtoB``) or ``F(b)`` (``BtoA``) in the data's range, in eval mode, with the
        EMA generators when there are."""
        net = self.translation_network(direction)
        was_training = net.training
        net.eval()
        try:
            return net(images)
        finally:
            net.train(was_training)

    # -- the objective -----------------------------------------------------------------------
    def generator_loss(
        self, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor
    ) -> dict[str, Tensor]:
        """The generators' terms for ``fake_b = G(a)``, ``fake_a = F(b)``:
        ``g_gan_ab = E[(D_Y(G(a)) - 1)^2]``, ``g_gan_ba = E[(D_X(F(b)) - 1)^2]``,
        ``cycle = ||F(G(a)) - a||_1 + ||G(F(b)) - b||_1`` (with ``cycle_noise_std``, of the
        noised ``G(a) + e`` and ``F(b) + e'``), ``identity = ||F(a) - a||_1 + ||G(b) - b||_1`` and
        ``g_loss`` = the sum weighted by eq. (3) and sec. 5.2."""
        g_gan_ab = self.adversarial.g_loss(self.disc_b(fake_b))
        g_gan_ba = self.adversarial.g_loss(self.disc_a(fake_a))
        cycle = cycle_consistency_loss(
            real_a, self.gen_ba(self.cycle_noise(fake_b)), real_b, self.gen_ab(self.cycle_noise(fake_a))
        )
        g_loss = g_gan_ab + g_gan_ba + self.lambda_cycle * cycle
        terms = {"g_gan_ab": g_gan_ab, "g_gan_ba": g_gan_ba, "cycle": cycle}
        if self.lambda_identity > 0:
            identity = identity_loss(real_a, self.gen_ba(real_a), real_b, self.gen_ab(real_b))
            g_loss = g_loss + self.lambda_identity * self.lambda_cycle * identity
            terms["identity"] = identity
        terms["g_loss"] = g_loss
        return terms

    def cycle_noise(self, images: Tensor) -> Tensor:
        """``images + N(0, cycle_noise_std^2)`` per pixel (unchanged when the std is 0)."""
        if self.cycle_noise_std == 0:
            return images
        return images + self.cycle_noise_std * torch.randn_like(images)

    def discriminator_loss(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        """``1/2 E[(D(real) - 1)^2] + 1/2 E[D(fake)^2]`` for one discriminator."""
        return self.adversarial.d_loss(discriminator(real), discriminator(fake))

    def update(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        real_a, real_b = batch[0], batch[1]
        opt_g, opt_d = self.optimizers()
        fake_b = self.gen_ab(real_a)  # G(x)
        fake_a = self.gen_ba(real_b)  # F(y)

        with self.toggled_optimizer(opt_g):  # G, F: adversarial + lambda_cycle * cycle + identity
            terms = self.generator_loss(real_a, real_b, fake_a, fake_b)
            self.update(opt_g, terms["g_loss"])
        self.update_ema()

        with self.toggled_optimizer(opt_d):  # D_X, D_Y: real images vs fakes from the history
            d_loss_a = self.discriminator_loss(self.disc_a, real_a, self.pool_a.query(fake_a))
            d_loss_b = self.discriminator_loss(self.disc_b, real_b, self.pool_b.query(fake_b))
            self.update(opt_d, d_loss_a + d_loss_b)

        losses = {**terms, "d_loss_a": d_loss_a, "d_loss_b": d_loss_b}
        self.log_step_metrics({f"train/{k}": v for k, v in losses.items()})
        return losses  # read by NonFiniteLossGuard

    def update_ema(self) -> None:
        """Fold G and F into their EMAs (after each generator step; nothing without EMA). The
        ramp-up counts the earlier updates with ``AveragedModel.n_averaged`` (checkpointed)."""
        if self.gen_ab_ema is None:
            return
        t = int(self.gen_ab_ema.n_averaged)
        for ema, net in ((self.gen_ab_ema, self.gen_ab), (self.gen_ba_ema, self.gen_ba)):
            update_averaged(ema, net, self.ema_decay, self.ema_rampup, t)

    def _evaluate(self, batch, stage: str) -> None:
        real_a, real_b = batch[0], batch[1]
        fake_b, fake_a = self.translate(real_a, "AtoB"), self.translate(real_b, "BtoA")
        self.log_epoch_metrics(
            {
                f"{stage}/cycle_a": l1_loss(self.translate(fake_b, "BtoA"), real_a),
                f"{stage}/cycle_b": l1_loss(self.translate(fake_a, "AtoB"), real_b),
            },
            len(real_a),
        )

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx: int) -> dict:
        """Translate ``batch["real"]`` in ``batch["direction"]`` (default ``AtoB``)."""
        direction = batch.get("direction", ["AtoB"])
        direction = direction[0] if isinstance(direction, list | tuple) else direction
        return {"images": self.translate(batch["real"], direction), "names": batch["name"]}

    # -- evaluation protocol of lit_gen.callbacks.GenerativeMetrics (FID of translations) --------
    translation_directions = (("A", "B"), ("B", "A"))

    def translate_for_metrics(self, images: Tensor, direction: tuple[str, str]) -> Tensor:
        """Images of domain ``direction[0]`` translated to ``direction[1]``."""
        return self.translate(images, f"{direction[0]}to{direction[1]}")

    def extra_images(self, images: Tensor, others: Tensor, generator=None) -> dict[str, Tensor]:
        """Rows: a, G(a), F(G(a)), b, F(b), G(F(b)) (the first validation batch's images)."""
        fake_b = self.translate(images, "AtoB")
        fake_a = self.translate(others, "BtoA")
        return {
            "translations": torch.cat(
                [
                    images,
                    fake_b,
                    self.translate(fake_b, "BtoA"),
                    others,
                    fake_a,
                    self.translate(fake_a, "AtoB"),
                ]
            )
        }

    # -- checkpoints: the image histories travel with the weights ------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["image_pools"] = {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        pools = checkpoint.get("image_pools")
        if pools:
            self.pool_a.load_state_dict(pools["a"], self.device)
            self.pool_b.load_state_dict(pools["b"], self.device)

    def configure_optimizers(self):
        opt_g = self.optimizer_g_factory([*self.gen_ab.parameters(), *self.gen_ba.parameters()])
        opt_d = self.optimizer_d_factory([*self.disc_a.parameters(), *self.disc_b.parameters()])
        return [opt_g, opt_d], linear_decay_schedulers(
            [opt_g, opt_d], self.hparams.n_epochs, self.hparams.n_epochs_decay
        )
