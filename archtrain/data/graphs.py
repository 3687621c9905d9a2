"""Graph data as PyTorch Geometric `Data`: real graphs that networkx ships, generated ones, and the user's files.

One graph (`num_graphs=1`) trains full-batch, one step per epoch: every split is the whole graph with the
`mask` of the nodes it scores, and the edges link prediction holds out (`link_index`, `link_label`, with
messages passing along `link_edge_index`). Many graphs are split into sets of graphs and come in batches
of `batch_size` graphs (PyG's DataLoader), in the same resumable order as every other dataset.
"""

import math
from pathlib import Path

import networkx as nx
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import degree, from_networkx, to_undirected

from archtrain.data.base import ArrayDataModule, EpochShuffle, split_indices
from archtrain.data.graph_files import read_csv_graph, read_planetoid, read_tu
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

SPLITS = ("train", "val", "test")
HELD_OUT_EDGES = (0.1, 0.2)  # the shares of a graph's edges that link prediction holds out for val and test


class GraphData(ArrayDataModule):
    """Splits that are lists of graphs; subclasses implement `load` as every ArrayDataModule does."""

    def __init__(self, batch_size: int = 1, seed: int = 0):
        super().__init__(batch_size, seed)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        graphs = self.splits[split]
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        if shuffle:
            sampler = EpochShuffle(len(graphs), self.seed, None, self._examples_done, rank, world)
        else:
            sampler = range(rank, len(graphs), world)
        return DataLoader(graphs, batch_size=self.batch_size, sampler=sampler, generator=torch.Generator())


def node_masks(
    y: torch.Tensor,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    train_per_class: int | None = None,
    hubs: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Boolean masks of the labelled nodes (y >= 0) for each split: fractions of them, or with
    `train_per_class` that many training nodes of each class (at random, or the first in the order
    `hubs` gives) and the fractions of all for val and test."""
    labelled = (y >= 0).nonzero().flatten()
    if train_per_class is None:
        parts = {
            name: labelled[index]
            for name, index in split_indices(len(labelled), val_fraction, test_fraction, seed).items()
        }
    else:
        order = labelled[torch.randperm(len(labelled), generator=torch.Generator().manual_seed(seed))]
        if hubs is not None:
            order = order[hubs[order].argsort(descending=True, stable=True)]
        train = torch.cat([order[y[order] == c][:train_per_class] for c in y[labelled].unique()])
        rest = order[~torch.isin(order, train)]
        n_val = round(len(labelled) * val_fraction)
        parts = {"train": train, "val": rest[:n_val], "test": rest[n_val:]}
        if n_val < 1 or len(rest) == n_val:
            raise ArchtrainError(
                f"{len(labelled)} labelled nodes leave none for val or test "
                f"with train_per_class={train_per_class} and val_fraction={val_fraction}"
            )
    masks = {name: torch.zeros(len(y), dtype=torch.bool) for name in SPLITS}
    for name, index in parts.items():
        masks[name][index] = True
    return masks


def one_graph_splits(graph: Data, masks: dict[str, torch.Tensor], seed: int) -> dict[str, list[Data]]:
    """The graph once per split, with that split's node mask and held-out edges (PyG's RandomLinkSplit)."""
    val, test = HELD_OUT_EDGES
    with torch.random.fork_rng():  # the split draws on the global RNG; a seed of its own keeps it fixed
        torch.manual_seed(seed)
        links = RandomLinkSplit(num_val=val, num_test=test, is_undirected=True, add_negative_train_samples=False)
        held_out = dict(zip(SPLITS, links(graph.clone())))
    return {
        name: [
            Data(
                x=graph.x,
                edge_index=graph.edge_index,
                y=graph.y,
                mask=masks[name],
                link_edge_index=part.edge_index,
                link_index=part.edge_label_index,
                link_label=part.edge_label.float(),
            )
        ]
        for name, part in held_out.items()
    }


def labelled_graph(
    graph: Data,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    train_per_class: int | None,
    names: tuple[str, ...] = (),
    train_nodes: str = "random",
) -> tuple[dict, DataSpec]:
    """Splits and spec of one graph whose nodes carry labels y (-1: none; no labelled node at all: no
    classes). `train_nodes`: `random`, or `hubs` (with train_per_class: the best-connected of each class)."""
    if train_nodes not in ("random", "hubs"):
        raise ArchtrainError(f"unknown train_nodes '{train_nodes}'; choose from random, hubs")
    graph.edge_index = to_undirected(graph.edge_index, num_nodes=graph.num_nodes)
    labelled = bool((graph.y >= 0).any())
    hubs = degree(graph.edge_index[0], graph.num_nodes) if train_nodes == "hubs" else None
    masks = (
        node_masks(graph.y, seed, val_fraction, test_fraction, train_per_class, hubs)
        if labelled
        else {name: torch.zeros(graph.num_nodes, dtype=torch.bool) for name in SPLITS}
    )
    classes = int(graph.y.max()) + 1 if labelled else None
    spec = DataSpec(in_features=graph.num_features, num_classes=classes, num_graphs=1, vocab=names)
    return one_graph_splits(graph, masks, seed), spec


def graph_sets(graphs: list[Data], seed: int, val_fraction: float, test_fraction: float) -> dict[str, list[Data]]:
    """Many graphs split into sets of graphs."""
    return {
        name: [graphs[i] for i in index.tolist()]
        for name, index in split_indices(len(graphs), val_fraction, test_fraction, seed).items()
    }


def graph_set_spec(graphs: list[Data], **fields) -> DataSpec:
    return DataSpec(in_features=graphs[0].num_features, num_graphs=len(graphs), **fields)


# --- real graphs that networkx ships


def louvain_labels(graph: nx.Graph) -> list[int]:
    """Each node's community by Louvain modularity (seed 0, so the labels never change)."""
    community = {node: c for c, nodes in enumerate(nx.community.louvain_communities(graph, seed=0)) for node in nodes}
    return [community[node] for node in graph]


NETWORKX = {  # name -> (graph, how its nodes are labelled: an attribute, a function, or None)
    "karate": (nx.karate_club_graph, "club"),
    "les_miserables": (nx.les_miserables_graph, louvain_labels),
    "davis_women": (nx.davis_southern_women_graph, "bipartite"),
    "florentine": (nx.florentine_families_graph, None),
}


class NetworkxGraph(GraphData):
    """A small real graph from networkx; each node's feature is its one-hot identity (nothing but the
    graph to go on, as in Kipf & Welling's karate club example)."""

    def __init__(
        self,
        graph: str,
        val_fraction: float,
        test_fraction: float,
        train_per_class: int | None = None,
        train_nodes: str = "random",
        seed: int = 0,
    ):
        super().__init__(1, seed)
        if graph not in NETWORKX:
            raise ArchtrainError(f"unknown graph '{graph}'; choose from {', '.join(NETWORKX)}")
        self.graph, self.train_per_class, self.train_nodes = graph, train_per_class, train_nodes
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        make, label = NETWORKX[self.graph]
        nx_graph = nx.convert_node_labels_to_integers(make())
        values = label(nx_graph) if callable(label) else [nx_graph.nodes[n][label] for n in nx_graph] if label else []
        names = tuple(sorted({str(v) for v in values}))
        y = torch.tensor([names.index(str(v)) for v in values]) if values else torch.full((len(nx_graph),), -1)
        graph = Data(x=torch.eye(len(nx_graph)), edge_index=from_networkx(nx_graph).edge_index, y=y)
        return labelled_graph(
            graph, self.seed, self.val_fraction, self.test_fraction, self.train_per_class, names, self.train_nodes
        )


# --- generated graphs


def block_model(nodes: int, communities: int, degree: float, homophily: float, generator: torch.Generator):
    """Community labels and undirected edges of a sparse stochastic block model: nodes*degree/2 edges, each
    from a uniform node to a uniform node of its own community with probability `homophily`, else of another."""
    y = torch.arange(nodes) % communities
    y = y[torch.randperm(nodes, generator=generator)]
    members = [(y == c).nonzero().flatten() for c in range(communities)]
    edges = nodes * degree / 2
    source = torch.randint(nodes, (int(edges),), generator=generator)
    same = torch.rand(len(source), generator=generator) < homophily
    offset = torch.randint(1, max(communities, 2), (len(source),), generator=generator)
    target_community = torch.where(same, y[source], (y[source] + offset) % communities)
    sizes = torch.tensor([len(m) for m in members])
    pick = (torch.rand(len(source), generator=generator) * sizes[target_community]).long()
    order = torch.cat(members)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]])
    target = order[starts[target_community] + pick]
    keep = source != target
    return y, to_undirected(torch.stack([source[keep], target[keep]]), num_nodes=nodes)


class BlockModel(GraphData):
    """Stochastic block model: `communities` equal communities as labels, mean degree `degree`, and
    `homophily` the share of edges inside a community (1/communities: edges ignore communities). Node
    features are noisy: a community's centre (length `signal`) plus unit Gaussian noise in `feature_size`
    dimensions. With `graphs` > 1 the graphs are split instead of the nodes (inductive)."""

    def __init__(
        self,
        nodes: int,
        communities: int,
        degree: float,
        homophily: float,
        feature_size: int,
        signal: float,
        val_fraction: float,
        test_fraction: float,
        graphs: int = 1,
        train_per_class: int | None = None,
        seed: int = 0,
    ):
        super().__init__(1, seed)
        if not 0 <= homophily <= 1:
            raise ArchtrainError(f"homophily={homophily}: must be in [0, 1]")
        self.nodes, self.communities, self.degree, self.homophily = nodes, communities, degree, homophily
        self.feature_size, self.signal, self.graphs = feature_size, signal, graphs
        self.val_fraction, self.test_fraction, self.train_per_class = val_fraction, test_fraction, train_per_class

    def make(self, generator: torch.Generator, centres: torch.Tensor) -> Data:
        y, edge_index = block_model(self.nodes, self.communities, self.degree, self.homophily, generator)
        x = centres[y] + torch.randn(self.nodes, self.feature_size, generator=generator)
        return Data(x=x, edge_index=edge_index, y=y, mask=torch.ones(self.nodes, dtype=torch.bool))

    def load(self):
        generator = torch.Generator().manual_seed(self.seed)
        centres = torch.nn.functional.normalize(torch.randn(self.communities, self.feature_size, generator=generator))
        centres = self.signal * centres
        if self.graphs == 1:
            return labelled_graph(
                self.make(generator, centres), self.seed, self.val_fraction, self.test_fraction, self.train_per_class
            )
        graphs = [self.make(generator, centres) for _ in range(self.graphs)]
        return graph_sets(graphs, self.seed, self.val_fraction, self.test_fraction), graph_set_spec(
            graphs, num_classes=self.communities
        )


def constant_features(graph: nx.Graph, label: int) -> Data:
    """A networkx graph with the feature 1 on every node, and one label."""
    data = from_networkx(graph) if graph.number_of_edges() else Data(edge_index=torch.zeros(2, 0, dtype=torch.long))
    return Data(x=torch.ones(graph.number_of_nodes(), 1), edge_index=data.edge_index, y=torch.tensor([label]))


FAMILIES = {  # random graph families of mean degree about 4
    "erdos_renyi": lambda n, rng: nx.gnp_random_graph(n, 4 / (n - 1), seed=rng),
    "barabasi_albert": lambda n, rng: nx.barabasi_albert_graph(n, 2, seed=rng),
    "watts_strogatz": lambda n, rng: nx.watts_strogatz_graph(n, 4, 0.1, seed=rng),
    "random_geometric": lambda n, rng: nx.random_geometric_graph(n, (4 / (math.pi * (n - 1))) ** 0.5, seed=rng),
}


class GraphFamilies(GraphData):
    """Graph classification: which random family a graph was drawn from (Erdős–Rényi, Barabási–Albert,
    Watts–Strogatz, random geometric), all of mean degree about 4 and `min_nodes`..`max_nodes` nodes;
    nodes carry no features, so only the structure tells."""

    def __init__(
        self,
        samples: int,
        min_nodes: int,
        max_nodes: int,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        seed: int = 0,
    ):
        super().__init__(batch_size, seed)
        if not 6 <= min_nodes <= max_nodes:
            raise ArchtrainError(f"min_nodes={min_nodes}, max_nodes={max_nodes}: need 6 <= min_nodes <= max_nodes")
        self.samples, self.min_nodes, self.max_nodes = samples, min_nodes, max_nodes
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        rng = torch.Generator().manual_seed(self.seed)
        makers = list(FAMILIES.values())
        graphs = []
        for i in range(self.samples):
            n = int(torch.randint(self.min_nodes, self.max_nodes + 1, (1,), generator=rng))
            label = i % len(makers)
            graphs.append(constant_features(makers[label](n, int(torch.randint(2**31, (1,), generator=rng))), label))
        return graph_sets(graphs, self.seed, self.val_fraction, self.test_fraction), graph_set_spec(
            graphs, num_classes=len(makers), vocab=tuple(FAMILIES)
        )


class DegreeCounting(GraphData):
    """Graph classification by counting neighbours: random d-regular graphs of `nodes` nodes, one class per
    degree in `degrees`, with no node features. Every node looks the same to a mean over neighbours, so
    only sum aggregation can tell the classes apart (Xu et al., 2019)."""

    def __init__(
        self,
        samples: int,
        nodes: int,
        degrees: list[int],
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        seed: int = 0,
    ):
        super().__init__(batch_size, seed)
        impossible = [d for d in degrees if not 1 <= d < nodes or d * nodes % 2]
        if impossible:
            raise ArchtrainError(f"degrees={degrees}: no {impossible[0]}-regular graph has {nodes} nodes")
        self.samples, self.nodes, self.degrees = samples, nodes, degrees
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        graphs = [
            constant_features(
                nx.random_regular_graph(self.degrees[i % len(self.degrees)], self.nodes, seed=self.seed * 100_003 + i),
                i % len(self.degrees),
            )
            for i in range(self.samples)
        ]
        return graph_sets(graphs, self.seed, self.val_fraction, self.test_fraction), graph_set_spec(
            graphs, num_classes=len(self.degrees), vocab=tuple(f"{d}-regular" for d in self.degrees)
        )


# --- the user's files under data.root


def folder(root: str | None) -> Path:
    path = Path(root or "").expanduser()
    if not root or not path.is_dir():
        raise ArchtrainError(f"data.root: no such folder '{root}'")
    return path


class CsvGraph(GraphData):
    """One graph from `root`/nodes.csv (id, label, features...) and `root`/edges.csv (source, target)."""

    def __init__(
        self,
        root: str | None,
        val_fraction: float,
        test_fraction: float,
        train_per_class: int | None = None,
        seed: int = 0,
    ):
        super().__init__(1, seed)
        self.root, self.train_per_class = root, train_per_class
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        graph, names = read_csv_graph(folder(self.root))
        return labelled_graph(
            graph, self.seed, self.val_fraction, self.test_fraction, self.train_per_class, tuple(names)
        )


class TUGraphs(GraphData):
    """Graph classification on a dataset in the TU text format: `root`/`dataset`_A.txt and its companions."""

    def __init__(
        self, root: str | None, dataset: str, batch_size: int, val_fraction: float, test_fraction: float, seed: int = 0
    ):
        super().__init__(batch_size, seed)
        self.root, self.dataset = root, dataset
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        graphs = read_tu(folder(self.root), self.dataset)
        return graph_sets(graphs, self.seed, self.val_fraction, self.test_fraction), graph_set_spec(
            graphs, num_classes=int(max(g.y for g in graphs)) + 1
        )


class Planetoid(GraphData):
    """Cora, CiteSeer or PubMed from Planetoid's raw files in `root`, with their standard split."""

    def __init__(self, root: str | None, dataset: str, seed: int = 0):
        super().__init__(1, seed)
        self.root, self.dataset = root, dataset.lower()

    def load(self):
        graph = read_planetoid(folder(self.root), self.dataset)
        masks = {"train": graph.train_mask, "val": graph.val_mask, "test": graph.test_mask}
        spec = DataSpec(in_features=graph.num_features, num_classes=int(graph.y.max()) + 1, num_graphs=1)
        plain = Data(x=graph.x, edge_index=graph.edge_index, y=graph.y)
        return one_graph_splits(plain, masks, self.seed), spec
