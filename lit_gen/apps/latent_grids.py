"""Latent interpolation and attribute arithmetic grids.

* **Interpolation**: pairs of test images of different digits are encoded, the codes joined by a
  straight line (``(1 - t) z_a + t z_b``), and every point decoded: ``interpolation.png``, one
  row per pair, the two real images at the ends. For a GAN (no encoder) the endpoints are noise
  vectors, walked linearly and spherically (:meth:`~lit_gen.models.GAN.latent_path`). For a
  conditional GAN the noise is fixed and the label embedding moves from one class to another.
* **Attribute arithmetic** (the "smiling woman - neutral woman + neutral man" of Radford et al.,
  2016, section 6.3, on digits): the attribute is ``thick`` (ink mass above the class median,
  :class:`~lit_gen.data.DigitsAttributesDataModule`). Its direction is the mean code of thick
  training digits minus the mean code of thin ones (for a GAN: the mean noise of generated samples
  with more ink than the median of the samples of their digit minus that of the others, the digit
  given by the shipped digits classifier, or the requested one for a conditional GAN). Rows of
  ``arithmetic.png``: a test digit, then its code plus ``s`` times the direction for each
  ``--scales`` value (for a conditional GAN: the direction among samples of each requested digit,
  applied to fixed noise with the label kept). ``results.json`` records the mean ink mass of the decoded images per ``s``
  (it should grow with ``s``) and the fraction still classified as the same digit.
* For a 2-D code (e.g. ``configs/quickstart/aae_mixture.yaml``): ``codes.png``, the test codes
  coloured by digit over samples of the prior.

Works with every autoencoder, the VAE family (posterior means), adversarial autoencoders and, once
trained, GANs::

    python -m lit_gen.apps.latent_grids --config configs/quickstart/vae.yaml
    python -m lit_gen.apps.latent_grids --config configs/quickstart/autoencoder.yaml --ckpt_path runs/.../last.ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from lit_gen.apps.common import code_of, decode, split_tensors, trained, write_results  # noqa: E402
from lit_gen.data.digits import DigitsAttributesDataModule, ink_mass  # noqa: E402
from lit_gen.errors import ConfigurationError  # noqa: E402


def _grid(images: torch.Tensor, model, path: Path, nrow: int, min_side: int = 32) -> None:
    images = model.to_unit_range(images.float()).cpu()
    if images.shape[-1] < min_side:
        images = F.interpolate(images, scale_factor=-(-min_side // images.shape[-1]), mode="nearest")
    save_image(images, path, nrow=nrow, padding=2, pad_value=0.5)


def _classifier():
    """The shipped digits classifier, or None when it is not installed."""
    try:
        from lit_gen.metrics import load_digits_classifier
    except ImportError:
        return None
    return load_digits_classifier()


def _thickness_data(model) -> DigitsAttributesDataModule:
    size = model.data_shape[-1]
    data = DigitsAttributesDataModule(image_size=size, value_range=model.value_range)
    data.setup()
    return data


def _is_autoencoder(model) -> bool:
    return hasattr(model, "encode") and (hasattr(model, "decode") or hasattr(model, "decoder_output"))


def _is_gan(model) -> bool:
    return hasattr(model, "noise") and hasattr(model, "sample")


def needs_labels(model) -> bool:
    """Whether the model's encoder or decoder takes the label (conditional VAE, supervised AAE)."""
    if getattr(model, "conditioning", None) == "decoder":
        return True
    return hasattr(model, "reparameterize") and int(getattr(model, "num_classes", 0) or 0) > 0


@torch.no_grad()
def autoencoder_grids(model, data, out: Path, rows: int, steps: int, scales: list[float]) -> dict:
    images, labels = split_tensors(data, "test")
    images, labels = images.to(model.device), labels.to(model.device)
    # interpolation between the first test image of digit i and of digit (i + 5) % 10
    first = [int(torch.nonzero(labels == d)[0]) for d in range(10) if (labels == d).any()]
    pairs = [(first[i % len(first)], first[(i + len(first) // 2) % len(first)]) for i in range(rows)]
    a = torch.tensor([p[0] for p in pairs], device=model.device)
    b = torch.tensor([p[1] for p in pairs], device=model.device)
    if needs_labels(model):
        raise ConfigurationError(
            f"{type(model).__name__} decodes with a label: latent grids are drawn for autoencoders whose "
            f"code alone is decoded (its style-transfer grid is written with the image grids instead)"
        )
    z_a, z_b = code_of(model, images[a]), code_of(model, images[b])
    t = torch.linspace(0, 1, steps, device=model.device)[None, :, None]
    path = ((1 - t) * z_a[:, None] + t * z_b[:, None]).flatten(0, 1)
    decoded = decode(model, path).view(rows, steps, *model.data_shape)
    grid = torch.cat([images[a][:, None], decoded, images[b][:, None]], dim=1).flatten(0, 1)
    _grid(grid, model, out / "interpolation.png", steps + 2)

    # attribute arithmetic: thick - thin, on the training split's codes
    thickness = _thickness_data(model)
    train_images, train_attributes = thickness.train_set.tensors()
    train_codes = code_of(model, train_images.to(model.device))
    thick = train_attributes[:, 0].bool().to(model.device)
    direction = train_codes[thick].mean(0) - train_codes[~thick].mean(0)
    chosen = torch.tensor(first[:rows], device=model.device)
    z = code_of(model, images[chosen])
    outputs = torch.stack([decode(model, z + s * direction) for s in scales], dim=1)  # (rows, S, ...)
    _grid(torch.cat([images[chosen][:, None], outputs], dim=1).flatten(0, 1), model, out / "arithmetic.png", len(scales) + 1)

    # the same arithmetic on every test image, measured
    all_z = code_of(model, images)
    measured = []
    classifier = _classifier()
    for s in scales:
        shifted = decode(model, all_z + s * direction)
        row = {"scale": s, "ink_mass": float(ink_mass(shifted, model.value_range).mean())}
        if classifier is not None:
            row["same_digit"] = float((classifier.predict(shifted.cpu(), model.value_range) == labels.cpu()).float().mean())
        measured.append(row)
    results = {"kind": "autoencoder", "interpolation_pairs": [(int(labels[i]), int(labels[j])) for i, j in pairs],
               "direction_norm": float(direction.norm()), "arithmetic": measured}

    if train_codes.shape[1] == 2:  # a 2-D code: scatter of the test codes over prior samples
        test_codes = all_z.cpu()
        figure, axis = plt.subplots(figsize=(4.5, 4.5))
        if hasattr(model, "sample_prior"):
            prior = model.sample_prior(2000, generator=torch.Generator().manual_seed(0)).cpu()
            axis.scatter(prior[:, 0], prior[:, 1], s=2, c="lightgrey", label="prior samples")
        scatter = axis.scatter(test_codes[:, 0], test_codes[:, 1], s=6, c=labels.cpu(), cmap="tab10")
        axis.legend(*scatter.legend_elements(), title="digit", fontsize=7, loc="upper right", markerscale=0.8)
        axis.set_title("test codes")
        figure.tight_layout()
        figure.savefig(out / "codes.png", dpi=120)
        plt.close(figure)
    return results


@torch.no_grad()
def _direction(z: torch.Tensor, images: torch.Tensor, digits: torch.Tensor, value_range) -> torch.Tensor:
    """Mean ``z`` of thick samples minus mean ``z`` of thin ones, "thick" meaning more ink than
    the median of the generated samples of the same digit (a GAN's ink masses need not sit
    around the training split's medians), or a clear error."""
    masses = ink_mass(images, value_range).cpu()
    digits = digits.cpu()
    medians = torch.zeros(int(digits.max()) + 1)
    for d in digits.unique():
        medians[d] = masses[digits == d].median()
    thick = (masses > medians[digits]).to(z.device)
    if thick.all() or not thick.any():
        raise ConfigurationError(
            f"all {len(thick)} generated samples are {'thick' if thick.all() else 'thin'}: no attribute "
            f"direction to measure (train the GAN longer)"
        )
    return z[thick].mean(0) - z[~thick].mean(0)


@torch.no_grad()
def gan_grids(model, out: Path, rows: int, steps: int, scales: list[float], samples: int = 2000) -> dict:
    generator = torch.Generator().manual_seed(0)
    conditional = int(getattr(model, "num_classes", 0) or 0) > 0
    results: dict = {"kind": "conditional GAN" if conditional else "GAN"}
    z_start, z_end = model.noise(rows, generator), model.noise(rows, generator)
    if conditional:
        # fixed noise, label moved from class i to class i + 5 through the label embedding
        start = torch.arange(rows, device=model.device) % model.num_classes
        end = (start + 5) % model.num_classes
        grid = model.interpolate_labels(z_start, start, end, steps)
        _grid(grid, model, out / "interpolation.png", steps)
        z_grid = model.noise(rows, generator)
        per_class = torch.cat([model.generate(z_grid, torch.full((rows,), c, device=model.device)) for c in range(model.num_classes)])
        _grid(per_class.view(model.num_classes, rows, *model.data_shape).transpose(0, 1).flatten(0, 1), model,
              out / "classes.png", model.num_classes)
        results["interpolation"] = "label embedding, fixed noise"
        # attribute arithmetic in z at a fixed label: thick minus thin among samples of each
        # requested digit, judged against the median ink of the samples of that digit
        labels = torch.arange(samples, device=model.device) % model.num_classes
        z = model.noise(samples, generator)
        direction = _direction(z, model.generate(z, labels), labels, model.value_range)
        row_labels = torch.arange(rows, device=model.device) % model.num_classes
        outputs = torch.stack([model.generate(z_start + s * direction, row_labels) for s in scales], dim=1)
        _grid(outputs.flatten(0, 1), model, out / "arithmetic.png", len(scales))
        classifier = _classifier()
        measured = []
        for s in scales:
            shifted = model.generate(z[:500] + s * direction, labels[:500])
            row = {"scale": s, "ink_mass": float(ink_mass(shifted, model.value_range).mean())}
            if classifier is not None:
                row["same_digit"] = float((classifier.predict(shifted.cpu(), model.value_range) == labels[:500].cpu()).float().mean())
            measured.append(row)
        results.update(direction_norm=float(direction.norm()), arithmetic=measured)
        return results
    for mode in ("linear", "spherical"):
        _grid(model.interpolate(z_start, z_end, steps, mode), model, out / f"interpolation_{mode}.png", steps)
    classifier = _classifier()
    if classifier is None:
        raise ConfigurationError("GAN attribute arithmetic needs the digits classifier (lit_gen.metrics)")
    z = model.noise(samples, generator)
    images = model(z)
    digits = classifier.predict(images.cpu(), model.value_range)
    direction = _direction(z, images, digits, model.value_range)
    outputs = torch.stack([model(z_start + s * direction) for s in scales], dim=1)
    _grid(outputs.flatten(0, 1), model, out / "arithmetic.png", len(scales))
    measured = []
    for s in scales:
        shifted = model(z[:500] + s * direction)
        measured.append({"scale": s, "ink_mass": float(ink_mass(shifted, model.value_range).mean()),
                         "same_digit": float((classifier.predict(shifted.cpu(), model.value_range) == digits[:500]).float().mean())})
    results.update(direction_norm=float(direction.norm()), arithmetic=measured)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m lit_gen.apps.latent_grids", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/quickstart/vae.yaml", help="lit-gen config of the model (default: %(default)s)")
    parser.add_argument("--ckpt_path", default=None, help="weights of a trained run of that config (default: train it now)")
    parser.add_argument("--max_epochs", type=int, default=None, help="override the config's max_epochs when training")
    parser.add_argument("--rows", type=int, default=8, help="rows of each grid (default: 8)")
    parser.add_argument("--steps", type=int, default=8, help="interpolation points per row (default: 8)")
    parser.add_argument("--scales", type=float, nargs="+", default=[-2.0, -1.0, 0.0, 1.0, 2.0],
                        help="multiples of the attribute direction (default: -2 -1 0 1 2)")
    parser.add_argument("--set", action="append", default=[], metavar="ARG",
                        help="extra lit-gen argument for every training run, repeatable, e.g. --set=--config=configs/trainer/gpu.yaml")
    parser.add_argument("--out", default="runs/apps/latent_grids", help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, data = trained(args.config, args.ckpt_path, args.set, out / "run", args.max_epochs)
    if len(model.data_shape) != 3 or model.data_shape[0] != 1:
        raise ConfigurationError(f"latent grids are drawn for grey digit images, got data of shape {model.data_shape}")
    if _is_gan(model):
        results = gan_grids(model, out, args.rows, args.steps, args.scales)
    elif _is_autoencoder(model):
        results = autoencoder_grids(model, data, out, args.rows, args.steps, args.scales)
    else:
        raise ConfigurationError(f"{type(model).__name__} has neither an encoder/decoder nor a generator")
    results["config"] = args.config
    write_results(out, results)
    for row in results.get("arithmetic", []):
        print(f"s={row['scale']:+.1f}: mean ink mass {row['ink_mass']:.4f}" +
              (f", same digit {row['same_digit']:.3f}" if "same_digit" in row else ""))
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} and results.json to {out}")
    return results


if __name__ == "__main__":
    main()
