"""Readers of graphs in the user's files: a CSV edge list with a CSV of nodes, the TU dataset text format,
and Planetoid's raw files. A malformed file stops the run with one line naming the file and the line."""

import csv
from pathlib import Path

import torch
from torch_geometric.data import Data

from archtrain.errors import ArchtrainError


def existing(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ArchtrainError(f"data.root: no file '{path}'")
    return path


def rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, comma-separated fields stripped) of each non-empty line."""
    with open(path, newline="", encoding="utf-8") as handle:
        try:
            return [
                (number, [field.strip() for field in fields])
                for number, fields in enumerate(csv.reader(handle), start=1)
                if any(f.strip() for f in fields)
            ]
        except (UnicodeDecodeError, csv.Error) as err:
            raise ArchtrainError(f"{path}: not a text file of comma-separated values ({err})") from None


def number(path: Path, line: int, text: str, kind: type = float):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ArchtrainError(f"{path}, line {line}: '{text}' is not {what}") from None


def numeric_table(path: Path, kind: type, columns: int | None = None) -> torch.Tensor:
    """A file of numbers, `columns` per line (or as many as the first line has)."""
    found = rows(path)
    if not found:
        raise ArchtrainError(f"{path}: the file is empty")
    width = columns or len(found[0][1])
    values = []
    for line, fields in found:
        if len(fields) != width:
            raise ArchtrainError(f"{path}, line {line}: {len(fields)} values where {width} are expected")
        values.append([number(path, line, field, kind) for field in fields])
    return torch.tensor(values, dtype=torch.long if kind is int else torch.float32)


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    """Integer labels (any values) as one-hot rows, in the order of their sorted values."""
    _, index = labels.unique(return_inverse=True)
    return torch.nn.functional.one_hot(index).float()


def read_csv_graph(folder: Path) -> tuple[Data, list[str]]:
    """`nodes.csv` (a header `id,label,<feature>...`; an empty label leaves the node unlabelled) and
    `edges.csv` (a header, then `source,target` ids from nodes.csv). Returns the graph, with y = -1 on
    unlabelled nodes, and the class names."""
    nodes_file, edges_file = existing(folder, "nodes.csv"), existing(folder, "edges.csv")
    nodes = rows(nodes_file)
    if len(nodes) < 2 or len(nodes[0][1]) < 2 or nodes[0][1][:2] != ["id", "label"]:
        raise ArchtrainError(f"{nodes_file}, line 1: expected a header 'id,label[,feature...]' and one row per node")
    width = len(nodes[0][1])
    ids, labels, features = {}, [], []
    for line, fields in nodes[1:]:
        if len(fields) != width:
            raise ArchtrainError(f"{nodes_file}, line {line}: {len(fields)} values where the header has {width}")
        if fields[0] in ids:
            raise ArchtrainError(f"{nodes_file}, line {line}: node '{fields[0]}' appears twice")
        ids[fields[0]] = len(ids)
        labels.append(fields[1])
        features.append([number(nodes_file, line, field) for field in fields[2:]])
    edges = []
    for line, fields in rows(edges_file)[1:]:
        if len(fields) != 2:
            raise ArchtrainError(
                f"{edges_file}, line {line}: {len(fields)} values where 2 (source,target) are expected"
            )
        unknown = [node for node in fields if node not in ids]
        if unknown:
            raise ArchtrainError(f"{edges_file}, line {line}: node '{unknown[0]}' is not in {nodes_file.name}")
        edges.append([ids[fields[0]], ids[fields[1]]])
    names = sorted({label for label in labels if label})
    y = torch.tensor([names.index(label) if label else -1 for label in labels])
    x = torch.tensor(features) if width > 2 else torch.ones(len(ids), 1)
    edge_index = torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)
    return Data(x=x, edge_index=edge_index, y=y), names


def read_tu(folder: Path, name: str) -> list[Data]:
    """The TU dataset text format: `<name>_A.txt` (edges `i, j`, node ids from 1), `_graph_indicator.txt`
    (each node's graph, from 1), `_graph_labels.txt`, and optionally `_node_labels.txt` (one-hot
    features) and `_node_attributes.txt`; nodes without either get the constant feature 1."""

    def table(suffix: str, kind: type, columns: int | None = None) -> torch.Tensor:
        return numeric_table(existing(folder, f"{name}_{suffix}.txt"), kind, columns)

    edges, graph_of = table("A", int, 2) - 1, table("graph_indicator", int, 1)[:, 0] - 1
    labels = table("graph_labels", int, 1)[:, 0]
    nodes, graphs = len(graph_of), len(labels)
    check_range(folder / f"{name}_A.txt", edges, nodes, "node")
    check_range(folder / f"{name}_graph_indicator.txt", graph_of, graphs, "graph")
    parts = [
        table(suffix, kind).float() if kind is float else one_hot(table(suffix, int, 1)[:, 0])
        for suffix, kind in (("node_labels", int), ("node_attributes", float))
        if (folder / f"{name}_{suffix}.txt").is_file()
    ]
    for suffix, part in zip(("node_labels", "node_attributes"), parts):
        if len(part) != nodes:
            raise ArchtrainError(f"{folder / f'{name}_{suffix}.txt'}: {len(part)} lines for {nodes} nodes")
    x = torch.cat(parts, 1) if parts else torch.ones(nodes, 1)
    _, y = labels.unique(return_inverse=True)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(graph_of, minlength=graphs).cumsum(0)])
    if not bool((graph_of[1:] >= graph_of[:-1]).all()):
        raise ArchtrainError(f"{folder / f'{name}_graph_indicator.txt'}: the nodes of each graph must be consecutive")
    graphs_of_edges = graph_of[edges[:, 0]]
    crossing = (graphs_of_edges != graph_of[edges[:, 1]]).nonzero()
    if len(crossing):
        raise ArchtrainError(f"{folder / f'{name}_A.txt'}, line {int(crossing[0]) + 1}: an edge between two graphs")
    result = []
    for g in range(graphs):
        own = edges[graphs_of_edges == g] - starts[g]
        result.append(Data(x=x[starts[g] : starts[g + 1]], edge_index=own.t().contiguous(), y=y[g : g + 1]))
    return result


def check_range(path: Path, ids: torch.Tensor, count: int, what: str) -> None:
    """Every id (from 0 here, from 1 in the file) names one of `count`; otherwise the first bad line."""
    bad = ((ids < 0) | (ids >= count)).reshape(len(ids), -1).any(1).nonzero()
    if len(bad):
        raise ArchtrainError(f"{path}, line {int(bad[0]) + 1}: a {what} id outside 1..{count}")


PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def read_planetoid(folder: Path, name: str) -> Data:
    """Planetoid's raw files (`ind.<name>.x`, `.tx`, `.allx`, `.y`, `.ty`, `.ally`, `.graph`, `.test.index`),
    read by PyG's own reader, with its standard train/val/test masks."""
    from torch_geometric.io.planetoid import read_file, read_planetoid_data

    for suffix in PLANETOID_FILES:
        path = existing(folder, f"ind.{name}.{suffix}")
        if suffix == "test.index":
            numeric_table(path, int, 1)
            continue
        try:
            read_file(str(folder), name, suffix)
        except Exception as err:  # a pickle can fail in many ways
            raise ArchtrainError(f"{path}: not a Planetoid raw file ({type(err).__name__}: {err})") from None
    try:
        return read_planetoid_data(str(folder), name)
    except (IndexError, RuntimeError, ValueError) as err:  # files that do not fit together
        raise ArchtrainError(
            f"{folder}/ind.{name}.*: the Planetoid files do not fit together "
            f"({type(err).__name__}: {err}); the standard split takes the 500 nodes after "
            f"the training nodes for val"
        ) from None
