"""Denoising diffusion (Ho, Jain & Abbeel, 2020): the forward process that noises data in T steps by a
schedule, and the reverse chain that samples from noise with a network's noise prediction, as DDPM does
(every step, fresh noise) or as DDIM does (Song, Meng & Ermon, 2021: a few steps, deterministic)."""

import math
from typing import Callable

import torch
from torch import nn

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ddpm", "ddim")
NoisePredictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> predicted noise


def linear_betas(timesteps: int) -> torch.Tensor:
    """DDPM's betas, rising linearly from 1e-4 to 0.02 over 1000 steps (rescaled for other lengths, as
    Nichol & Dhariwal do, so that the chain ends in the same noise)."""
    scale = 1000 / timesteps
    return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, offset: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal's (2021) schedule: the kept signal alpha_bar(t) = cos^2(pi/2 (t/T + s)/(1 + s)),
    which destroys information more slowly than the linear one near t = 0; betas clipped at 0.999."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    alpha_bar = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


class NoiseSchedule(nn.Module):
    """alpha_bar(t), the share of the signal's variance left after t + 1 noising steps, for t in [0, T)."""

    def __init__(self, timesteps: int, kind: str = "linear"):
        super().__init__()
        betas = {"linear": linear_betas, "cosine": cosine_betas}[kind](timesteps)
        self.timesteps = timesteps
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas, 0).float(), persistent=False)

    def noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) noise: x_0 after t + 1 steps, in one draw."""
        kept = self.alpha_bar[t].view(-1, *[1] * (x0.ndim - 1))
        return kept.sqrt() * x0 + (1 - kept).sqrt() * noise

    def chain(self, sampler: str, steps: int) -> list[int]:
        """The timesteps a sampler visits, last first: all T for DDPM, `steps` evenly spaced for DDIM."""
        if sampler == "ddpm" or steps >= self.timesteps:
            return list(range(self.timesteps - 1, -1, -1))
        return torch.linspace(self.timesteps - 1, 0, steps).round().long().unique_consecutive().tolist()

    @torch.no_grad()
    def sample(
        self,
        predict_noise: NoisePredictor,
        noise: torch.Tensor,
        timesteps: list[int],
        eta: float,
        clip: float | None = None,
        noise_from_clipped: bool = True,
        generator: torch.Generator | None = None,
        trace: Callable[[int, torch.Tensor], None] | None = None,
    ) -> torch.Tensor:
        """Run the reverse chain from `noise` (x_T) through `timesteps` (descending) to x_0. Each step
        predicts x_0 from the predicted noise (clipped to [-clip, clip] if given), then moves to the next
        timestep along the predicted noise (DDIM, eq. 12): eta = 1 over every step is DDPM's ancestral
        sampler with the posterior variance, eta = 0 is deterministic DDIM. Where x_0 is clipped,
        `noise_from_clipped` recomputes the noise from it, so that the step lands on DDPM's posterior mean
        of the clipped x_0 (Ho et al.'s sampler); DDIM keeps the network's own noise (as diffusers does):
        each rule did badly in the other's sampler on digits (docs/GENERATIVE.md).
        `trace(t, x_0 predicted at t)` sees every step."""
        x = noise
        for now, then in zip(timesteps, timesteps[1:] + [-1]):
            t = torch.full((len(x),), now, device=x.device, dtype=torch.long)
            epsilon = predict_noise(x, t)
            kept = self.alpha_bar[now]
            kept_then = self.alpha_bar[then] if then >= 0 else torch.ones_like(kept)
            x0 = (x - (1 - kept).sqrt() * epsilon) / kept.sqrt()
            if clip is not None:
                x0 = x0.clamp(-clip, clip)
                if noise_from_clipped:
                    epsilon = (x - kept.sqrt() * x0) / (1 - kept).sqrt()
            if trace is not None:
                trace(now, x0)
            sigma = eta * ((1 - kept_then) / (1 - kept) * (1 - kept / kept_then)).sqrt()
            x = kept_then.sqrt() * x0 + (1 - kept_then - sigma**2).clamp_min(0).sqrt() * epsilon
            if then >= 0 and eta:
                x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x
