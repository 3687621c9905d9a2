"""The shared face of every objective that makes new examples (autoencoders that decode, VAEs, GANs,
diffusion): `generate` draws them in the data's own space, so the `sample` verb, the sample pictures
and the judges (MMD, modes covered, domain FID) work on any of them alike."""

import torch

from archtrain.tasks.base import Task


class Generative(Task):
    """A task that can draw new examples. `conditional` says whether `generate` honours `labels`
    (one class index per example to draw)."""

    conditional = False

    def generate(self, n: int, labels: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """n new examples, shaped and scaled as the data module serves them ((n, features) or
        (n, channels, height, width)); `generator` (a torch RNG) fixes the randomness."""
        raise NotImplementedError


def unit_pixels_problem(cfg) -> list[str]:
    """Image generators here draw pixels in [0, 1], the scale of every image data set unless it is standardized."""
    if cfg.data.modality == "image" and cfg.data.get("normalize"):
        return [f"task={cfg.task.name} draws pixels in [0, 1], and data.normalize=true standardizes the real "
                f"ones; use data.normalize=false"]
    return []
