"""An image-text similarity matrix as a picture: images along the top, captions down the side."""

from pathlib import Path

import torch

from archtrain.report.samples import _pyplot, tile


def plot_similarity(
    similarity: torch.Tensor, images: torch.Tensor, captions: list[str], path: Path, title: str
) -> Path:
    """`similarity` (captions x images) cosine similarities; `images` (n, C, H, W) in [0, 1] over its columns."""
    plt = _pyplot()
    n = len(images)
    figure, (top, matrix) = plt.subplots(
        2, 1, figsize=(0.5 * n + 3.2, 0.5 * n + 1.6), gridspec_kw={"height_ratios": [1, n]}, sharex=False
    )
    top.imshow(tile(images.cpu().float().clamp(0, 1), n, pad=2, fill=1.0).numpy(), interpolation="nearest")
    top.set_axis_off()
    shown = matrix.imshow(similarity.cpu().numpy(), cmap="viridis", vmin=-1, vmax=1)
    for row in range(similarity.shape[0]):
        for column in range(similarity.shape[1]):
            matrix.text(
                column,
                row,
                f"{similarity[row, column]:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if similarity[row, column] < 0.3 else "black",
            )
    matrix.set_yticks(range(len(captions)), captions, fontsize=8)
    matrix.set_xticks([])
    matrix.set_xlabel("test images (above)")
    figure.colorbar(shown, ax=matrix, fraction=0.03, label="cosine similarity")
    top.set_title(title, fontsize=9)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
