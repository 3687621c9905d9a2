"""Grids of small images: samples a generative task drew, the filters a network learned."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def mosaic(images: torch.Tensor, columns: int, pad: int = 1, fill: float = float("nan")) -> torch.Tensor:
    """(n, channels, height, width) images tiled into one (height', width', channels) picture, `pad`
    pixels of `fill` between them."""
    n, channels, height, width = images.shape
    rows = -(-n // columns)
    canvas = torch.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), fill)
    for i, image in enumerate(images):
        top, left = pad + (i // columns) * (height + pad), pad + (i % columns) * (width + pad)
        canvas[top : top + height, left : left + width] = image.permute(1, 2, 0)
    return canvas


def image_grid(images: torch.Tensor, out: Path, title: str, columns: int = 10, signed: bool = False) -> Path:
    """Save (n, channels, height, width) images as one grid PNG: grey for one channel; `signed`
    centres a red-blue colour scale on 0 (filters), otherwise [0, 1] (pixels)."""
    images = images.detach().float().cpu()
    picture = mosaic(images, columns)
    limit = images.abs().max().item() if signed else 1.0
    figure, ax = plt.subplots(figsize=(columns * 0.5, picture.shape[0] / picture.shape[1] * columns * 0.5 + 0.4))
    shown = picture[..., 0] if picture.shape[-1] == 1 else picture.clamp(0, 1)
    ax.imshow(
        shown.numpy(),
        cmap="RdBu_r" if signed else "gray",
        vmin=-limit if signed else 0,
        vmax=limit,
        interpolation="nearest",
    )
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=80)
    plt.close(figure)
    return out
