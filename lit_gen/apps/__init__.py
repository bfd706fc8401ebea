"""What autoencoders (and GANs) are used for: small, documented experiments on top of lit-gen
runs, each a ``python -m lit_gen.apps.<name>`` command with ``--help`` that writes its numbers
(``results.json``) and figures to an output directory.

* :mod:`~lit_gen.apps.finetune`: pre-train an autoencoder, fine-tune its encoder with 50 / 100
  labels, compare with the same classifier trained from scratch.
* :mod:`~lit_gen.apps.anomaly`: train on all digits but one, score the test split by
  reconstruction error (and -ELBO for the VAE), AUROC of the held-out digit.
* :mod:`~lit_gen.apps.latent_grids`: latent interpolation and attribute arithmetic grids.
* :mod:`~lit_gen.apps.denoising`: PSNR of a denoising autoencoder against the corrupted input
  and a PCA projection.
"""
