"""Batch-level regularization for images, in plain tensor operations (no torchvision)."""

import math

import torch
import torch.nn.functional as F


class Augment:
    """Random shifts, small rotations and optional flips in one affine resampling, then
    brightness/contrast jitter for colour images. Draws from torch's global RNG."""

    def __init__(self, crop_padding: int = 1, flip: bool = False, rotation: float = 10.0, jitter: float = 0.1):
        self.crop_padding, self.flip, self.rotation, self.jitter = crop_padding, flip, rotation, jitter

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, channels, height, width = images.shape
        angle = (torch.rand(n) * 2 - 1) * math.radians(self.rotation)
        shift = (torch.rand(n, 2) * 2 - 1) * self.crop_padding * 2 / torch.tensor([width, height])
        mirror = torch.where(torch.rand(n) < 0.5, -1.0, 1.0) if self.flip else torch.ones(n)
        theta = torch.stack(
            [
                torch.stack([torch.cos(angle) * mirror, -torch.sin(angle), shift[:, 0]], dim=1),
                torch.stack([torch.sin(angle) * mirror, torch.cos(angle), shift[:, 1]], dim=1),
            ],
            dim=1,
        ).to(images)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
        if self.jitter and channels == 3:
            brightness = 1 + (torch.rand(n, 1, 1, 1, device=images.device) * 2 - 1) * self.jitter
            contrast = 1 + (torch.rand(n, 1, 1, 1, device=images.device) * 2 - 1) * self.jitter
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            images = (images - mean) * contrast + mean * brightness
        return images


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float):
    """Blend each example with a random partner: returns (x, y, partner labels, weight of y)."""
    weight = float(torch.distributions.Beta(alpha, alpha).sample())
    partner = torch.randperm(len(x), device=x.device)
    return weight * x + (1 - weight) * x[partner], y, y[partner], weight


def cutmix(x: torch.Tensor, y: torch.Tensor, alpha: float):
    """Paste a random box of a partner image; labels mix by the area each image keeps."""
    weight = float(torch.distributions.Beta(alpha, alpha).sample())
    partner = torch.randperm(len(x), device=x.device)
    height, width = x.shape[-2:]
    cut_h, cut_w = int(height * math.sqrt(1 - weight)), int(width * math.sqrt(1 - weight))
    top, left = int(torch.randint(0, height - cut_h + 1, ())), int(torch.randint(0, width - cut_w + 1, ()))
    x = x.clone()
    x[..., top : top + cut_h, left : left + cut_w] = x[partner][..., top : top + cut_h, left : left + cut_w]
    return x, y, y[partner], 1 - cut_h * cut_w / (height * width)


class Mix:
    """mixup and/or CutMix; with both configured, each batch uses one of them at random."""

    def __init__(self, mixup_alpha: float | None = None, cutmix_alpha: float | None = None):
        self.choices = [(fn, alpha) for fn, alpha in ((mixup, mixup_alpha), (cutmix, cutmix_alpha)) if alpha]

    def __call__(self, x: torch.Tensor, y: torch.Tensor):
        fn, alpha = (
            self.choices[int(torch.randint(len(self.choices), ()))] if len(self.choices) > 1 else self.choices[0]
        )
        return fn(x, y, alpha)
