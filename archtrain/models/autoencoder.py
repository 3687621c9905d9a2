"""Autoencoders (Hinton & Salakhutdinov, 2006) and variational autoencoders (Kingma & Welling, 2014): an
encoder maps an example to a code, a decoder maps a code back to an example. The `reconstruct` and `vae`
tasks train them; as zoo Networks their features are the code (its mean for a VAE), which a linear head
reads, so `task=classify` trains a classifier on the code."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.models.feedforward import MLP
from archtrain.models.protocol import Network
from archtrain.models.vision.conv_blocks import ConvNormAct, FeatureMap


class Autoencoder(Network):
    """`down` maps inputs to a flat vector, `to_code` that vector (and a one-hot class, when conditional)
    to the code, or to its mean and log-variance when `variational`; `from_code` maps a code (and class)
    back to a vector and `up` that vector to the inputs' shape. Subclasses build the four."""

    down: nn.Module
    to_code: nn.Module
    from_code: nn.Module
    up: nn.Module

    def __init__(
        self,
        in_features: int,
        code_size: int,
        num_classes: int,
        variational: bool,
        conditional: bool,
        in_channels: int | None = None,
        image_size: int | None = None,
    ):
        super().__init__()
        self.shape = (in_channels, image_size, image_size) if image_size else (in_features,)
        self.code_size, self.variational = code_size, variational
        self.classes = num_classes if conditional else 0  # one-hot inputs to both halves
        self.code_outputs = 2 * code_size if variational else code_size
        self.head = nn.Linear(code_size, num_classes)

    def _with_class(self, vector: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.classes:
            return vector
        one_hot = (
            F.one_hot(labels, self.classes).to(vector.dtype)
            if labels is not None
            else vector.new_zeros(len(vector), self.classes)
        )
        return torch.cat([vector, one_hot], dim=1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The code (mean, log-variance) of a VAE; (code, None) of a plain autoencoder."""
        out = self.to_code(self._with_class(self.down(x), labels))
        return tuple(out.chunk(2, dim=1)) if self.variational else (out, None)

    def decode(self, code: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Examples in the inputs' shape: the decoder's raw outputs (means, or Bernoulli logits for a VAE
        whose task says so)."""
        return self.up(self.from_code(self._with_class(code, labels))).view(len(code), *self.shape)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]


class MLPAutoencoder(Autoencoder):
    """Encoder and decoder are MLPs with `depth` hidden layers of `width` units, mirror images of each other."""

    def __init__(
        self,
        in_features: int,
        num_classes: int = 1,
        code_size: int = 8,
        depth: int = 2,
        width: int = 256,
        activation: str = "relu",
        variational: bool = False,
        conditional: bool = False,
        in_channels: int | None = None,
        image_size: int | None = None,
    ):
        super().__init__(in_features, code_size, num_classes, variational, conditional, in_channels, image_size)
        self.down, self.up = nn.Flatten(), nn.Identity()
        self.to_code = MLP(in_features + self.classes, self.code_outputs, depth, width, activation)
        self.from_code = MLP(code_size + self.classes, in_features, depth, width, activation)


class ConvAutoencoder(Autoencoder):
    """Convolutional: `stages` stride-2 ConvNormAct stages (channels doubling from `channels`, while the map
    stays 2 px wide) and a linear layer to the code; the decoder mirrors them, upsampling to each stage's
    exact size before its convolution (so odd sizes such as MNIST's 7 px come back), then a 3x3
    convolution to the image's channels."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        in_features: int,
        num_classes: int = 1,
        code_size: int = 8,
        channels: int = 32,
        stages: int = 2,
        variational: bool = False,
        conditional: bool = False,
    ):
        super().__init__(in_features, code_size, num_classes, variational, conditional, in_channels, image_size)
        feature_map, sizes, widths = FeatureMap(image_size), [image_size], [in_channels]
        down = []
        for stage in range(stages):
            stride = feature_map.stride()
            down.append(ConvNormAct(widths[-1], channels * 2**stage, 3, stride))
            sizes.append(feature_map.size)
            widths.append(channels * 2**stage)
        flat = widths[-1] * sizes[-1] ** 2
        self.down = nn.Sequential(*down, nn.Flatten())
        self.to_code = nn.Linear(flat + self.classes, self.code_outputs)
        self.from_code = nn.Sequential(
            nn.Linear(code_size + self.classes, flat), nn.ReLU(), nn.Unflatten(1, (widths[-1], sizes[-1], sizes[-1]))
        )
        up = []
        for stage in reversed(range(stages)):
            up += [nn.Upsample(size=sizes[stage]), ConvNormAct(widths[stage + 1], max(widths[stage], channels), 3)]
        self.up = nn.Sequential(*up, nn.Conv2d(max(widths[0], channels), in_channels, 3, padding=1))
