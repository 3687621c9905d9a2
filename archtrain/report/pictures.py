"""Grids of small images: samples a generative task drew, the filters a network learned."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def image_grid(images: torch.Tensor, out: Path, title: str, columns: int = 10, signed: bool = False) -> Path:
    """Save (n, channels, height, width) images as one grid PNG: grey for one channel; `signed`
    centres the colour scale on 0 (filters), otherwise [0, 1] (pixels)."""
    images = images.detach().float().cpu()
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.6, rows * 0.6 + 0.4), squeeze=False)
    limit = images.abs().max().item() if signed else 1.0
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, images):
        picture = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0).clamp(0, 1)
        ax.imshow(picture, cmap="RdBu_r" if signed else "gray", vmin=-limit if signed else 0, vmax=limit)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=80)
    plt.close(figure)
    return out
