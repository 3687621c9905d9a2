"""Convolutional networks."""

import torch
from torch import nn

from archtrain.models.blocks import activation as make_activation


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998). Padding adapts the 32x32 design to 8x8 and 28x28 inputs."""

    def __init__(self, in_channels: int, image_size: int, num_classes: int, activation: str = "tanh",
                 pool: str = "avg", dropout: float = 0.0):
        super().__init__()
        pooling = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]
        pad1 = 0 if image_size >= 32 else 2              # the paper pads 28x28 MNIST to 32x32
        size = (image_size + 2 * pad1 - 4) // 2
        pad2 = 0 if size >= 14 else 2                    # keep small maps from vanishing
        size = (size + 2 * pad2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad1), make_activation(activation), pooling(2),
            nn.Conv2d(6, 16, 5, padding=pad2), make_activation(activation), pooling(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * size * size, 120), make_activation(activation), nn.Dropout(dropout),
            nn.Linear(120, 84), make_activation(activation), nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
