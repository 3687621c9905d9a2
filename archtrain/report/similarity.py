"""An image-text similarity matrix as a picture: each image above its column, captions down the side."""

from pathlib import Path

import torch

from archtrain.report.samples import _pyplot


def plot_similarity(
    similarity: torch.Tensor, images: torch.Tensor, captions: list[str], path: Path, title: str
) -> Path:
    """`similarity` (captions x images) cosine similarities; `images` (n, C, H, W) in [0, 1], one per column."""
    plt = _pyplot()
    rows, columns = similarity.shape
    figure, ax = plt.subplots(figsize=(0.55 * columns + 3.5, 0.5 * rows + 1.6))
    shown = ax.imshow(similarity.cpu().numpy(), cmap="viridis", vmin=-1, vmax=1)
    for column, image in enumerate(images.cpu().float().clamp(0, 1)):
        picture = image.permute(1, 2, 0).numpy()
        ax.imshow(picture, extent=(column - 0.45, column + 0.45, -0.6, -1.5), interpolation="nearest")
    for row in range(rows):
        for column in range(columns):
            value = float(similarity[row, column])
            ax.text(
                column,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if value < 0.3 else "black",
            )
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(rows - 0.5, -1.6)
    ax.set_yticks(range(rows), captions, fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel("test images (above their columns)")
    figure.colorbar(shown, ax=ax, fraction=0.03, label="cosine similarity")
    ax.set_title(title, fontsize=9)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
