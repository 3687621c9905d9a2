"""Judges of generated images through a classifier trained on the same data (judges/classifier.py):
the domain FID, the Fréchet distance between the classifier's penultimate features of real test images
and of samples (torchmetrics' FrechetInceptionDistance with that classifier as its feature extractor),
beside the same distance for real train images (the floor) and for a per-pixel Gaussian baseline; and
the classifier's view of the samples (mean confidence, entropy of the predicted-class histogram).

`inception_fid` keeps the standard Inception FID for those who have torch-fidelity and its weights."""

import math

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


class PenultimateFeatures(nn.Module):
    """A classifier's features (what its head reads) of images served as `spec` serves them, rescaled
    first into the classifier's own data space; `num_features` tells torchmetrics their width."""

    def __init__(self, classifier: nn.Module, classifier_spec: DataSpec, spec: DataSpec):
        super().__init__()
        self.classifier, self.classifier_spec, self.spec = classifier.eval(), classifier_spec, spec
        self.num_features = classifier.num_features

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier_spec.standardize(self.spec.unstandardize(images.float()))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(self.inputs(images)).flatten(1)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.inputs(images)).softmax(dim=1)


def frechet_distance(features: PenultimateFeatures, real: torch.Tensor, fake: torch.Tensor) -> float:
    """torchmetrics' FID between two sets of images, through `features`."""
    fid = FrechetInceptionDistance(feature=features, normalize=True)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return float(fid.compute())


def pixel_gaussian(train: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The baseline: n images whose pixels are drawn independently from a Gaussian with each pixel's
    train mean and standard deviation."""
    noise = torch.randn(n, *train.shape[1:], generator=generator)
    return train.mean(0) + train.std(0) * noise


def classifier_view(features: PenultimateFeatures, fake: torch.Tensor) -> dict:
    """The classifier on the samples: its mean confidence (top probability), the entropy of its
    predicted-class histogram in nats (ln(classes) when every class is as frequent) and the classes seen."""
    probabilities = features.probabilities(fake)
    classes = probabilities.shape[1]
    histogram = torch.bincount(probabilities.argmax(1), minlength=classes).float() / len(fake)
    entropy = -(histogram[histogram > 0] * histogram[histogram > 0].log()).sum()
    return {
        "confidence": float(probabilities.max(1).values.mean()),
        "class_entropy": float(entropy),
        "max_class_entropy": math.log(classes),
        "classes_present": int((histogram > 0).sum()),
    }


def judge_images(fake: torch.Tensor, splits: dict, spec: DataSpec, judge, seed: int = 0) -> dict:
    """The domain FID of `fake` against the test split, its floor (as many train images) and the
    pixel-Gaussian baseline's, with the judge classifier's view of the samples (and of the test split);
    `judge` is the classifier's Parts (judges.classifier.judge_classifier)."""
    features = PenultimateFeatures(judge.net, judge.data.spec, spec)
    train, test = splits["train"][0], splits["test"][0]
    generator = torch.Generator().manual_seed(seed)
    floor = train[torch.randperm(len(train), generator=generator)[: len(test)]]
    baseline = pixel_gaussian(train, len(test), generator)
    view = classifier_view(features, fake)
    return {
        "fid": frechet_distance(features, test, fake),
        "fid_floor": frechet_distance(features, test, floor),
        "fid_baseline": frechet_distance(features, test, baseline),
        **view,
        "test_confidence": classifier_view(features, test)["confidence"],
        "samples": len(fake),
    }


def inception_fid(real: torch.Tensor, fake: torch.Tensor, weights: str | None = None) -> float:
    """The standard FID (Heusel et al., 2017) through InceptionV3's 2048 pool features, for images in
    [0, 1]; needs the torch-fidelity package and its weights (a download, or the file `weights`)."""
    try:
        fid = FrechetInceptionDistance(feature=2048, normalize=True, feature_extractor_weights_path=weights)
    except (ModuleNotFoundError, OSError, RuntimeError) as err:
        raise ArchtrainError(f"the Inception FID needs torch-fidelity and its InceptionV3 weights: {err}") from None

    def rgb(x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    fid.update(rgb(real.clamp(0, 1)), real=True)
    fid.update(rgb(fake.clamp(0, 1)), real=False)
    return float(fid.compute())
