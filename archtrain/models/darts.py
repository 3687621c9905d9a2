"""Differentiable architecture search (DARTS; Liu, Simonyan & Yang, 2019): a cell whose every edge mixes
a set of candidate operations by softmax weights (the search net), and the cell that keeps the strongest
operations once the search is over (the derived net), trained from scratch.

A cell takes one input (node 0) and computes `nodes` more: node i sums an operation on each earlier node.
Its output is all computed nodes, concatenated and mapped back to the cell's width by a 1x1 convolution.
A genotype names the derived cell: for each computed node, its (operation, input node) pairs.
"""

import random
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.protocol import Network
from archtrain.models.vision.conv_blocks import ConvNormAct, FeatureMap, Stem, classifier

Genotype = list[list[tuple[str, int]]]  # per computed node: (operation, input node) pairs
INPUTS_PER_NODE = 2  # a derived node keeps this many inputs (fewer where it has fewer predecessors)


class Zero(nn.Module):
    """The operation that cuts an edge: zeros of its input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _relu_conv(channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    """DARTS' separable and dilated convolutions: ReLU, a depthwise convolution, a pointwise one, batch norm."""
    return nn.Sequential(
        nn.ReLU(),
        ConvNormAct(channels, channels, kernel, groups=channels, dilation=dilation, norm=False, activation=None),
        ConvNormAct(channels, channels, 1, norm=lambda c: nn.BatchNorm2d(c, affine=False), activation=None),
    )


OPERATIONS = {
    "zero": lambda c: Zero(),
    "skip": lambda c: nn.Identity(),
    "max_pool_3x3": lambda c: nn.MaxPool2d(3, 1, 1),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "sep_conv_3x3": lambda c: _relu_conv(c, 3),
    "sep_conv_5x5": lambda c: _relu_conv(c, 5),
    "dil_conv_3x3": lambda c: _relu_conv(c, 3, dilation=2),
}
CANDIDATES = tuple(name for name in OPERATIONS if name != "zero")  # what a derived edge may be


def edges(nodes: int) -> list[tuple[int, int]]:
    """(node, input) for every edge of a cell with `nodes` computed nodes, in order."""
    return [(node, source) for node in range(1, nodes + 1) for source in range(node)]


class MixedOperation(nn.Module):
    """Every operation on one edge, summed with the weights the search gives them."""

    def __init__(self, channels: int, operations: tuple[str, ...]):
        super().__init__()
        self.operations = nn.ModuleList(OPERATIONS[name](channels) for name in operations)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * operation(x) for w, operation in zip(weights, self.operations))


class Cell(nn.Module):
    """Node i = the sum of `edge(node j)` over its inputs j; the output concatenates the computed nodes."""

    def __init__(self, channels: int, inputs: list[list[int]], edge_modules: list[nn.Module]):
        super().__init__()
        self.inputs = inputs  # per computed node, the nodes it reads, in the order of its edges
        self.edges = nn.ModuleList(edge_modules)
        self.combine = ConvNormAct(channels * len(inputs), channels, 1)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        states, edge = [x], 0
        for sources in self.inputs:
            total = 0
            for source in sources:
                module = self.edges[edge]
                total = total + (module(states[source]) if weights is None else module(states[source], weights[edge]))
                edge += 1
            states.append(total)
        return self.combine(torch.cat(states[1:], dim=1))


class CellNetwork(Network):
    """A stem, `cells` cells with a 2x2 max pool between them while the map allows, global pooling, a head."""

    def _build(self, in_channels: int, image_size: int, num_classes: int, channels: int, cells: int, make_cell):
        feature_map = FeatureMap(image_size)
        self.stem = Stem(in_channels, channels, feature_map)
        self.cells = nn.ModuleList(make_cell() for _ in range(cells))
        self.pools = nn.ModuleList(
            nn.MaxPool2d(2) if index < cells - 1 and feature_map.stride() == 2 else nn.Identity()
            for index in range(cells)
        )
        self.pre_logits, self.head = classifier(channels, num_classes)

    def cell_weights(self) -> torch.Tensor | None:
        """The weights of each edge's operations (edges x operations), or None where the cell's are fixed."""
        return None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x, weights = self.stem(x), self.cell_weights()
        for cell, pool in zip(self.cells, self.pools):
            x = pool(cell(x, weights))
        return self.pre_logits(x)


class DartsSearch(CellNetwork):
    """The search net: every cell shares one set of architecture weights, `architecture.alphas`
    (edges x operations), which the search task trains on validation batches and the rest on training ones."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        channels: int = 16,
        cells: int = 2,
        nodes: int = 3,
        operations: list[str] | tuple[str, ...] = tuple(OPERATIONS),
    ):
        super().__init__()
        unknown = [name for name in operations if name not in OPERATIONS]
        if unknown or not operations:
            raise ArchtrainError(f"model.operations={list(operations)}: choose one or more of {', '.join(OPERATIONS)}")
        self.operations, self.nodes = tuple(operations), nodes
        cell_edges = edges(nodes)
        inputs = [[source for node_, source in cell_edges if node_ == node] for node in range(1, nodes + 1)]
        self.architecture = nn.Module()
        self.architecture.alphas = nn.Parameter(1e-3 * torch.randn(len(cell_edges), len(operations)))

        def make_cell():
            return Cell(channels, inputs, [MixedOperation(channels, self.operations) for _ in cell_edges])

        self._build(in_channels, image_size, num_classes, channels, cells, make_cell)

    def cell_weights(self) -> torch.Tensor:
        return F.softmax(self.architecture.alphas, dim=-1)

    def derive(self) -> Genotype:
        """DARTS' rule: each node keeps its strongest inputs, each by its strongest operation other than zero."""
        weights = self.cell_weights().detach().cpu()
        allowed = [i for i, name in enumerate(self.operations) if name != "zero"]
        if not allowed:
            raise ArchtrainError("model.operations: a derived cell needs an operation other than zero")
        chosen, cell_edges = [], edges(self.nodes)
        for node in range(1, self.nodes + 1):
            candidates = []
            for index, (node_, source) in enumerate(cell_edges):
                if node_ == node:
                    strength, best = weights[index, allowed].max(0)
                    candidates.append((float(strength), self.operations[allowed[int(best)]], source))
            strongest = sorted(candidates, reverse=True)[: min(INPUTS_PER_NODE, node)]
            chosen.append([(name, source) for _, name, source in sorted(strongest, key=lambda c: c[2])])
        return chosen


def random_genotype(nodes: int, seed: int) -> Genotype:
    """A cell of the derived shape (each node `INPUTS_PER_NODE` inputs where it has them) with random operations."""
    rng = random.Random(seed)
    return [
        [(rng.choice(CANDIDATES), source) for source in sorted(rng.sample(range(node), min(INPUTS_PER_NODE, node)))]
        for node in range(1, nodes + 1)
    ]


def read_genotype(where: str) -> Genotype:
    """The genotype a search run wrote (its directory or its genotype.yaml), or a YAML file of one."""
    path = Path(where).expanduser()
    file = path / "genotype.yaml" if path.is_dir() else path
    if not file.is_file():
        raise ArchtrainError(
            f"model.genotype={where}: no such search run or genotype file (a run of model=darts_search "
            f"writes genotype.yaml; or use model.genotype=random)"
        )
    loaded = yaml.safe_load(file.read_text())
    genotype = loaded.get("genotype") if isinstance(loaded, dict) else loaded
    return check_genotype(genotype, where)


def check_genotype(genotype, where: str) -> Genotype:
    """`genotype` as (operation, input) pairs per node, each input an earlier node; else one clear line."""
    try:
        cell = [[(str(name), int(source)) for name, source in node] for node in genotype]
    except (TypeError, ValueError):
        cell = []
    bad = not cell or any(
        not node or any(name not in CANDIDATES or not 0 <= source <= index for name, source in node)
        for index, node in enumerate(cell)
    )
    if bad:
        raise ArchtrainError(
            f"model.genotype={where}: not a cell; expected per node a list of [operation, input node] "
            f"pairs, operations from {', '.join(CANDIDATES)}, inputs earlier nodes (0: the cell's input)"
        )
    return cell


class DartsCell(CellNetwork):
    """The derived net: cells of a fixed genotype, from a search run, a YAML file, or `random` (drawn
    from `genotype_seed` with `nodes` computed nodes: the baseline a search must beat)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        genotype: str = "random",
        genotype_seed: int = 0,
        nodes: int = 3,
        channels: int = 16,
        cells: int = 2,
    ):
        super().__init__()
        self.genotype = random_genotype(nodes, genotype_seed) if genotype == "random" else read_genotype(genotype)
        inputs = [[source for _, source in node] for node in self.genotype]

        def make_cell():
            return Cell(channels, inputs, [OPERATIONS[name](channels) for node in self.genotype for name, _ in node])

        self._build(in_channels, image_size, num_classes, channels, cells, make_cell)
