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
