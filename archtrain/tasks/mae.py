"""Masked autoencoders (He et al., 2021) for the ViT: a random 75% of the patches are hidden, the
encoder sees only the rest (with their positions), and a light Transformer decoder fills mask tokens in
at the hidden places and predicts their pixels; the loss is the mean squared error on hidden patches
(with `norm_pix_loss`, on each patch's pixels standardized by that patch's own mean and std, the paper's
better target)."""

from pathlib import Path

import torch
from hydra.utils import get_class
from torch import nn

from archtrain.models.blocks import TransformerBlock, sinusoidal_positions
from archtrain.models.vit import ViT
from archtrain.report.samples import image_rows
from archtrain.tasks.self_supervised import SelfSupervised

PICTURE_IMAGES = 12


def patchify(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, H, W) -> (n, patches, size * size * C), patches in the ViT's row-major order."""
    n, channels, height, width = images.shape
    grid = images.reshape(n, channels, height // size, size, width // size, size)
    return grid.permute(0, 2, 4, 3, 5, 1).reshape(n, (height // size) * (width // size), size * size * channels)


def unpatchify(patches: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """The inverse of `patchify` for square images."""
    n, count, _ = patches.shape
    side = int(count**0.5)
    grid = patches.reshape(n, side, side, size, size, channels).permute(0, 5, 1, 3, 2, 4)
    return grid.reshape(n, channels, side * size, side * size)


def patch_statistics(patches: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Each patch's pixel mean and standard deviation (n, patches, 1): the norm_pix_loss target's scale."""
    return patches.mean(-1, keepdim=True), (patches.var(-1, keepdim=True) + eps).sqrt()


class MAE(SelfSupervised):
    """`mask_ratio` of the patches hidden per image (drawn anew each step); the decoder: `decoder_layers`
    Transformer blocks of width `decoder_dim` with fixed sinusoidal positions; `norm_pix_loss`: predict
    each patch standardized by its own statistics. `embedding_std` is the
    spread of the class token's features; probe_acc and knn_acc read the full image's features."""

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        model = cfg.model
        if not issubclass(get_class(model._target_), ViT):
            found.append(f"task=mae masks the patches of a ViT, and model={model.name} is not one (use model=vit)")
        elif model.get("positions") == "rotary":
            found.append("task=mae adds positions to the visible patches; model.positions=rotary cannot: use learned")
        if not 0 < cfg.task.mask_ratio < 1:
            found.append(f"task.mask_ratio={cfg.task.mask_ratio}: hide a share of the patches between 0 and 1")
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        mask_ratio: float = 0.75,
        decoder_dim: int = 64,
        decoder_layers: int = 1,
        decoder_heads: int = 4,
        probe_every: int = 5,
        norm_pix_loss: bool = False,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, probe_every)
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.patch_size = net.patches.kernel_size[0]
        self.patch_count = (spec.image_size // self.patch_size) ** 2
        d_model = net.cls.shape[-1]
        self.decoder_embed = nn.Linear(d_model, decoder_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, decoder_dim) * 0.02)
        self.register_buffer(
            "decoder_positions", sinusoidal_positions(self.patch_count + 1, decoder_dim), persistent=False
        )
        self.decoder = nn.ModuleList(TransformerBlock(decoder_dim, decoder_heads, 2) for _ in range(decoder_layers))
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.to_pixels = nn.Linear(decoder_dim, self.patch_size**2 * spec.in_channels)

    def heads(self):
        return [
            self.decoder_embed,
            self.decoder,
            self.decoder_norm,
            self.to_pixels,
            nn.ParameterList([self.mask_token]),
        ]

    def hide(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Each image's patch indices in a random order: the first (1 - mask_ratio) share stays visible."""
        return torch.rand(n, self.patch_count, generator=generator, device=self.device).argsort(1)

    def encode_visible(self, images: torch.Tensor, order: torch.Tensor, visible: int) -> torch.Tensor:
        """The ViT's tokens (class token first) from the class token and the `visible` first patches of `order`."""
        vit = self.net
        tokens = vit.patches(images).flatten(2).transpose(1, 2)
        tokens = vit.positions(torch.cat([vit.cls.expand(len(tokens), -1, -1), tokens], dim=1))
        kept = tokens[:, 1:].gather(1, order[:, :visible, None].expand(-1, -1, tokens.shape[-1]))
        x = vit.drop(torch.cat([tokens[:, :1], kept], dim=1))
        for block in vit.blocks:
            x = block(x)
        return vit.norm(x)

    def decode(self, encoded: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """Predicted pixels of every patch (n, patches, pixels per patch), mask tokens in the hidden places."""
        x = self.decoder_embed(encoded)
        n, visible = len(x), x.shape[1] - 1
        shuffled = torch.cat([x[:, 1:], self.mask_token.expand(n, self.patch_count - visible, -1)], dim=1)
        patches = shuffled.gather(1, order.argsort(1)[:, :, None].expand(-1, -1, x.shape[-1]))
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_positions
        for block in self.decoder:
            x = block(x)
        return self.to_pixels(self.decoder_norm(x))[:, 1:]

    def reconstruct(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predicted patches, the hidden-patch mask (n, patches) and the class token's features."""
        order = self.hide(len(images), generator)
        visible = max(1, round(self.patch_count * (1 - self.mask_ratio)))
        encoded = self.encode_visible(images, order, visible)
        hidden = torch.ones_like(order, dtype=torch.bool).scatter(1, order[:, :visible], False)
        return self.decode(encoded, order), hidden, encoded[:, 0]

    def pretext(self, batch, generator=None):
        images = batch[0]
        predicted, hidden, features = self.reconstruct(images, generator)
        target = patchify(images, self.patch_size)
        if self.norm_pix_loss:
            mean, std = patch_statistics(target)
            target = (target - mean) / std
        error = (predicted - target).square().mean(-1)
        return (error * hidden).sum() / hidden.sum(), features

    @torch.no_grad()
    def write_extras(self, run_dir: Path) -> list[Path]:
        """reconstructions.png: test images, their visible patches, and the decoder's filling-in."""
        images = self.trainer.datamodule.splits["test"][0][:PICTURE_IMAGES].to(self.device)
        predicted, hidden, _ = self.reconstruct(images, torch.Generator(self.device).manual_seed(self.SCORING_SEED))
        patches = patchify(images, self.patch_size)
        if self.norm_pix_loss:  # shown at the true patch's mean and std, as the paper's pictures
            mean, std = patch_statistics(patches)
            predicted = predicted * std + mean
        hidden = hidden[:, :, None]
        channels = images.shape[1]
        masked = unpatchify(torch.where(hidden, 0.5, patches), self.patch_size, channels)
        filled = unpatchify(torch.where(hidden, predicted, patches), self.patch_size, channels)
        rows = [("images", images), ("visible", masked), ("reconstructed", filled)]
        rows = [(label, self.spec.unstandardize(x)) for label, x in rows]
        return [image_rows(rows, run_dir / "reconstructions.png", f"MAE, {self.mask_ratio:.0%} of patches hidden")]
