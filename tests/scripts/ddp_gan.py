"""Train a small WGAN-GP (n_critic = 2, generator EMA) on the ring with 2 CPU processes (gloo)
and save each rank's final parameters; run by tests/test_gan_ddp.py as
``python ddp_gan.py <output dir>`` (Lightning re-launches the script for rank 1)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import lightning as L
import torch

from lit_gen.data import Toy2DDataModule
from lit_gen.losses import Wasserstein
from lit_gen.models import GAN
from lit_gen.nets import MLPDiscriminator, MLPGenerator


def main(output: Path) -> None:
    torch.set_num_threads(1)
    L.seed_everything(0)
    model = GAN(
        data_shape=(2,),
        latent_dim=2,
        generator=partial(MLPGenerator, hidden=(32, 32), out_act="none"),
        discriminator=partial(MLPDiscriminator, hidden=(32, 32)),
        objective=Wasserstein(),
        n_critic=2,
        gp_weight=10.0,
        ema_decay=0.9,
    )
    data = Toy2DDataModule(
        kind="ring", num_samples=400, val_samples=40, test_samples=40, batch_size=20
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_find_unused_parameters_true",
        max_epochs=1,
        limit_train_batches=4,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    noise = model.noise(3)  # per-rank noise: must differ between ranks
    torch.save(
        {
            "state": state,
            "noise": noise.cpu(),
            "generator_steps": model.generator_steps,
            "critic_steps": model.critic_steps,
            "global_step": trainer.global_step,
            "world_size": trainer.world_size,
        },
        output / f"rank{trainer.global_rank}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
