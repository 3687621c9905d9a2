"""The figures and pictures of docs/FRONTIER.md: neural ODEs, CfC against an LSTM, K-FAC.

    python benchmarks/frontier.py [spiral] [memory] [liquid] [kfac]

Prints markdown tables and writes PNGs to docs/img/ (runs go to a temporary folder).
"""

import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import train  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from archtrain.assemble import load_run  # noqa: E402
from archtrain.catalog import CONF  # noqa: E402
from archtrain.data.images import Digits  # noqa: E402
from archtrain.data.trajectories import spiral_derivative, spirals  # noqa: E402
from archtrain.models import build_net  # noqa: E402
from archtrain.models.ode import ODENet  # noqa: E402
from archtrain.training.kfac import KFAC  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
ROOT = Path(tempfile.mkdtemp(prefix="frontier-"))


def run(name: str, *overrides: str) -> tuple[dict, Path]:
    """One archtrain run in this process; its summary and directory."""
    run_dir = ROOT / name
    return train(run_dir, *overrides), run_dir


def spiral() -> None:
    """model=neural_ode on data=spiral: test MSE against persistence and an MLP; the learned spiral."""
    epochs = "trainer.max_epochs=15"
    ode, ode_dir = run("spiral-ode", "model=neural_ode", "optim.lr=0.01", epochs)
    mlp, _ = run("spiral-mlp", "model=mlp", "data=spiral", "optim.lr=0.01", epochs)
    parts = load_run(ode_dir)
    x, y = parts.data.splits["test"]
    persistence = F.mse_loss(x.repeat(1, y.shape[1] // x.shape[1]), y).item()
    nfe = pd.read_csv(ode_dir / "metrics.csv")["train/nfe"].dropna()
    print("| model | test MSE (next 10 states) | fit time |\n|---|---:|---:|")
    print(f"| persistence (repeat the state) | {persistence:.4f} | - |")
    for name, s in (("mlp (2 x 256)", mlp), ("neural_ode (dopri5)", ode)):
        print(f"| {name} | {s['test']['test/loss']:.4f} | {s['durations']['fit_s']:.0f} s |")
    print(f"\ntrain/nfe per epoch: {', '.join(f'{v:.1f}' for v in nfe)}")
    net = parts.net.eval()
    truth = spirals(1, 1000, 0.025, torch.Generator().manual_seed(7))[0]
    with torch.no_grad():
        rollout = net.block(truth[:1], torch.arange(1000) * 0.025)[:, 0]
    grid = torch.stack(torch.meshgrid(torch.linspace(-2, 2, 15), torch.linspace(-2, 2, 15), indexing="xy"), -1)
    points = grid.reshape(-1, 2)
    with torch.no_grad():
        learned, true = net.derivative(points), spiral_derivative(None, points)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    axes[0].plot(*truth.T, label="true trajectory", lw=2)
    axes[0].plot(*rollout.T, "--", label="neural ODE, integrated from the first state", lw=1.5)
    axes[0].set_title("A held-out spiral (t = 0 to 25), 1000 steps")
    axes[0].legend(fontsize=8)
    axes[1].quiver(*points.T, *true.T, color="C0", alpha=0.6, label="true dz/dt")
    axes[1].quiver(*points.T, *learned.T, color="C1", alpha=0.6, label="learned dz/dt")
    axes[1].set_title("Vector fields")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(IMG / "frontier_spiral.png", dpi=90)
    print(f"rollout MSE over 1000 steps: {F.mse_loss(rollout, truth).item():.4f}")


def memory_use(adjoint: bool, time_span: float, queue) -> None:
    """One forward and backward pass of an ODENet in a fresh (forked) process: its peak RSS growth,
    the bytes autograd saved for backward, the evaluations of f, and the time taken."""
    import psutil

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = ODENet(64, 10, width=256, hidden=256, integration_time=time_span, solver="rk4", solver_step=0.05)
    net.block.adjoint = adjoint
    x = torch.randn(512, 64)
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    base = psutil.Process().memory_info().rss
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = net(x).logsumexp(1).mean()
    forward_nfe = net.block.dynamics.calls
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    queue.put((max(0, peak - base), saved[0], forward_nfe, net.block.dynamics.calls - forward_nfe, seconds))


def memory() -> None:
    """Adjoint against direct backpropagation as the integration time (the depth) grows."""
    context = multiprocessing.get_context("fork")
    print(
        "| integration time (rk4 steps) | backprop | peak RSS growth | saved for backward "
        "| f evaluations forward + backward | seconds |\n|---|---|---:|---:|---:|---:|"
    )
    for span in (1, 2, 4, 8):
        for adjoint in (False, True):
            queue = context.Queue()
            child = context.Process(target=memory_use, args=(adjoint, float(span), queue))
            child.start()
            grown, saved, forward, backward, seconds = queue.get()
            child.join()
            print(
                f"| {span} ({int(span / 0.05)}) | {'adjoint' if adjoint else 'direct'} | {grown / 2**20:.0f} MiB "
                f"| {saved / 2**20:.1f} MiB | {forward} + {backward} | {seconds:.1f} |"
            )


def liquid() -> None:
    """model=cfc (gaps as timespans) against model=lstm (gaps as an input) on data=irregular_waveforms."""
    print("| model | seed | parameters | test accuracy | fit time |\n|---|---:|---:|---:|---:|")
    for model in ("cfc", "lstm"):
        for seed in (0, 1, 2):
            s, _ = run(
                f"{model}-{seed}", f"model={model}", "data=irregular_waveforms", "trainer.max_epochs=10", f"seed={seed}"
            )
            accuracy, seconds = s["test"]["test/acc"], s["durations"]["fit_s"]
            print(f"| {model} | {seed} | {s['parameters']:,} | {accuracy:.3f} | {seconds:.0f} s |")


OPTIMIZERS = {  # the shipped defaults of conf/optim
    "adam": lambda net: torch.optim.Adam(net.parameters(), lr=1e-3),
    "sgd": lambda net: torch.optim.SGD(net.parameters(), lr=0.1),
    "momentum": lambda net: torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9),
    "kfac": lambda net: KFAC(net),
}


def model_config(name: str):
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    cfg.pop("defaults")
    return cfg


def steps_to_target(model: str, optimizer: str, seed: int, target: float, budget: int = 3000) -> tuple:
    """Steps and seconds until the mean of the last 20 batch losses falls below `target` (None if never)."""
    data = Digits(batch_size=32, val_fraction=0.1, test_fraction=0.2, normalize=False, seed=0)
    splits, spec = data.load()
    x, y = splits["train"]
    torch.manual_seed(seed)
    net = build_net(model_config(model), spec)
    opt = OPTIMIZERS[optimizer](net)
    generator, losses, step, start = torch.Generator().manual_seed(seed), [], 0, time.perf_counter()
    while step < budget:
        for batch in torch.randperm(len(x), generator=generator).split(32):
            opt.zero_grad()
            loss = F.cross_entropy(net(x[batch]), y[batch])
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if len(losses) >= 20 and sum(losses[-20:]) / 20 < target:
                return step, time.perf_counter() - start
            if step == budget:
                break
    return None, time.perf_counter() - start


def kfac() -> None:
    torch.set_num_threads(1)
    print("| model | optimizer | steps to loss < 0.1 (3 seeds) | seconds (3 seeds) |\n|---|---|---|---|")
    for model in ("mlp", "lenet5"):
        for optimizer in OPTIMIZERS:
            results = [steps_to_target(model, optimizer, seed, 0.1) for seed in (0, 1, 2)]
            steps = ", ".join("never" if s is None else str(s) for s, _ in results)
            seconds = ", ".join(f"{t:.1f}" for _, t in results)
            print(f"| {model} | {optimizer} | {steps} | {seconds} |")


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    for section in sys.argv[1:] or ["spiral", "memory", "liquid", "kfac"]:
        print(f"\n## {section}\n")
        globals()[section]()
