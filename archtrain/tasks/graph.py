"""Objectives on graphs: classifying nodes, classifying whole graphs, and predicting links.

Node and graph classification are classification (cross-entropy, accuracy) on other examples: the
labelled nodes of a split's mask, or the graphs of a batch. Link prediction scores node pairs by the dot
product of their embeddings, against negative pairs sampled afresh at every step (Kipf & Welling's
graph auto-encoder), and reports the area under the ROC curve.
"""

import copy

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch_geometric.utils import negative_sampling
from torchmetrics import MeanMetric
from torchmetrics.classification import BinaryAUROC

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task
from archtrain.tasks.classify import Classify


def one_graph_problems(cfg, spec) -> list[str]:
    """One graph is one batch: more than one process would leave the others nothing to train on."""
    devices, nodes = cfg.hardware.devices, cfg.hardware.get("num_nodes", 1)
    processes = len(devices) if OmegaConf.is_list(devices) else devices if isinstance(devices, int) else 1
    if spec.num_graphs == 1 and (processes > 1 or nodes > 1):
        return [
            f"data={cfg.data.name} is one graph, trained full-batch in one process; "
            f"hardware.devices={devices} would leave the other processes nothing to train on"
        ]
    return []


class NodeClassify(Classify):
    """One class per node; a split is the mask of the nodes it scores (all nodes of an unseen graph,
    inductively). Validation loss picks the best checkpoint: on a few labelled nodes accuracy ties, and
    the first epoch to reach a tie would win."""

    monitor, mode = "val/loss", "min"

    @classmethod
    def head(cls, spec):
        return Head(spec.num_classes, per_step=True)

    @classmethod
    def problems(cls, cfg, spec):
        return super().problems(cfg, spec) + one_graph_problems(cfg, spec)

    def scored(self, batch):
        return self.net(batch)[batch.mask], batch.y[batch.mask]


class GraphClassify(Classify):
    """One class per graph: the net pools each graph's nodes."""

    def scored(self, batch):
        return self.net(batch), batch.y


class LinkPredict(Task):
    """Which node pairs are edges: the training edges against as many random non-edges at every step;
    validation and test score held-out edges against fixed non-edges. Messages pass along the training
    edges only (`link_edge_index`), so held-out edges are never seen."""

    monitor, mode = "val/auc", "max"
    embedding_size = 64  # the width of the node embeddings whose dot products score the pairs

    @classmethod
    def head(cls, spec):
        return Head(cls.embedding_size, per_step=True)

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec) + one_graph_problems(cfg, spec)
        if spec.num_graphs != 1:
            found.append(
                f"task={cfg.task.name} holds edges out of one graph, and data={cfg.data.name} "
                f"has {spec.num_graphs} graphs"
            )
        return found

    def logits(self, batch, pairs: torch.Tensor) -> torch.Tensor:
        graph = copy.copy(batch)
        graph.edge_index = batch.link_edge_index
        nodes = self.net(graph)
        return (nodes[pairs[0]] * nodes[pairs[1]]).sum(-1)

    def loss(self, batch):
        positive = batch.link_index
        negative = negative_sampling(batch.link_edge_index, batch.num_nodes, positive.size(1))
        labels = torch.cat([torch.ones(positive.size(1)), torch.zeros(negative.size(1))]).to(positive.device)
        return F.binary_cross_entropy_with_logits(self.logits(batch, torch.cat([positive, negative], 1)), labels)

    def make_metrics(self):
        return {"loss": MeanMetric(), "auc": BinaryAUROC()}

    def evaluate(self, batch, metrics):
        logits, labels = self.logits(batch, batch.link_index), batch.link_label
        metrics["loss"].update(F.binary_cross_entropy_with_logits(logits, labels), weight=len(labels))
        metrics["auc"].update(logits, labels.long())
