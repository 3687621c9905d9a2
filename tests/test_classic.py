"""Classic and brain-inspired networks, each shown doing what it is known for on tiny data: an RBF
network separates XOR and moons where a linear model cannot, a Hopfield network recalls patterns
from corrupted probes (and a modern one is attention), an RBM learns digits by contrastive divergence,
a spiking network classifies digits, and feedback alignment learns with random feedback."""

import re

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import resume, train
from test_bad_input import one_error_line, run_main
from test_reliability import same_weights, weights
from test_tasks import config

from archtrain.assemble import check_task
from archtrain.data import build_datamodule
from archtrain.errors import ArchtrainError
from archtrain.models.hopfield import HopfieldNetwork, ModernHopfield
from archtrain.models.rbf import RBFNetwork
from archtrain.models.rbm import RBM
from archtrain.models.spiking import SpikingNet
from archtrain.tasks.hopfield import corrupt
from archtrain.training.feedback_alignment import FeedbackLinear, angle_degrees

THREADS = "hardware.threads=1"


def epochs(run_dir) -> pd.DataFrame:
    """metrics.csv as one row per epoch."""
    return pd.read_csv(run_dir / "metrics.csv").groupby("epoch").mean()


def random_patterns(count: int, neurons: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, (count, neurons), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1


# RBF network


pytestmark = pytest.mark.usefixtures("one_thread")


def test_rbf_centres_start_at_the_clusters_of_the_inputs():
    clusters = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    x = clusters.repeat(50, 1) + 0.1 * torch.randn(150, 2, generator=torch.Generator().manual_seed(0))
    net = RBFNetwork(2, 2, centres=3)
    net.fit_to_data(x)
    nearest = torch.cdist(clusters, net.centres.detach()).min(1).values
    assert nearest.max() < 0.1
    widths = net.log_widths.exp().detach()
    assert torch.allclose(widths, torch.full((3,), 5.0 * 2**0.5), atol=0.2) or widths.min() > 4.5


def fit_classifier(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 300) -> float:
    """Full-batch Adam on (x, y); the training accuracy reached."""
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(net(x), y).backward()
        optimizer.step()
    return (net(x).argmax(1) == y).float().mean().item()


def test_rbf_solves_xor_which_no_linear_model_can():
    torch.manual_seed(0)
    x, y = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), torch.tensor([0, 1, 1, 0])
    rbf = RBFNetwork(2, 2, centres=4)
    rbf.fit_to_data(x)
    assert fit_classifier(rbf, x, y) == 1.0
    assert fit_classifier(torch.nn.Linear(2, 2), x, y) <= 0.75


def test_rbf_beats_a_linear_model_on_moons(tmp_path):
    rbf = train(tmp_path / "rbf", "model=rbf", "data=moons", THREADS)
    linear = train(tmp_path / "linear", "model=perceptron", "data=moons", THREADS)
    assert rbf["test"]["test/acc"] >= linear["test"]["test/acc"] + 0.02


# Hopfield networks


def test_hopfield_recalls_patterns_from_probes_with_a_fifth_of_their_bits_flipped():
    noise = torch.Generator().manual_seed(1)
    few, many = random_patterns(8, 100), random_patterns(40, 100)
    for patterns, recalled_share in ((few, 1.0), (many, 0.0)):
        net = HopfieldNetwork(100)
        net.store(patterns, torch.arange(len(patterns)))
        probes = corrupt(patterns, 0.2, noise)
        assert ((probes != patterns).sum(1) == 20).all()
        recalled = net.recall(probes, sweeps=5, generator=noise)
        assert (recalled == patterns).all(1).float().mean() == recalled_share


def test_asynchronous_recall_never_raises_the_energy():
    patterns = random_patterns(5, 50)
    net = HopfieldNetwork(50)
    net.store(patterns, torch.arange(5))
    states = corrupt(patterns, 0.3, torch.Generator().manual_seed(0))
    energies = [net.energy(states)]
    for sweep in range(3):
        states = net.recall(states, sweeps=1, generator=torch.Generator().manual_seed(sweep))
        energies.append(net.energy(states))
    assert all((later <= earlier + 1e-5).all() for earlier, later in zip(energies, energies[1:]))


def test_a_modern_hopfield_update_is_softmax_attention_over_the_stored_patterns():
    memories = random_patterns(30, 16)
    net = ModernHopfield(16, 30, inverse_temperature=0.25)
    net.store(memories, torch.arange(30))
    states = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    by_hand = torch.softmax(0.25 * states @ memories.T, dim=1) @ memories  # X^T softmax(beta X xi)
    torch.testing.assert_close(net.update(states), by_hand)
    attention = torch.nn.MultiheadAttention(16, 1, bias=False, batch_first=True)
    with torch.no_grad():  # identity projections: keys and values are the memories
        attention.in_proj_weight.copy_(torch.cat([torch.eye(16) * 0.25 * 16**0.5, torch.eye(16), torch.eye(16)]))
        attention.out_proj.weight.copy_(torch.eye(16))
    keys = memories.expand(4, 30, 16)
    torch.testing.assert_close(attention(states.unsqueeze(1), keys, keys)[0].squeeze(1), by_hand)


def test_hopfield_runs_store_and_recall_through_archtrain(tmp_path):
    classical = train(tmp_path / "classical", "model=hopfield", "trainer.max_epochs=2", THREADS)
    # 40 patterns of 100 bits: far beyond the classical network's capacity (see the test above)
    modern = train(tmp_path / "modern", "model=modern_hopfield", "data.patterns=40", "trainer.max_epochs=1", THREADS)
    assert classical["status"] == "completed" and classical["best"]["metric"] == "val/recall"
    assert classical["test"]["test/recall"] >= 0.8
    assert modern["test"]["test/recall"] == 1.0
    assert classical["final"]["train/loss"] < -0.4  # energy per unit of the stored patterns


# Restricted Boltzmann machine


def test_rbm_gibbs_sampling_and_free_energy_agree_with_the_energy():
    torch.manual_seed(0)
    rbm = RBM(6, hidden=3)
    with torch.no_grad():
        rbm.weight.normal_(0, 1.0)
        rbm.visible_bias.normal_(0, 1.0)
    v = torch.bernoulli(torch.full((5, 6), 0.5))
    hidden_states = torch.cartesian_prod(*[torch.tensor([0.0, 1.0])] * 3)  # all 8 hidden states
    energy = (
        -(v @ rbm.visible_bias)[:, None]
        - (hidden_states @ rbm.hidden_bias)[None]
        - torch.einsum("hv,bv,sh->bs", rbm.weight, v, hidden_states)
    )
    torch.testing.assert_close(rbm.free_energy(v), -torch.logsumexp(-energy, dim=1))


def test_rbm_reconstruction_error_falls_and_pseudo_likelihood_rises(tmp_path):
    run = tmp_path / "cd"
    summary = train(run, "model=rbm", "trainer.max_epochs=4", "task.sample_steps=20", THREADS)
    series = epochs(run).dropna(subset=["train/recon_error"])
    assert summary["status"] == "completed" and summary["best"]["metric"] == "val/pll"
    assert series["train/recon_error"].iloc[-1] < 0.75 * series["train/recon_error"].iloc[0]
    assert series["val/pll"].iloc[-1] > series["val/pll"].iloc[0] + 3
    assert {"samples", "filters"} <= summary["files"].keys()


@pytest.mark.slow
def test_persistent_cd_resumes_its_chains_exactly(tmp_path):
    run = [
        "model=rbm",
        "task.persistent=true",
        "task.sample_steps=5",
        "optim.lr=0.01",
        "trainer.limit_train_batches=10",
        "trainer.limit_val_batches=2",
        THREADS,
    ]
    whole = train(tmp_path / "whole", *run, "trainer.max_epochs=2")
    train(tmp_path / "part", *run, "trainer.max_epochs=1")
    resumed = resume(tmp_path / "part", "trainer.max_epochs=2")
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "part"))
    assert resumed["test"] == whole["test"]


# Spiking network


@pytest.mark.parametrize("coding", ["rate", "latency"])
def test_spike_codes_turn_intensities_into_spike_trains(coding):
    torch.manual_seed(0)
    net = SpikingNet(4, 2, width=8, time_steps=50, coding=coding)
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    spikes = net.encode(x)
    assert spikes.shape == (50, 1, 4) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    if coding == "rate":  # firing rate follows intensity
        rates = spikes.mean(0)[0]
        assert rates[0] == 0 and rates[3] == 1 and 0.1 < rates[1] < rates[2] < 0.7
    else:  # one spike at most, earlier for brighter inputs
        first = spikes.argmax(0)[0]
        assert (spikes.sum(0) <= 1).all() and first[3] < first[2] < first[1]


def test_a_spiking_network_learns_digits_with_surrogate_gradients(tmp_path):
    summary = train(
        tmp_path / "snn", "model=snn", "model.time_steps=10", "model.width=64", "trainer.max_epochs=3", THREADS
    )
    assert summary["test"]["test/acc"] > 0.8  # 10 classes; 0.97 after 10 epochs at the defaults
    assert summary["test"]["test/spikes_per_example"] > 10


# Feedback alignment


def test_feedback_linear_sends_errors_back_through_its_fixed_random_matrix():
    torch.manual_seed(0)
    layer = FeedbackLinear(5, 3)
    x = torch.randn(4, 5, requires_grad=True)
    error = torch.randn(4, 3)
    layer(x).backward(error)
    torch.testing.assert_close(x.grad, error @ layer.feedback)
    torch.testing.assert_close(layer.weight.grad, error.T @ x.detach())
    torch.testing.assert_close(layer.bias.grad, error.sum(0))
    angle = layer.statistics(training=True)["feedback_angle"]
    torch.testing.assert_close(angle, angle_degrees(error @ layer.feedback, error @ layer.weight.detach()))
    assert not layer.weight.grad.allclose(torch.zeros(3, 5)) and "feedback" in layer.state_dict()


def test_feedback_alignment_learns_digits_as_its_feedback_angle_shrinks(tmp_path):
    run = tmp_path / "fa"
    summary = train(
        run, "model=mlp", "model.width=64", "transform=[feedback_alignment]", "trainer.max_epochs=4", THREADS
    )
    series = epochs(run)
    angle = series["train/feedback_angle.head"].dropna()
    assert summary["transforms"]["feedback_alignment"]["layers"] == ["layers.0", "layers.3", "head"]
    assert angle.iloc[-1] < angle.iloc[0] - 10 and angle.iloc[0] > 70
    assert summary["test"]["test/acc"] > 0.7  # 10 classes; see docs/CLASSIC.md for longer runs
    resumed = resume(run, "trainer.max_epochs=5")  # the feedback matrices come back from the checkpoint
    assert resumed["status"] == "completed" and resumed["test"]["test/acc"] > summary["test"]["test/acc"]


# What cannot work is refused in one line


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model=mlp", "task=contrastive_divergence"], "model=mlp is none (use model=rbm)"),
        (["model=rbm", "data.normalize=true"], "binarises inputs in [0, 1]; data.normalize=true"),
        (["model=rbm", "optim=lbfgs"], "draws new Gibbs samples at every evaluation"),
        (["model=hopfield", "data=digits"], "data=digits holds other examples in val and test (use data=patterns)"),
        (["model=mlp", "data=patterns", "task=hopfield"], "model=mlp is no associative memory"),
        (["model=hopfield", "regularizer=[weight_decay]"], "regularizer=weight_decay acts on gradients"),
    ],
)
def test_classic_tasks_refuse_what_they_cannot_train(overrides, message):
    cfg = config(*overrides)
    with pytest.raises(ArchtrainError, match=re.escape(message)):
        check_task(cfg, build_datamodule(cfg.data, seed=0).spec)


@pytest.mark.parametrize(
    "args, message",
    [
        (["model=snn", "model.time_steps=0"], "model.time_steps=0: must be at least 1"),
        (["model=snn", "model.membrane_decay=1.5"], "model.membrane_decay=1.5: must be in [0, 1)"),
        (["model=hopfield", "task.flip_fraction=-0.1"], "task.flip_fraction=-0.1: must be in [0, 1)"),
        (["model=rbm", "task.gibbs_steps=0"], "task.gibbs_steps=0: must be at least 1"),
        (["model=rbf", "model.centres=0"], "model.centres=0: must be at least 1"),
    ],
)
def test_bad_values_of_the_new_knobs_are_one_line(args, message, workdir, capsys):
    assert run_main(args) == 2
    assert message in one_error_line(capsys)
