"""The user's graph files: a CSV edge list with nodes, the TU format and Planetoid's raw files, each
written tiny here; a malformed file stops with one line naming the file and the line."""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import train

from archtrain.data.graph_files import read_tu
from archtrain.data.graphs import CsvGraph, Planetoid, TUGraphs
from archtrain.errors import ArchtrainError


def write(folder, files: dict[str, str]):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def two_triangles(folder):
    """Two triangles joined by one edge; a, b, c are class x, d, e class y, f unlabelled."""
    return write(
        folder,
        {
            "nodes.csv": "id,label,f1,f2\na,x,1,0\nb,x,1,0.5\nc,x,0.9,0\nd,y,0,1\ne,y,0,1.1\nf,,0.1,0.9\n",
            "edges.csv": "source,target\na,b\nb,c\nc,a\nc,d\nd,e\ne,f\nf,d\n",
        },
    )


def test_a_csv_graph_reads_its_nodes_labels_features_and_edges(tmp_path):
    data = CsvGraph(str(two_triangles(tmp_path / "g")), val_fraction=0.2, test_fraction=0.2)
    data.setup()
    graph = data.splits["train"][0]
    assert data.spec.num_classes == 2 and data.spec.in_features == 2 and data.spec.vocab == ("x", "y")
    assert graph.y.tolist() == [0, 0, 0, 1, 1, -1] and graph.num_edges == 14  # both directions
    assert not any(bool(data.splits[s][0].mask[5]) for s in ("train", "val", "test"))


@pytest.mark.parametrize(
    "file, text, message",
    [
        ("edges.csv", "source,target\na,b\nb,z\n", "edges.csv, line 3: node 'z' is not in nodes.csv"),
        ("edges.csv", "source,target\na,b,c\n", "edges.csv, line 2: 3 values where 2 (source,target) are expected"),
        ("nodes.csv", "id,label,f1\na,x,1\nb,x,one\n", "nodes.csv, line 3: 'one' is not a number"),
        ("nodes.csv", "id,label,f1\na,x,1\na,y,2\n", "nodes.csv, line 3: node 'a' appears twice"),
        ("nodes.csv", "name,class\na,x\n", "nodes.csv, line 1: expected a header 'id,label"),
    ],
)
def test_a_malformed_csv_graph_names_the_file_and_the_line(tmp_path, file, text, message):
    folder = two_triangles(tmp_path / "g")
    (folder / file).write_text(text)
    with pytest.raises(ArchtrainError, match=re.escape(message)):
        CsvGraph(str(folder), val_fraction=0.2, test_fraction=0.2).setup()


def tu_files(folder, edges: str = "1, 2\n2, 1\n2, 3\n3, 2\n4, 5\n5, 4\n"):
    """Two graphs in the TU format: a path of 3 nodes (label 1), an edge of 2 nodes (label -1)."""
    return write(
        folder,
        {
            "T_A.txt": edges,
            "T_graph_indicator.txt": "1\n1\n1\n2\n2\n",
            "T_graph_labels.txt": "1\n-1\n",
            "T_node_labels.txt": "0\n1\n0\n2\n2\n",
            "T_node_attributes.txt": "0.5\n1.5\n0.5\n2.0\n2.0\n",
        },
    )


def test_a_tu_dataset_reads_each_graph_with_its_label_and_node_features(tmp_path):
    folder = tu_files(tmp_path / "tu")
    graphs = read_tu(folder, "T")
    assert [g.num_nodes for g in graphs] == [3, 2] and [int(g.y) for g in graphs] == [1, 0]
    assert graphs[0].edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert graphs[1].edge_index.tolist() == [[0, 1], [1, 0]]
    assert graphs[0].x.tolist() == [[1, 0, 0, 0.5], [0, 1, 0, 1.5], [1, 0, 0, 0.5]]  # one-hot label, then attribute


@pytest.mark.parametrize(
    "edges, message",
    [
        ("1, 2\n2, x\n", "T_A.txt, line 2: 'x' is not an integer"),
        ("1, 2\n2, 9\n", "T_A.txt, line 2: a node id outside 1..5"),
        ("1, 2\n3, 4\n", "T_A.txt, line 2: an edge between two graphs"),
        ("1, 2\n3\n", "T_A.txt, line 2: 1 values where 2 are expected"),
    ],
)
def test_a_malformed_tu_file_names_the_file_and_the_line(tmp_path, edges, message):
    folder = tu_files(tmp_path / "tu", edges)
    with pytest.raises(ArchtrainError, match=re.escape(message)):
        TUGraphs(str(folder), "T", batch_size=2, val_fraction=0.2, test_fraction=0.2).setup()


def test_a_missing_file_or_folder_is_one_line(tmp_path):
    with pytest.raises(ArchtrainError, match="data.root: no such folder"):
        CsvGraph(str(tmp_path / "nothing"), val_fraction=0.2, test_fraction=0.2).setup()
    with pytest.raises(ArchtrainError, match=r"data.root: no file '.*T_graph_labels.txt'"):
        (tu_files(tmp_path / "tu") / "T_graph_labels.txt").unlink()
        TUGraphs(str(tmp_path / "tu"), "T", batch_size=2, val_fraction=0.2, test_fraction=0.2).setup()


def planetoid_files(folder, name: str = "toy"):
    """Planetoid's raw files for 520 nodes of 2 classes (PyG's reader takes the 500 after the 20 training
    nodes for val; the last 10 are the test nodes), two features each, on a ring."""
    folder.mkdir(exist_ok=True)
    nodes = 520
    labels = np.arange(nodes) % 2
    features = sp.csr_matrix(np.stack([labels, 1 - labels], 1).astype(np.float32))
    onehot = np.eye(2)[labels]
    objects = {
        "x": features[:20],
        "y": onehot[:20],
        "allx": features[:510],
        "ally": onehot[:510],
        "tx": features[510:],
        "ty": onehot[510:],
        "graph": {i: [(i + 1) % nodes] for i in range(nodes)},
    }
    for suffix, value in objects.items():
        with open(folder / f"ind.{name}.{suffix}", "wb") as handle:
            pickle.dump(value, handle)
    (folder / f"ind.{name}.test.index").write_text("\n".join(map(str, range(510, nodes))) + "\n")
    return folder


def test_planetoid_raw_files_read_with_their_standard_split_and_train(tmp_path, workdir):
    folder = planetoid_files(tmp_path / "planetoid")
    data = Planetoid(str(folder), "toy")
    assert data.spec.num_classes == 2 and data.spec.in_features == 2 and data.spec.num_graphs == 1
    assert int(data.splits["train"][0].mask.sum()) == 20 and int(data.splits["val"][0].mask.sum()) == 500
    assert data.splits["test"][0].mask.nonzero().flatten().tolist() == list(range(510, 520))
    summary = train(
        workdir / "run",
        "model=gcn",
        "data=planetoid",
        f"data.root={folder}",
        "data.dataset=toy",
        "trainer.max_epochs=2",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed" and summary["data"] == "planetoid"


def test_broken_planetoid_files_name_the_file(tmp_path):
    folder = planetoid_files(tmp_path / "planetoid")
    (folder / "ind.toy.tx").write_bytes(b"not a pickle")
    with pytest.raises(ArchtrainError, match=r"ind.toy.tx: not a Planetoid raw file"):
        Planetoid(str(folder), "toy").setup()
    planetoid_files(folder)
    (folder / "ind.toy.test.index").write_text("510\nseven\n")
    with pytest.raises(ArchtrainError, match=r"ind.toy.test.index, line 2: 'seven' is not an integer"):
        Planetoid(str(folder), "toy").setup()


def test_a_csv_graph_trains_from_the_command_line(tmp_path, workdir):
    folder = two_triangles(tmp_path / "g")
    summary = train(
        workdir / "run",
        "model=gcn",
        "data=csv_graph",
        f"data.root={folder}",
        "trainer.max_epochs=2",
        "hardware.threads=1",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
    )
    assert summary["status"] == "completed" and summary["task"] == "node_classify"
    assert torch.isfinite(torch.tensor(summary["test"]["test/loss"]))
