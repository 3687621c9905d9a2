"""Neural ODEs (torchdiffeq), CfC networks (ncps), K-FAC and the Swin Transformer: mechanics on tiny
tensors, and each one learning."""

import csv

import pytest
import torch
import torch.nn.functional as F
from conftest import train
from omegaconf import OmegaConf
from torch import nn

from archtrain.catalog import CONF
from archtrain.data.sequences import irregular_waveforms
from archtrain.data.spec import DataSpec
from archtrain.data.trajectories import SpiralTrajectories
from archtrain.models import build_net
from archtrain.models.liquid import CfCNet
from archtrain.models.ode import ODENet, TrajectoryODE
from archtrain.models.vision.swin import PatchMerging, SwinTransformer, merge_windows, shift_mask, windows
from archtrain.training.kfac import KFAC

pytestmark = pytest.mark.usefixtures("one_thread")


def fit(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, optimizer=None, loss=F.cross_entropy):
    """Full-batch steps of Adam (or `optimizer`); the losses."""
    optimizer = optimizer or torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(net(x), y)
        value.backward()
        optimizer.step()
        losses.append(value.item())
    return losses


def rows(run_dir) -> list[dict]:
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


# --- Neural ODEs ---


def test_adjoint_and_direct_backpropagation_give_the_same_gradients():
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    grads = []
    for adjoint in (False, True):
        torch.manual_seed(1)
        net = ODENet(6, 3, width=8, hidden=8, rtol=1e-6, atol=1e-7, adjoint=adjoint)
        net(x).sum().backward()
        grads.append(net.embed.weight.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-4)


def test_the_odenet_learns_and_counts_its_function_evaluations():
    torch.manual_seed(0)
    x = torch.randn(64, 10)
    y = x[:, :3].argmax(1)
    net = ODENet(10, 3, width=16, hidden=16, solver="rk4", solver_step=0.25)
    losses = fit(net, x, y, 30)
    assert losses[-1] < 0.5 * losses[0]
    nfe = net.block.statistics(training=True)["nfe"]
    assert nfe == 16  # rk4: 4 evaluations per step, 4 steps over [0, 1]


def test_neural_ode_fits_the_spiral_and_logs_nfe_per_epoch(workdir):
    summary = train(
        workdir / "run",
        "model=neural_ode",
        "data.trajectories=2",
        "data.length=150",
        "optim.lr=0.01",
        "trainer.max_epochs=2",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed"
    x, y = SpiralTrajectories(2, 2, 150, 0.025, 10, 0.0, 32).load()[0]["test"]
    persistence = F.mse_loss(x.repeat(1, 10), y).item()
    assert summary["test"]["test/loss"] < 0.5 * persistence
    logged = [row for row in rows(workdir / "run") if row["train/nfe"]]
    assert len(logged) == 2 and all(float(row["train/nfe"]) >= 6 for row in logged)  # dopri5: 6 per step


def test_the_trajectory_head_is_the_fixed_identity_when_it_reads_the_states():
    net = TrajectoryODE(2, 20, horizon=10)
    assert not net.head.weight.requires_grad and torch.equal(net.head.weight, torch.eye(20))
    z = torch.randn(5, 2)
    assert net(z).shape == (5, 20) and net.derivative(z).shape == (5, 2)
    assert TrajectoryODE(2, 3, horizon=10).head.weight.requires_grad


# --- CfC ---


def test_cfc_reads_the_time_gaps_as_timespans():
    torch.manual_seed(0)
    net = CfCNet(2, 4, units=8, backbone_units=8, time_gaps=True).eval()
    x = torch.randn(3, 5, 2).abs()
    stretched = x.clone()
    stretched[..., -1] *= 5
    assert net.cell.input_size == 1
    assert not torch.allclose(net(x), net(stretched))  # same values, other times: another reading


def test_cfc_mixed_memory_and_gaps_as_input():
    torch.manual_seed(0)
    net = CfCNet(2, 4, units=8, backbone_units=8, time_gaps=True, mixed_memory=True, gaps_as_input=True)
    assert net.cell.input_size == 2 and net.memory.input_map.in_features == 2  # value and gap
    x = torch.randn(3, 5, 2).abs()
    early = x.clone()
    early[:, 0, 0] += 3  # change only the first value: the memory carries it to the last state
    assert not torch.allclose(net(x), net(early))
    assert CfCNet(2, 4, units=8, backbone_units=8).memory is None


def test_cfc_gets_time_gaps_from_the_data_spec():
    cfg = OmegaConf.load(CONF / "model" / "cfc.yaml")
    cfg.pop("defaults")
    spec = DataSpec(in_features=2, num_classes=4, seq_len=8, time_gaps=True)
    assert build_net(cfg, spec).time_gaps
    assert not build_net(cfg, DataSpec(in_features=2, num_classes=4, seq_len=8)).time_gaps


def test_cfc_learns_irregular_waveforms():
    torch.manual_seed(0)
    x, y = irregular_waveforms(128, 24, 0.1, torch.Generator().manual_seed(0))
    net = CfCNet(2, 4, units=16, backbone_units=16, time_gaps=True, mixed_memory=True, gaps_as_input=True)
    losses = fit(net, x, y, 40)
    accuracy = (net(x).argmax(1) == y).float().mean().item()
    assert losses[-1] < 0.6 * losses[0] and accuracy > 0.5  # chance: 0.25


# --- K-FAC ---


def tiny_problem():
    torch.manual_seed(0)
    x = torch.randn(128, 1, 6, 6)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
    y = teacher(x).argmax(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 4))
    return net, x, y.detach()


def test_kfac_reaches_a_target_loss_on_a_tiny_problem():
    net, x, y = tiny_problem()
    optimizer = KFAC(net, lr=0.1, damping=0.01, inverse_every=5)
    assert len(optimizer.factors) == 3  # the conv and both linear layers
    losses = fit(net, x, y, 60, optimizer)
    assert losses[-1] < 0.15 < losses[0]


def test_kfac_preconditions_the_gradient_with_the_inverse_kronecker_factors():
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    optimizer = KFAC(layer, lr=1.0, momentum=0.0, damping=1e-3, factor_decay=0.0, kl_clip=1e9)
    x = torch.randn(16, 3)
    layer(x).pow(2).mean().backward()
    grad = torch.cat([layer.weight.grad, layer.bias.grad.unsqueeze(1)], 1).clone()
    factors = optimizer.factors[0]
    before = torch.cat([layer.weight, layer.bias.unsqueeze(1)], 1).detach().clone()
    optimizer.step()
    after = torch.cat([layer.weight, layer.bias.unsqueeze(1)], 1).detach()
    a, g = factors.running["A"], factors.running["G"]
    expected = torch.linalg.solve(torch.kron(g, a) + 1e-3 * torch.eye(8), grad.flatten()).view(2, 4)
    torch.testing.assert_close(before - after, expected, rtol=1e-3, atol=1e-5)


def test_optim_kfac_trains_through_the_cli(workdir):
    summary = train(
        workdir / "run",
        "model=mlp",
        "optim=kfac",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=20",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed" and summary["test"]["test/acc"] > 0.5  # chance: 0.1


# --- Swin ---


def test_windows_round_trip_and_the_shift_mask_separates_wrapped_regions():
    x = torch.randn(2, 8, 8, 3)
    tokens = windows(x, 4)
    assert tokens.shape == (8, 16, 3)
    torch.testing.assert_close(merge_windows(tokens, 4, 8, 8), x)
    mask = shift_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert mask[0].all()  # the top-left window holds one region
    assert mask[3].sum(1).tolist() == [4] * 16  # the corner window holds four regions of 2x2


def test_patch_merging_halves_the_map_and_doubles_the_width():
    assert PatchMerging(8)(torch.randn(2, 4, 4, 8)).shape == (2, 2, 2, 16)


def test_swin_alternates_shifted_windows_and_learns_a_fixed_batch():
    torch.manual_seed(0)
    net = SwinTransformer(1, 8, 5, patch_size=2, width=16, depths=(2, 2), num_heads=(2, 4), window_size=2)
    blocks = [m for m in net.modules() if m.__class__.__name__ == "SwinBlock"]
    assert [b.shift for b in blocks] == [0, 1, 0, 0]  # the 2x2 map of stage 2 is one window: no shift
    for size, channels in ((28, 1), (32, 3)):  # maps the windows do not tile are padded
        assert SwinTransformer(channels, size, 5, width=8, depths=(1, 1), num_heads=(1, 1))(
            torch.rand(2, channels, size, size)
        ).shape == (2, 5)
    labels = torch.arange(16) % 5
    images = torch.rand(5, 1, 8, 8)[labels] + 0.2 * torch.randn(16, 1, 8, 8)
    losses = fit(net, images, labels, 20, torch.optim.Adam(net.parameters(), lr=3e-3))
    assert losses[-1] < 0.5 * losses[0]
