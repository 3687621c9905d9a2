"""Convolutional networks: for images, and for sequences (causal, dilated)."""

import torch
from torch import nn

from archtrain.models.blocks import activation as make_activation
from archtrain.models.blocks import sequence_input
from archtrain.models.protocol import Network
from archtrain.models.vision.conv_blocks import ImageClassifier


class LeNet5(ImageClassifier):
    """LeNet-5 (LeCun et al., 1998). Padding adapts the 32x32 design to 8x8 and 28x28 inputs."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        activation: str = "tanh",
        pool: str = "avg",
        dropout: float = 0.0,
    ):
        super().__init__()
        pooling = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]
        pad1 = 0 if image_size >= 32 else 2  # the paper pads 28x28 MNIST to 32x32
        size = (image_size + 2 * pad1 - 4) // 2
        pad2 = 0 if size >= 14 else 2  # keep small maps from vanishing
        size = (size + 2 * pad2 - 4) // 2
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad1),
            make_activation(activation),
            pooling(2),
            nn.Conv2d(6, 16, 5, padding=pad2),
            make_activation(activation),
            pooling(2),
        )
        self.pre_logits = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * size * size, 120),
            make_activation(activation),
            nn.Dropout(dropout),
            nn.Linear(120, 84),
            make_activation(activation),
            nn.Dropout(dropout),
        )
        self.head = nn.Linear(84, num_classes)


class CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection (Bai, Kolter & Koltun, 2018)."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def _causal(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        return conv(nn.functional.pad(x, (self.pad, 0)))  # pad the past only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(torch.relu(self._causal(self.conv1, x)))
        y = self.drop(torch.relu(self._causal(self.conv2, y)))
        return torch.relu(x + y)


class TCN(Network):
    """Temporal convolutional network (Bai, Kolter & Koltun, 2018): dilations 1, 2, 4, ... give a
    receptive field of 1 + 2 (kernel_size - 1)(2^levels - 1) steps. Reads and predicts like RecurrentNet:
    token ids with `vocab_size`, else (batch, time, in_features) values; `num_classes` outputs at every
    step with `per_step`, else from the last step."""

    def __init__(
        self,
        num_classes: int,
        channels: int = 64,
        levels: int = 4,
        kernel_size: int = 3,
        dropout: float = 0.0,
        per_step: bool = False,
        in_features: int | None = None,
        vocab_size: int | None = None,
    ):
        super().__init__()
        self.per_step = per_step
        self.embed = sequence_input(channels, in_features, vocab_size)
        self.blocks = nn.Sequential(*(CausalBlock(channels, kernel_size, 2**i, dropout) for i in range(levels)))
        self.head = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        states = self.blocks(self.embed(x).transpose(1, 2)).transpose(1, 2)
        return states if self.per_step else states[:, -1]
