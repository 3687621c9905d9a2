"""CLIP (Radford et al., 2021): an image encoder and a text encoder that map pictures and their captions
into one space, where matching pairs lie close (trained by task=clip's symmetric InfoNCE)."""

import math

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn

from archtrain.catalog import option_file
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.blocks import PositionalEncoding, TransformerBlock
from archtrain.models.protocol import Head

MAX_SCALE = math.log(100)  # CLIP clips the learned inverse temperature at 100
TEXT_ENCODERS = ("transformer", "words")  # pre-norm blocks over the tokens, or their embeddings alone


def image_encoder_config(name: str, options: DictConfig | dict | None) -> DictConfig:
    """A zoo model's shipped config (without its defaults list) with `options` over it."""
    file = option_file("model", name)
    if not file.is_file():
        raise ArchtrainError(f"model.image_encoder={name}: no such model in the zoo (archtrain list models)")
    cfg = OmegaConf.load(file)
    cfg.pop("defaults", None)
    if "image" not in cfg.get("inputs", []):
        raise ArchtrainError(f"model.image_encoder={name} does not read images; pick an image model (resnet, vit...)")
    return OmegaConf.merge(cfg, options or {})


class CLIP(nn.Module):
    """Image features from any zoo image model's `features` (its own head dropped), and a pre-norm
    Transformer over caption tokens averaged over its non-pad positions (`text_encoder: words`: the token
    embeddings themselves averaged, a bag of words that composes by construction); each projected linearly to
    `embed_dim` and normalized. `temperature` is the softmax temperature the logit scale starts from
    (CLIP: 0.07); it is learned, as log(1/temperature), and capped at a scale of 100."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        vocab_size: int,
        seq_len: int,
        pad_id: int = 0,
        image_encoder: str = "resnet",
        image_encoder_options: DictConfig | dict | None = None,
        embed_dim: int = 32,
        text_width: int = 32,
        text_layers: int = 2,
        text_heads: int = 2,
        temperature: float = 0.07,
        text_encoder: str = "transformer",
    ):
        super().__init__()
        from archtrain.models import build_net  # the zoo's builder, which imports this module's package

        spec = DataSpec(in_channels=in_channels, image_size=image_size, in_features=in_channels * image_size**2)
        self.image = build_net(image_encoder_config(image_encoder, image_encoder_options), spec, Head(embed_dim))
        with torch.no_grad():
            probe = self.image.eval().features(torch.zeros(2, in_channels, image_size, image_size))
        self.image.train()
        self.image.head = nn.Identity()  # only its features are read
        self.image_projection = nn.Linear(probe.shape[1], embed_dim)
        self.pad_id, self.text_encoder = pad_id, text_encoder
        self.token = nn.Embedding(vocab_size, text_width)
        self.positions = PositionalEncoding("learned", seq_len, text_width, text_heads)
        self.blocks = nn.ModuleList(
            TransformerBlock(text_width, text_heads, ff_mult=2)
            for _ in range(text_layers if text_encoder == "transformer" else 0)
        )
        self.text_norm = nn.LayerNorm(text_width)
        self.text_projection = nn.Linear(text_width, embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, embed_dim) unit vectors; a feature map (SqueezeNet's) is averaged over its pixels first."""
        features = self.image.features(images)
        if features.ndim == 4:
            features = features.mean(dim=(2, 3))
        return F.normalize(self.image_projection(features), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, embed_dim) unit vectors for (batch, length) token ids."""
        keep = tokens != self.pad_id
        x = self.token(tokens)
        if self.text_encoder == "transformer":
            x = self.positions(x)
            for block in self.blocks:
                x = block(x, mask=keep[:, None, None, :])
        x = self.text_norm(x)
        pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1)
        return F.normalize(self.text_projection(pooled), dim=-1)

    def logit_scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=MAX_SCALE).exp()

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The (images, captions) similarity logits: scaled cosine similarities."""
        return self.logit_scale() * self.encode_image(images) @ self.encode_text(tokens).T
