"""Graph neural networks on PyTorch Geometric's layers: GCN, GAT, GIN, GraphSAGE, and an MLP that ignores
the edges (the baseline). One backbone, `GraphNetwork`, stacks any of the message-passing layers with
residual connections and jumping knowledge, and reads out per node or pools per graph."""

from functools import partial
from typing import Callable

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import (
    AttentionalAggregation,
    GATConv,
    GCNConv,
    GINConv,
    JumpingKnowledge,
    SAGEConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)

from archtrain.errors import ArchtrainError
from archtrain.models.feedforward import MLP
from archtrain.models.protocol import Network

POOLINGS = ("sum", "mean", "max", "attention")
JUMPS = ("none", "cat", "max", "lstm")
ConvFactory = Callable[[int, int], nn.Module]


class Linear(nn.Linear):
    """A layer that passes no messages: the edge-blind stand-in for a convolution."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return super().forward(x)


class GraphNetwork(Network):
    """`depth` message-passing layers of `width` (each: dropout, convolution, ReLU; with `residual`, each
    layer after the first adds its input), optionally combined by jumping knowledge (Xu et al., 2018:
    `cat`, `max` or `lstm` over every layer's output). With `per_step` the head reads every node;
    otherwise the nodes of each graph are pooled (`sum`, `mean`, `max` or `attention`) first.

    The input is a PyG `Data` or `Batch`: node features `x`, `edge_index`, and `batch` for many graphs.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        conv: ConvFactory,
        depth: int,
        width: int,
        residual: bool,
        jumping_knowledge: str,
        dropout: float,
        pooling: str,
        per_step: bool,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ArchtrainError(f"unknown pooling '{pooling}'; choose from {', '.join(POOLINGS)}")
        if jumping_knowledge not in JUMPS:
            raise ArchtrainError(f"unknown jumping_knowledge '{jumping_knowledge}'; choose from {', '.join(JUMPS)}")
        if depth < 1:
            raise ArchtrainError("depth must be at least 1 for a graph network")
        self.per_step, self.residual = per_step, residual
        self.convs = nn.ModuleList(conv(in_features if i == 0 else width, width) for i in range(depth))
        self.dropout = nn.Dropout(dropout)
        self.jump = (
            None
            if jumping_knowledge == "none"
            else JumpingKnowledge(jumping_knowledge, width, depth if jumping_knowledge == "lstm" else None)
        )
        size = width * depth if jumping_knowledge == "cat" else width
        self.pool = (
            AttentionalAggregation(nn.Linear(size, 1))
            if pooling == "attention"
            else {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}[pooling]
        )
        self.head = nn.Linear(size, num_classes)

    def features(self, graph: Data) -> torch.Tensor:
        x, layers = graph.x, []
        for i, conv in enumerate(self.convs):
            h = torch.relu(conv(self.dropout(x), graph.edge_index))
            x = x + h if self.residual and i > 0 else h
            layers.append(x)
        x = self.jump(layers) if self.jump is not None else x
        return x if self.per_step else self.pool(x, graph.batch)


class GCN(GraphNetwork):
    """Graph convolutional network (Kipf & Welling, 2017): degree-normalized mean over neighbours and self."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 2,
        width: int = 64,
        residual: bool = False,
        jumping_knowledge: str = "none",
        dropout: float = 0.5,
        pooling: str = "mean",
        per_step: bool = True,
    ):
        super().__init__(
            in_features, num_classes, GCNConv, depth, width, residual, jumping_knowledge, dropout, pooling, per_step
        )


class GAT(GraphNetwork):
    """Graph attention network (Veličković et al., 2018): `heads` attention heads of width/heads each,
    concatenated; `attention_dropout` drops attention coefficients."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 2,
        width: int = 64,
        heads: int = 4,
        attention_dropout: float = 0.0,
        residual: bool = False,
        jumping_knowledge: str = "none",
        dropout: float = 0.5,
        pooling: str = "mean",
        per_step: bool = True,
    ):
        if width % heads:
            raise ArchtrainError(f"width={width} is not divisible by heads={heads}")
        conv = partial(_attention, heads=heads, attention_dropout=attention_dropout)
        super().__init__(
            in_features, num_classes, conv, depth, width, residual, jumping_knowledge, dropout, pooling, per_step
        )


def _attention(inputs: int, outputs: int, heads: int, attention_dropout: float) -> GATConv:
    return GATConv(inputs, outputs // heads, heads=heads, dropout=attention_dropout)


class GIN(GraphNetwork):
    """Graph isomorphism network (Xu et al., 2019): the sum of the neighbours plus (1 + eps) times the node
    itself, through a one-hidden-layer MLP; eps is learned with `train_eps`."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 3,
        width: int = 64,
        train_eps: bool = True,
        residual: bool = False,
        jumping_knowledge: str = "none",
        dropout: float = 0.0,
        pooling: str = "sum",
        per_step: bool = True,
    ):
        conv = partial(_isomorphism, train_eps=train_eps)
        super().__init__(
            in_features, num_classes, conv, depth, width, residual, jumping_knowledge, dropout, pooling, per_step
        )


def _isomorphism(inputs: int, outputs: int, train_eps: bool) -> GINConv:
    return GINConv(MLP(inputs, outputs, depth=1, width=outputs), train_eps=train_eps)


class GraphSAGE(GraphNetwork):
    """GraphSAGE (Hamilton, Ying & Leskovec, 2017): the node and the `mean` or `max` of its neighbours,
    each through its own linear map."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 2,
        width: int = 64,
        aggregation: str = "mean",
        residual: bool = False,
        jumping_knowledge: str = "none",
        dropout: float = 0.5,
        pooling: str = "mean",
        per_step: bool = True,
    ):
        if aggregation not in ("mean", "max"):
            raise ArchtrainError(f"unknown aggregation '{aggregation}'; choose from mean, max")
        super().__init__(
            in_features,
            num_classes,
            partial(SAGEConv, aggr=aggregation),
            depth,
            width,
            residual,
            jumping_knowledge,
            dropout,
            pooling,
            per_step,
        )


class GraphMLP(GraphNetwork):
    """The same stack with linear layers in place of message passing: what node features alone give."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 2,
        width: int = 64,
        residual: bool = False,
        dropout: float = 0.5,
        pooling: str = "mean",
        per_step: bool = True,
    ):
        super().__init__(in_features, num_classes, Linear, depth, width, residual, "none", dropout, pooling, per_step)
