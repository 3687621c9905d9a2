"""Pictures of generated examples and learned weights: image grids (samples, reconstructions beside
their inputs, latent interpolations, filters) and 2-D samples scattered over the data. Matplotlib with
the Agg backend, small PNGs."""

import math
from pathlib import Path

import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tile(images: torch.Tensor, columns: int, pad: int = 1, fill: float = 0.5) -> torch.Tensor:
    """(n, C, H, W) images as one (H', W', C) picture, `columns` to a row, `pad` pixels of `fill` between
    them (grey by default; NaN shows as blank)."""
    n, channels, height, width = images.shape
    rows = -(-n // columns)
    sheet = torch.full((channels, rows * (height + pad) + pad, columns * (width + pad) + pad), fill)
    for index, image in enumerate(images):
        top, left = pad + (index // columns) * (height + pad), pad + (index % columns) * (width + pad)
        sheet[:, top : top + height, left : left + width] = image
    return sheet.permute(1, 2, 0)


def image_rows(rows: list[tuple[str, torch.Tensor]], path: Path, title: str = "") -> Path:
    """Labelled sets of images in [0, 1], each (n, C, H, W), the label on the left: one set as a near-square
    grid (samples), several as one line each (inputs above their reconstructions)."""
    plt = _pyplot()
    columns = max(len(images) for _, images in rows) if len(rows) > 1 else math.ceil(math.sqrt(len(rows[0][1])))
    pictures = [(label, tile(images.detach().float().cpu().clamp(0, 1), columns).numpy()) for label, images in rows]
    heights = [picture.shape[0] for _, picture in pictures]
    width = min(12.0, 0.4 * columns + 1)
    height = width * sum(heights) / pictures[0][1].shape[1] + 0.3 * len(rows)
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(width, height), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for ax, (label, picture) in zip(axes[:, 0], pictures):
        ax.imshow(
            picture.squeeze(-1) if picture.shape[-1] == 1 else picture,
            cmap="gray",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def image_grid(images: torch.Tensor, out: Path, title: str, columns: int = 10, signed: bool = False) -> Path:
    """(n, C, H, W) images as one grid PNG: grey for one channel; `signed` centres a red-blue colour
    scale on 0 (filters), otherwise [0, 1] (pixels)."""
    plt = _pyplot()
    images = images.detach().float().cpu()
    picture = tile(images, columns, fill=float("nan"))
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


def scatter(samples: torch.Tensor, data: torch.Tensor, path: Path, title: str = "", centres: tuple = ()) -> Path:
    """2-D samples (orange) over real points (grey), the modes' centres marked where known."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    data, samples = data.detach().float().cpu().numpy(), samples.detach().float().cpu().numpy()
    ax.scatter(data[:, 0], data[:, 1], s=3, c="0.7", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:orange", alpha=0.7, label="samples")
    if centres:
        ax.scatter(*zip(*centres), marker="x", s=20, c="k", linewidths=0.8, label="modes")
    span = abs(data).max() * 1.3
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
