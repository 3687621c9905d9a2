"""Differentiable architecture search: the derived cell follows DARTS' rule, the bilevel search moves the
architecture weights, the cell it derives trains from scratch, and what the search cannot do is refused
in one line."""

import pytest
import torch
import yaml
from conftest import resume, train
from test_reliability import same_weights, weights

from archtrain.errors import ArchtrainError
from archtrain.models.darts import OPERATIONS, DartsCell, DartsSearch, edges, random_genotype, read_genotype

TINY = ["model.channels=8", "optim.lr=0.01", "hardware.threads=1"]
SEARCH = ["model=darts_search", *TINY, "trainer.max_epochs=1", "trainer.limit_train_batches=5"]


def test_the_derived_cell_keeps_each_nodes_strongest_inputs_by_their_strongest_operation_other_than_zero():
    net = DartsSearch(1, 8, 10, channels=4, cells=1, nodes=3)
    names = list(OPERATIONS)
    alphas = torch.zeros(len(edges(3)), len(names))
    strongest = {  # (node, input) -> (operation, its alpha); zero is stronger still on every edge
        (1, 0): ("skip", 1.0),
        (2, 0): ("sep_conv_3x3", 2.0),
        (2, 1): ("max_pool_3x3", 3.0),
        (3, 0): ("dil_conv_3x3", 0.5),
        (3, 1): ("avg_pool_3x3", 2.5),
        (3, 2): ("sep_conv_5x5", 1.5),
    }
    for index, edge in enumerate(edges(3)):
        name, alpha = strongest[edge]
        alphas[index, names.index(name)] = alpha
        alphas[index, names.index("zero")] = 5.0
    net.architecture.alphas.data = alphas
    assert net.derive() == [
        [("skip", 0)],
        [("sep_conv_3x3", 0), ("max_pool_3x3", 1)],
        [("avg_pool_3x3", 1), ("sep_conv_5x5", 2)],  # node 3 drops its weakest input, node 0
    ]


def test_search_and_derived_nets_classify_and_the_search_mixes_every_operation():
    images = torch.rand(3, 1, 8, 8)
    search = DartsSearch(1, 8, 10, channels=4)
    derived = DartsCell(1, 8, 10, genotype="random", genotype_seed=3, channels=4)
    assert search(images).shape == derived(images).shape == (3, 10)
    assert all(len(edge.operations) == len(OPERATIONS) for edge in search.cells[0].edges)
    assert len(derived.cells[0].edges) == 1 + 2 + 2  # node 1 has one predecessor, the others keep two
    assert derived.genotype == random_genotype(3, 3) != random_genotype(3, 4)


def test_a_search_moves_the_architecture_weights_and_its_cell_trains_from_scratch(tmp_path):
    search = train(tmp_path / "search", *SEARCH, "task.arch_lr=0.03")
    assert search["status"] == "completed", search["error"]
    found = yaml.safe_load((tmp_path / "search" / "genotype.yaml").read_text())
    assert found["genotype"] == search["genotype"] and (tmp_path / "search" / "cell.png").stat().st_size > 0
    uniform = 1 / len(OPERATIONS)  # where the weights start, within 1e-3
    assert max(abs(w - uniform) for row in found["architecture_weights"] for w in row) > 0.01
    derived = train(
        tmp_path / "derived",
        "model=darts_cell",
        f"model.genotype={tmp_path / 'search'}",
        *TINY,
        "trainer.max_epochs=3",
    )
    assert derived["status"] == "completed", derived["error"]
    assert derived["test"]["test/acc"] > 0.5  # measured 0.88; ten classes: chance is 0.1


@pytest.mark.slow  # the default suite's time: see README's Development
def test_a_search_resumed_mid_epoch_matches_the_run_that_never_stopped(tmp_path):
    run = [*SEARCH, "trainer.max_epochs=2", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1"]
    whole = train(tmp_path / "whole", *run)
    part = train(tmp_path / "part", *run, "checkpoint.every_n_steps=2", "trainer.max_steps=6")
    assert part["steps"] == 6  # two optimizer steps a batch: inside the second epoch
    resumed = resume(tmp_path / "part", "trainer.max_steps=-1")
    assert resumed["steps"] == whole["steps"] == 8
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "part"))


def test_a_genotype_that_is_not_a_cell_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("genotype: [[[conv_9x9, 0]]]\n")
    with pytest.raises(ArchtrainError, match="not a cell; expected per node"):
        read_genotype(str(bad))
    with pytest.raises(ArchtrainError, match="no such search run or genotype file"):
        read_genotype(str(tmp_path / "missing"))


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=resnet task=darts", "searches the cell of model=darts_search"),
        ("scheduler=cosine", "takes no learning-rate schedule"),
        ("model=darts_cell model.genotype=nowhere", "no such search run or genotype file"),
        ("model.operations=[zero,conv_9x9]", "choose one or more of zero, skip"),
    ],
)
def test_what_the_search_cannot_do_is_refused_in_one_line(override, message, tmp_path):
    summary = train(tmp_path / "run", "model=darts_search", *override.split())
    assert summary["exit_code"] == 2 and summary["status"] == "failed"
    assert message in summary["error"] and "\n" not in summary["error"]


@pytest.mark.slow
def test_a_longer_search_keeps_deciding_and_its_cell_trains_well(tmp_path):
    search = train(tmp_path / "search", "model=darts_search", "trainer.max_epochs=5", "hardware.threads=1")
    rows = (tmp_path / "search" / "metrics.csv").read_text().splitlines()
    column = rows[0].split(",").index("train/arch_entropy")
    entropy = [float(row.split(",")[column]) for row in rows[1:] if row.split(",")[column]]
    assert entropy == sorted(entropy, reverse=True) and entropy[-1] < entropy[0]  # each epoch less uniform
    derived = train(
        tmp_path / "derived",
        "model=darts_cell",
        f"model.genotype={tmp_path / 'search'}",
        "trainer.max_epochs=5",
        "hardware.threads=1",
    )
    assert search["test"]["test/acc"] > 0.95 and derived["test"]["test/acc"] > 0.9  # measured 0.969 and 0.933
