"""Vision Transformer (Dosovitskiy et al., 2020)."""

import torch
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.blocks import PositionalEncoding, TransformerBlock, depth_rates
from archtrain.models.protocol import Network


class ViT(Network):
    """Cuts an image into patch_size x patch_size patches, embeds each linearly (a strided convolution),
    prepends a class token, and classifies from that token after pre-norm Transformer blocks."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        patch_size: int = 2,
        d_model: int = 64,
        num_layers: int = 4,
        num_heads: int = 4,
        ff_mult: int = 2,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        positions: str = "learned",
    ):
        super().__init__()
        if image_size % patch_size:
            raise ArchtrainError(
                f"model.patch_size={patch_size} does not divide the {image_size}x{image_size} "
                f"images into whole patches; pick a divisor of {image_size}"
            )
        self.patches = nn.Conv2d(in_channels, d_model, patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        # Learned positions start on the scale of the patch embeddings; at GPT's 0.02 they stay too small
        # to tell patches apart for much of a short run.
        self.positions = PositionalEncoding(
            positions, (image_size // patch_size) ** 2 + 1, d_model, num_heads, learned_std=0.3
        )
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, ff_mult, dropout, drop_path=rate, rotary=self.positions.rotary)
            for rate in depth_rates(drop_path, num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patches(images).flatten(2).transpose(1, 2)
        x = self.drop(self.positions(torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1)))
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 0])
