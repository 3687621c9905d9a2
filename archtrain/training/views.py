"""Random views of a batch for self-supervised learning, as batched tensor operations on the batch's
device (no torchvision). Each op draws from `generator` when one is given (validation draws the same
views every epoch) and from torch's global RNG otherwise (seeded by the run, restored on resume)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def uniform(n: int, low: float, high: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """n numbers drawn uniformly from [low, high) on `like`'s device."""
    return low + (high - low) * torch.rand(n, generator=generator, device=like.device)


def chosen(n: int, probability: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """n booleans, each true with `probability`, shaped (n, 1, 1, 1) to select whole images."""
    return (torch.rand(n, generator=generator, device=like.device) < probability).view(n, 1, 1, 1)


def resized_crop(
    images: torch.Tensor, scale: tuple[float, float], flip: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """A random crop of each image (area share in `scale`, aspect ratio between 3/4 and 4/3), resized back
    to the full size, mirrored left-right for half of them with `flip`: one affine resampling."""
    n = len(images)
    area = uniform(n, *scale, images, generator)
    log_ratio = uniform(n, -0.2877, 0.2877, images, generator)  # log(3/4), log(4/3)
    width = (area * log_ratio.exp()).sqrt().clamp(max=1)
    height = (area / log_ratio.exp()).sqrt().clamp(max=1)
    centre_x = (uniform(n, -1, 1, images, generator)) * (1 - width)
    centre_y = (uniform(n, -1, 1, images, generator)) * (1 - height)
    mirror = torch.ones(n, device=images.device)
    if flip:
        mirror = torch.where(uniform(n, 0, 1, images, generator) < 0.5, -1.0, 1.0)
    zero = torch.zeros(n, device=images.device)
    theta = torch.stack(
        [torch.stack([width * mirror, zero, centre_x], 1), torch.stack([zero, height, centre_y], 1)], 1
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


def colour_jitter(
    images: torch.Tensor, strength: float, probability: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Brightness, contrast and (colour images) saturation, each scaled by a factor in 1 +- strength, for
    a share `probability` of the images."""
    n = len(images)
    factors = [uniform(n, 1 - strength, 1 + strength, images, generator).view(n, 1, 1, 1) for _ in range(3)]
    brightness, contrast, saturation = factors
    jittered = images * brightness
    mean = jittered.mean(dim=(1, 2, 3), keepdim=True)
    jittered = (jittered - mean) * contrast + mean
    if images.shape[1] == 3:
        grey = jittered.mean(dim=1, keepdim=True)
        jittered = (jittered - grey) * saturation + grey
    return torch.where(chosen(n, probability, images, generator), jittered.clamp(0, 1), images)


def greyscale(images: torch.Tensor, probability: float, generator: torch.Generator | None) -> torch.Tensor:
    """A share `probability` of colour images turned grey (grey images stay as they are)."""
    if images.shape[1] != 3:
        return images
    grey = (images * images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return torch.where(chosen(len(images), probability, images, generator), grey.expand_as(images), images)


def blur(
    images: torch.Tensor, sigma: tuple[float, float], probability: float, generator: torch.Generator | None
) -> torch.Tensor:
    """A Gaussian blur with a standard deviation (pixels) drawn per image from `sigma`, for a share
    `probability` of the images: one grouped separable convolution over the whole batch."""
    n, channels, height, width = images.shape
    radius = max(1, int(3 * sigma[1]) // 2)
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    widths = uniform(n, *sigma, images, generator).to(images.dtype)
    kernels = torch.exp(-0.5 * (offsets / widths[:, None]) ** 2)
    kernels = (kernels / kernels.sum(1, keepdim=True)).repeat_interleave(channels, 0)  # one per image channel
    flat = images.reshape(1, n * channels, height, width)
    flat = F.conv2d(
        F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernels[:, None, None, :], groups=n * channels
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernels[:, None, :, None], groups=n * channels
    )
    return torch.where(chosen(n, probability, images, generator), flat.view_as(images), images)


def noisy(x: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """`x` plus Gaussian noise of standard deviation `std`."""
    if not std:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


@dataclass
class Views:
    """Two views of a batch: for images a random resized crop (area share `crop_scale` upwards), flips,
    colour jitter, greyscale, blur and pixel noise (SimCLR's recipe, scaled to small images); for vectors
    masking (a share `mask` of the features set to 0) and noise. Images in [0, 1] are expected for the
    colour ops; standardized images skip jitter and greyscale."""

    crop_scale: float = 0.3
    flip: bool = False
    jitter: float = 0.4
    jitter_probability: float = 0.8
    greyscale_probability: float = 0.2
    blur_probability: float = 0.5
    noise: float = 0.05
    mask: float = 0.2
    unit_pixels: bool = True

    def images(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = resized_crop(images, (self.crop_scale, 1.0), self.flip, generator)
        if self.unit_pixels and self.jitter:
            images = colour_jitter(images, self.jitter, self.jitter_probability, generator)
        if self.unit_pixels:
            images = greyscale(images, self.greyscale_probability, generator)
        if self.blur_probability and min(images.shape[-2:]) >= 8:
            images = blur(images, (0.1, 1.0), self.blur_probability, generator)
        return noisy(images, self.noise, generator)

    def vectors(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        kept = torch.rand(x.shape, generator=generator, device=x.device) >= self.mask
        return noisy(x * kept.to(x.dtype), self.noise, generator)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random view of each example of `x` (images (n, C, H, W) or vectors (n, features))."""
        return self.images(x, generator) if x.ndim == 4 else self.vectors(x, generator)

    def pair(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self(x, generator), self(x, generator)
