"""The shared face of every objective that makes new examples (autoencoders that decode, VAEs, GANs,
diffusion): `generate` draws them in the data's own space, so the `sample` verb, the sample pictures
and the judges (MMD, modes covered, domain FID) work on any of them alike."""

from pathlib import Path

import torch

from archtrain.judges.toys import toy_metrics
from archtrain.report.samples import image_rows, scatter
from archtrain.tasks.base import Task
from archtrain.training.sample_quality import KernelMMD


class Generative(Task):
    """A task that can draw new examples. `conditional` says whether `generate` honours `labels`
    (one class index per example to draw). `pictures` draws what the model makes now; the
    SamplePictures callback calls it at the first validation and every `pictures_every` epochs after it
    (0: never), and `write_extras` once at the end, on the best checkpoint."""

    conditional = False
    pictures_every = 5  # epochs between two sets of pictures; 0 keeps only the final ones
    PICTURE_SEED = 0  # the noise that every picture of a run draws from
    PICTURE_IMAGES, PICTURE_POINTS = 64, 1000

    def generate(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n new examples, shaped and scaled as the data module serves them ((n, features) or
        (n, channels, height, width)); `generator` (a torch RNG) fixes the randomness."""
        raise NotImplementedError

    def sample_judges(self, mmd_bandwidth: float) -> dict:
        """Metrics of generated against real examples (`update(real, fake)`): the kernel MMD, and on a
        2-D toy mixture the modes covered and the share of samples near a mode."""
        return {"mmd": KernelMMD(mmd_bandwidth), **toy_metrics(self.spec)}

    def picture_noise(self) -> torch.Generator:
        return torch.Generator(self.device).manual_seed(self.PICTURE_SEED)

    def picture_labels(self, n: int) -> torch.Tensor | None:
        """Each class in turn, for a conditional model (a grid's columns then show the classes)."""
        return torch.arange(n, device=self.device) % self.spec.num_classes if self.conditional else None

    @torch.no_grad()
    def pictures(self, folder: Path, real: tuple[torch.Tensor, ...], tag: str) -> list[Path]:
        """`<tag>_samples.png` in `folder`: a grid of generated images, or generated 2-D points scattered
        over `real` (a split's tensors). Subclasses add their own pictures."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{tag}_samples.png"
        if self.spec.image_size:
            n = self.PICTURE_IMAGES
            samples = self.generate(n, self.picture_labels(n), self.picture_noise())
            return [image_rows([("samples", self.spec.unstandardize(samples))], path, tag)]
        samples = self.generate(self.PICTURE_POINTS, self.picture_labels(self.PICTURE_POINTS), self.picture_noise())
        if samples.shape[1] != 2:
            return []
        return [scatter(samples, real[0], path, tag, self.spec.modes)]

    def write_extras(self, run_dir: Path) -> list[Path]:
        """The pictures of the best checkpoint, at the end of the run, beside its other files."""
        was_training = self.training
        self.eval()
        try:
            return self.pictures(run_dir, self.trainer.datamodule.splits["val"], "final")
        finally:
            self.train(was_training)


def unit_pixels_problem(cfg) -> list[str]:
    """Image generators here draw pixels in [0, 1], the scale of every image data set unless it is standardized."""
    if cfg.data.modality == "image" and cfg.data.get("normalize"):
        return [
            f"task={cfg.task.name} draws pixels in [0, 1], and data.normalize=true standardizes the real "
            f"ones; use data.normalize=false"
        ]
    return []
