"""How good a frozen encoder's features are: a linear probe (a logistic regression fit on the labelled
training features, scored on other features) and cosine k-nearest-neighbour accuracy, plus the spread of
normalised embeddings that tells a collapsed representation (every input mapped to one point)."""

from typing import Callable

import torch
import torch.nn.functional as F

PROBE_STEPS = 100  # L-BFGS iterations of the full-batch logistic regression
PROBE_DECAY = 1e-4  # L2 penalty on the probe's weights


@torch.no_grad()
def split_features(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: torch.device, batch_size: int = 512
) -> torch.Tensor:
    """`encode` applied to `x` in batches on `device`, flattened to (n, features), as float32 on `device`."""
    parts = [encode(x[i : i + batch_size].to(device)).flatten(1).float() for i in range(0, len(x), batch_size)]
    return torch.cat(parts)


def linear_probe_accuracy(
    train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor, classes: int
) -> float:
    """Test accuracy of a multinomial logistic regression fit (full batch, L-BFGS) on standardized
    training features."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    # Lightning validates under inference mode, whose tensors autograd cannot save: fit on copies made outside it.
    with torch.inference_mode(False), torch.enable_grad():
        train, test = ((train - mean) / std).clone(), ((test - mean) / std).clone()
        train_labels = train_labels.clone()
        # From zeros (the problem is convex): no draw from the global generator, which also draws the
        # training views, so probing during pretraining leaves the pretraining as it would be without it.
        weight = torch.zeros(classes, train.shape[1], device=train.device, requires_grad=True)
        bias = torch.zeros(classes, device=train.device, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=PROBE_STEPS, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = F.cross_entropy(F.linear(train, weight, bias), train_labels) + PROBE_DECAY * weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            return (F.linear(test, weight, bias).argmax(1) == test_labels).float().mean().item()


@torch.no_grad()
def knn_accuracy(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    classes: int,
    k: int = 20,
) -> float:
    """Accuracy of a majority vote among each test example's k nearest training examples by cosine
    similarity (ties go to the lower class index)."""
    similarity = F.normalize(test, dim=1) @ F.normalize(train, dim=1).T
    nearest = similarity.topk(min(k, len(train)), dim=1).indices
    votes = F.one_hot(train_labels[nearest], classes).sum(1)
    return (votes.argmax(1) == test_labels).float().mean().item()


@torch.no_grad()
def embedding_spread(embeddings: torch.Tensor) -> torch.Tensor:
    """The mean over dimensions of the standard deviation of L2-normalised embeddings: 1/sqrt(dim) for
    embeddings spread over the sphere, 0 for a collapsed encoder."""
    return F.normalize(embeddings.float(), dim=1).std(0).mean()


def probe_scores(
    encode: Callable[[torch.Tensor], torch.Tensor],
    train: tuple[torch.Tensor, ...],
    test: tuple[torch.Tensor, ...],
    classes: int,
    device: torch.device,
    k: int = 20,
) -> dict[str, float]:
    """probe_acc and knn_acc of the features `encode` gives, fit on the (x, y) of `train`, scored on `test`."""
    train_features = split_features(encode, train[0], device)
    test_features = split_features(encode, test[0], device)
    train_labels, test_labels = train[1].to(device), test[1].to(device)
    return {
        "probe_acc": linear_probe_accuracy(train_features, train_labels, test_features, test_labels, classes),
        "knn_acc": knn_accuracy(train_features, train_labels, test_features, test_labels, classes, k),
    }
