"""Graph neural networks: the models on tiny graphs, each shown learning, the three graph tasks through the
command line, the generated and networkx data, and the refusals."""

import pytest
import torch
import torch.nn.functional as F
from conftest import train
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from archtrain.assemble import assemble, check_task
from archtrain.catalog import CONF
from archtrain.checks import check_fit
from archtrain.cli import main
from archtrain.data import build_datamodule
from archtrain.data.graphs import BlockModel, DegreeCounting, GraphFamilies, NetworkxGraph, node_masks
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models import build_net
from archtrain.models.protocol import Head
from archtrain.schema import register

GNNS = ("gcn", "gat", "gin", "graphsage")
MODELS = (*GNNS, "graph_mlp")
FAST = ["hardware.threads=1", "optim.lr=0.01"]


def config(*overrides: str):
    register()
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


def model_config(name: str, **knobs):
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    cfg.pop("defaults")
    return OmegaConf.merge(cfg, {"width": 8, **knobs})


def tiny_batch():
    """Two small graphs in one PyG batch: a triangle and a path of four nodes."""
    from torch_geometric.data import Batch, Data

    triangle = Data(x=torch.randn(3, 5), edge_index=torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]]))
    path = Data(x=torch.randn(4, 5), edge_index=torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]))
    return Batch.from_data_list([triangle, path])


KNOBS = [
    {"residual": True, "depth": 3},
    {"jumping_knowledge": "cat"},
    {"jumping_knowledge": "lstm"},
    {"jumping_knowledge": "max", "pooling": "attention"},
    {"pooling": "max"},
]
CASES = [(name, {}) for name in MODELS] + [(name, knobs) for name in ("gcn", "gin") for knobs in KNOBS]


@pytest.mark.parametrize(
    "name, knobs", CASES, ids=[f"{n}-{'-'.join(map(str, k.values())) or 'plain'}" for n, k in CASES]
)
def test_every_graph_model_reads_out_per_node_or_per_graph_through_its_head(name, knobs):
    torch.manual_seed(0)
    batch, spec = tiny_batch(), DataSpec(in_features=5, num_classes=3)
    for per_step, rows in ((True, 7), (False, 2)):
        net = build_net(model_config(name, **knobs), spec, Head(3, per_step)).eval()
        with torch.no_grad():
            features = net.features(batch)
            assert features.shape == (rows, net.num_features)
            torch.testing.assert_close(net(batch), net.head(features))
        net.reset_head(6)
        assert net(batch).shape == (rows, 6)


def test_bad_graph_model_knobs_are_one_line_errors():
    spec = DataSpec(in_features=5, num_classes=3)
    for name, knobs, message in [
        ("gcn", {"pooling": "median"}, "unknown pooling 'median'"),
        ("gat", {"width": 10, "heads": 4}, "width=10 is not divisible by heads=4"),
        ("graphsage", {"aggregation": "sum"}, "unknown aggregation 'sum'"),
        ("gin", {"jumping_knowledge": "sum"}, "unknown jumping_knowledge 'sum'"),
    ]:
        with pytest.raises(ArchtrainError, match=message):
            build_net(model_config(name, **knobs), spec, Head(3, True))


def fit_nodes(name: str, data, epochs: int, **knobs) -> float:
    """Train a model full-batch on one graph's training nodes; its test accuracy."""
    from archtrain.tasks.graph import NodeClassify

    torch.manual_seed(0)
    spec = data.spec
    net = build_net(model_config(name, width=16, **knobs), spec, NodeClassify.head(spec))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02, weight_decay=5e-4)
    train_graph, test_graph = data.splits["train"][0], data.splits["test"][0]
    for _ in range(epochs):
        optimizer.zero_grad()
        F.cross_entropy(net(train_graph)[train_graph.mask], train_graph.y[train_graph.mask]).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = net.eval()(test_graph).argmax(-1)
    return float((predicted == test_graph.y)[test_graph.mask].float().mean())


def test_on_a_homophilous_block_model_every_graph_network_beats_node_features_alone(one_thread):
    data = BlockModel(
        nodes=400,
        communities=4,
        degree=8.0,
        homophily=0.9,
        feature_size=8,
        signal=0.6,
        val_fraction=0.2,
        test_fraction=0.5,
    )
    baseline = fit_nodes("graph_mlp", data, 60)
    for name in GNNS:
        assert fit_nodes(name, data, 60) > baseline + 0.25, name
    assert baseline < 0.6


def test_block_model_homophily_is_the_share_of_edges_inside_communities():
    for homophily in (0.25, 0.9):
        data = BlockModel(
            nodes=2000,
            communities=4,
            degree=10.0,
            homophily=homophily,
            feature_size=2,
            signal=1.0,
            val_fraction=0.2,
            test_fraction=0.2,
        )
        data.setup()
        graph = data.splits["train"][0]
        inside = (graph.y[graph.edge_index[0]] == graph.y[graph.edge_index[1]]).float().mean()
        assert abs(float(inside) - homophily) < 0.03
        assert abs(graph.num_edges / graph.num_nodes - 10) < 0.5
        masks = [data.splits[s][0].mask for s in ("train", "val", "test")]
        assert int(sum(m.long() for m in masks).max()) == 1 and sum(int(m.sum()) for m in masks) == 2000


def test_inductive_block_model_trains_and_tests_on_different_graphs():
    data = BlockModel(
        nodes=50,
        communities=2,
        degree=4.0,
        homophily=0.9,
        feature_size=3,
        signal=1.0,
        val_fraction=0.2,
        test_fraction=0.2,
        graphs=5,
    )
    data.setup()
    assert data.spec.num_graphs == 5 and [len(data.splits[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert all(bool(g.mask.all()) for g in data.splits["test"])


def test_train_per_class_labels_that_many_nodes_of_each_class_and_hubs_picks_the_best_connected():
    karate = NetworkxGraph("karate", val_fraction=0.2, test_fraction=0.5, train_per_class=1, train_nodes="hubs")
    karate.setup()
    train_graph = karate.splits["train"][0]
    assert train_graph.mask.nonzero().flatten().tolist() == [0, 33]  # the instructor and the administrator
    assert karate.spec == DataSpec(in_features=34, num_classes=2, num_graphs=1, vocab=("Mr. Hi", "Officer"))
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, -1])
    masks = node_masks(y, seed=3, val_fraction=0.2, test_fraction=0.3, train_per_class=2)
    assert y[masks["train"]].bincount().tolist() == [2, 2, 2] and int(masks["val"].sum()) == 2
    assert int(masks["test"].sum()) == 4 and not masks["val"][12] and not masks["test"][12]


@pytest.mark.parametrize(
    "graph, classes, nodes",
    [("karate", 2, 34), ("les_miserables", 6, 77), ("davis_women", 2, 32), ("florentine", None, 15)],
)
def test_the_networkx_graphs_load_with_their_labels(graph, classes, nodes):
    data = NetworkxGraph(graph, val_fraction=0.2, test_fraction=0.5)
    data.setup()
    assert data.spec.num_classes == classes and data.splits["train"][0].num_nodes == nodes
    held_out = data.splits["test"][0]
    assert held_out.link_label.sum() * 2 == len(held_out.link_label)  # as many non-edges as edges
    assert held_out.link_edge_index.size(1) < held_out.edge_index.size(1)  # test edges pass no messages


def test_counting_and_family_graphs_have_the_structure_their_labels_name():
    counting = DegreeCounting(samples=8, nodes=10, degrees=[2, 3], batch_size=4, val_fraction=0.25, test_fraction=0.25)
    counting.setup()
    for graph in counting.splits["train"]:
        assert graph.num_edges == 10 * [2, 3][int(graph.y)] and graph.x.unique().tolist() == [1.0]
    families = GraphFamilies(samples=8, min_nodes=10, max_nodes=12, batch_size=4, val_fraction=0.25, test_fraction=0.25)
    assert families.spec.num_classes == 4 and families.spec.num_graphs == 8
    with pytest.raises(ArchtrainError, match="no 3-regular graph has 9 nodes"):
        DegreeCounting(samples=8, nodes=9, degrees=[2, 3], batch_size=4, val_fraction=0.25, test_fraction=0.25)


def fit_task(*overrides: str, epochs: int) -> float:
    """Train the run that `overrides` describe with its own task and loaders, without Lightning; its test accuracy."""
    torch.manual_seed(0)
    parts = assemble(config(*overrides))
    optimizer = torch.optim.Adam(parts.net.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in parts.data.train_dataloader():
            optimizer.zero_grad()
            parts.task.loss(batch).backward()
            optimizer.step()
    parts.task.eval()
    with torch.no_grad():
        for batch in parts.data.test_dataloader():
            parts.task.evaluate(batch, parts.task.metrics["test"])
    return float(parts.task.metrics["test"]["acc"].compute())


def test_gin_counts_neighbours_where_mean_aggregation_cannot(one_thread):
    small = ["data.samples=100", "model.width=16"]
    assert fit_task("model=gin", *small, epochs=15) >= 0.9
    for model in ("gcn", "graphsage"):  # 4 classes, and every graph looks the same to a mean
        assert fit_task(f"model={model}", "data=degree_counting", *small, epochs=15) <= 0.45


def test_inductive_node_classification_labels_the_nodes_of_unseen_graphs(one_thread):
    accuracy = fit_task("model=graphsage", "data=sbm", "data.graphs=5", "data.nodes=200", "model.width=16", epochs=40)
    assert accuracy >= 0.8  # 4 communities; the features alone give about half that


def test_gcn_alone_classifies_the_karate_club_from_one_member_per_faction_and_eval_agrees(workdir, capsys):
    summary = train(workdir / "run", "model=gcn", "trainer.max_epochs=60", *FAST)
    assert summary["data"] == "karate" and summary["task"] == "node_classify" and summary["steps"] == 60
    assert summary["test"]["test/acc"] >= 0.9
    main(["eval", f"run={workdir / 'run'}"])
    assert f"{summary['test']['test/acc']:.4g}" in capsys.readouterr().out
    for verb, message in [
        (["export", "format=onnx"], "archtrain export writes nets that take tensors; model=gcn"),
        (["predict", f"input={workdir / 'run' / 'config.yaml'}"], "not graph data for task=node_classify"),
    ]:
        with pytest.raises(SystemExit):
            main([verb[0], f"run={workdir / 'run'}", *verb[1:]])
        assert message in capsys.readouterr().err


def test_link_prediction_separates_held_out_edges_from_non_edges(workdir):
    summary = train(
        workdir / "run",
        "model=gcn",
        "data=sbm",
        "task=link_predict",
        "data.nodes=300",
        "data.communities=8",
        "data.homophily=0.95",
        "trainer.max_epochs=30",
        *FAST,
    )
    assert summary["status"] == "completed" and summary["best"]["metric"] == "val/auc"
    assert summary["test"]["test/auc"] >= 0.8


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model=gcn", "data=digits"],
            "model=gcn reads graph or graphs data, but data=digits is image data; data that ",
        ),
        (["model=resnet", "data=karate"], "model=resnet reads image data, but data=karate is graph data"),
        (["model=mlp", "data=sbm"], "model=mlp reads vector or image data, but data=sbm is graph data"),
        (["model=gcn", "data=karate", "task=graph_classify"], "task=graph_classify reads graphs data, but data=karate"),
        (
            ["model=gin", "task=link_predict"],
            "task=link_predict reads graph data, but data=degree_counting is graphs data",
        ),
    ],
)
def test_a_graph_model_with_other_data_or_the_reverse_is_refused_in_one_line(overrides, message):
    with pytest.raises(ArchtrainError, match=message):
        check_fit(config(*overrides))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model=gcn", "data=sbm", "data.graphs=5", "task=link_predict"],
            "task=link_predict holds edges out of one graph",
        ),
        (["model=gcn", "data=florentine", "task=node_classify"], "task=node_classify needs data with class labels"),
        (
            ["model=gcn", "regularizer=[mixup]"],
            "mixup applies to image classification, not to node_classify on graph data",
        ),
        (["model=gcn", "hardware=ddp", "hardware.devices=2"], "data=karate is one graph, trained full-batch in one"),
    ],
)
def test_graph_tasks_refuse_what_they_cannot_train(overrides, message):
    cfg = config(*overrides)
    with pytest.raises(ArchtrainError, match=message):
        check_task(cfg, build_datamodule(cfg.data, seed=0).spec)


def test_each_graph_model_alone_picks_graph_data_and_a_task_that_fits():
    assert (config("model=gcn").data.name, config("model=gcn").task.name) == ("karate", "node_classify")
    assert (config("model=gin").data.name, config("model=gin").task.name) == ("degree_counting", "graph_classify")
    assert config("model=graphsage").data.name == "sbm"
    assert config("model=gcn", "data=florentine").task.name == "link_predict"
    assert config("experiment=karate_gcn").optim.lr == 0.01
