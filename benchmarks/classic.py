"""The figures and pictures of docs/CLASSIC.md: classic and brain-inspired networks trained through
archtrain, each measured on what it is known for.

    python benchmarks/classic.py [rbf] [hopfield] [rbm] [snn] [fa]

Prints markdown tables and writes PNGs to docs/img/ (runs go to a temporary folder).
"""

import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from common import per_epoch, train  # noqa: E402

from archtrain.assemble import load_run  # noqa: E402
from archtrain.models.hopfield import HopfieldNetwork, ModernHopfield  # noqa: E402
from archtrain.tasks.hopfield import corrupt  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
ROOT = Path(tempfile.mkdtemp(prefix="classic-"))


def run(name: str, *overrides: str) -> tuple[dict, Path]:
    """One archtrain run in this process; its summary and directory."""
    run_dir = ROOT / name
    return train(run_dir, *overrides), run_dir


def rbf() -> None:
    """Test accuracy of the RBF network, a linear model and the MLP, each with its default settings, 3 seeds."""
    print("| data | rbf | perceptron (linear) | mlp |\n|---|---:|---:|---:|")
    for data in ("xor", "moons", "iris"):
        cells = []
        for model in ("rbf", "perceptron", "mlp"):
            accuracies = [
                run(f"{model}-{data}-{seed}", f"model={model}", f"data={data}", f"seed={seed}")[0]["test"]["test/acc"]
                for seed in range(3)
            ]
            cells.append(f"{sum(accuracies) / 3:.3f} ({min(accuracies):.2f}-{max(accuracies):.2f})")
        print(f"| {data} | {' | '.join(cells)} |")


def capacity_curve(neurons: int = 200, trials: int = 5) -> None:
    """Recall from probes with 20% of their bits flipped against patterns per neuron; classical and modern."""
    loads = [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.2, 0.25, 0.3, 0.5, 1.0]
    curves = {"classical: recalled exactly": [], "classical: mean overlap": [], "modern: recalled exactly": []}
    for load in loads:
        count = round(load * neurons)
        exact, overlap, modern = [], [], []
        for trial in range(trials):
            generator = torch.Generator().manual_seed(trial)
            patterns = torch.randint(0, 2, (count, neurons), generator=generator).float() * 2 - 1
            probes = corrupt(patterns, 0.2, generator)
            classical = HopfieldNetwork(neurons)
            classical.store(patterns, torch.arange(count))
            recalled = classical.recall(probes, sweeps=10, generator=generator)
            exact.append((recalled == patterns).all(1).float().mean())
            overlap.append((recalled * patterns).mean())
            memory = ModernHopfield(neurons, count, inverse_temperature=0.1)
            memory.store(patterns, torch.arange(count))
            modern.append((memory.recall(probes, sweeps=1) == patterns).all(1).float().mean())
        for curve, values in zip(curves.values(), (exact, overlap, modern)):
            curve.append(torch.stack(values).mean().item())
    figure, ax = plt.subplots(figsize=(5.5, 3.4))
    for (label, values), style in zip(curves.items(), ("o-", "s--", "^-")):
        ax.plot(loads, values, style, label=label, markersize=4)
    ax.axvline(0.138, color="grey", linestyle=":", label="0.138 N (Amit et al., 1985)")
    ax.set(
        xlabel="stored patterns per neuron (P / N)",
        ylabel="recall",
        title=f"Hopfield capacity, N = {neurons}, 20% bits flipped",
    )
    ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(IMG / "hopfield_capacity.png", dpi=90)
    plt.close(figure)
    print("| P/N | " + " | ".join(curves) + " |\n|---:|---:|---:|---:|")
    for i, load in enumerate(loads):
        print(f"| {load:.2f} | " + " | ".join(f"{values[i]:.2f}" for values in curves.values()) + " |")


def attention_link() -> None:
    """How far one modern Hopfield update is from softmax attention written out by hand."""
    memories = torch.randint(0, 2, (64, 32), generator=torch.Generator().manual_seed(0)).float() * 2 - 1
    states = torch.randn(16, 32, generator=torch.Generator().manual_seed(1))
    net = ModernHopfield(32, 64, inverse_temperature=0.2)
    net.store(memories, torch.arange(64))
    by_hand = torch.softmax(0.2 * states @ memories.T, dim=1) @ memories
    difference = (net.update(states) - by_hand).abs().max()
    print(f"modern Hopfield update vs softmax(beta Q K^T) V: max |difference| = {difference:.2e}")


def hopfield() -> None:
    capacity_curve()
    attention_link()
    for model, patterns in (("hopfield", 10), ("hopfield", 40), ("modern_hopfield", 40)):
        summary, _ = run(f"{model}-{patterns}", f"model={model}", f"data.patterns={patterns}", "trainer.max_epochs=1")
        print(
            f"archtrain model={model} data.patterns={patterns}: test/recall {summary['test']['test/recall']:.2f}, "
            f"test/overlap {summary['test']['test/overlap']:.2f}"
        )


def rbm() -> None:
    """CD-1 and PCD on binarised digits: curves, samples, filters."""
    figure, axes = plt.subplots(1, 2, figsize=(8, 3))
    for name, overrides in (
        ("cd1", ["optim.lr=0.05"]),
        ("cd10", ["task.gibbs_steps=10"]),
        ("pcd", ["task.persistent=true", "optim.lr=0.02"]),
    ):
        summary, run_dir = run(f"rbm-{name}", "model=rbm", "trainer.max_epochs=30", *overrides)
        series = per_epoch(run_dir).dropna(subset=["train/recon_error"])
        axes[0].plot(series.index, series["train/recon_error"], label=name)
        axes[1].plot(series.index, series["val/pll"], label=name)
        print(
            f"| {name} | {series['train/recon_error'].iloc[0]:.3f} -> {series['train/recon_error'].iloc[-1]:.3f} "
            f"| {series['val/pll'].iloc[0]:.1f} -> {series['val/pll'].iloc[-1]:.1f} "
            f"| {summary['test']['test/pll']:.1f} "
            f"| {summary['durations']['fit_s']:.0f} s |"
        )
        for picture in ("samples", "filters"):
            shutil.copy(run_dir / f"{picture}.png", IMG / f"rbm_{picture}_{name}.png")
    axes[0].set(xlabel="epoch", ylabel="train reconstruction error (per pixel)")
    axes[1].set(xlabel="epoch", ylabel="val pseudo-log-likelihood (nats)")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(IMG / "rbm_curves.png", dpi=90)
    plt.close(figure)


def snn() -> None:
    """Rate and latency coding on digits; a spike raster of one test digit."""
    for coding in ("rate", "latency"):
        summary, run_dir = run(f"snn-{coding}", "model=snn", f"model.coding={coding}", "trainer.max_epochs=10")
        test = summary["test"]
        print(
            f"| {coding} | {test['test/acc']:.3f} | {test['test/spikes_per_example']:.0f} "
            f"| {summary['durations']['fit_s']:.0f} s |"
        )
        if coding == "rate":
            raster(run_dir)


def raster(run_dir: Path) -> None:
    parts = load_run(str(run_dir))
    x, y = parts.data.splits["test"]
    torch.manual_seed(0)
    with torch.no_grad():
        inputs, hidden = parts.net.run(x[:1])
        logits = parts.net.head(hidden.sum(0))[0]
    figure, axes = plt.subplots(1, 3, figsize=(10, 3.2), gridspec_kw={"width_ratios": [2, 2, 1]})
    for ax, (label, spikes) in zip(axes, (("input spikes (64 pixels)", inputs), ("LIF layer (128 neurons)", hidden))):
        steps, neurons = torch.nonzero(spikes[:, 0], as_tuple=True)
        ax.scatter(steps, neurons, marker="|", s=12, color="black")
        ax.set(xlabel="time step", ylabel="neuron", title=label, xlim=(-1, len(spikes)), ylim=(-1, spikes.shape[2]))
    axes[2].barh(range(10), torch.softmax(logits, 0).numpy(), color="grey")
    axes[2].set(xlabel="probability", ylabel="class", yticks=range(10), title="readout")
    figure.suptitle(f"one test digit (a {y[0].item()}): {int(hidden.sum())} spikes in the LIF layer", fontsize=9)
    figure.tight_layout()
    figure.savefig(IMG / "snn_raster.png", dpi=90)
    plt.close(figure)


def feedback_alignment() -> None:
    """Backpropagation against feedback alignment on digits; the feedback angle per epoch."""
    angles = None
    for name, overrides in (("backprop", []), ("feedback alignment", ["transform=[feedback_alignment]"])):
        accuracies = []
        for seed in range(3):
            summary, run_dir = run(
                f"fa-{name}-{seed}", "model=mlp", "trainer.max_epochs=20", f"seed={seed}", *overrides
            )
            accuracies.append(summary["test"]["test/acc"])
            if overrides and seed == 0:
                angles = per_epoch(run_dir).filter(like="feedback_angle").dropna()
        print(f"| {name} | {sum(accuracies) / 3:.3f} ({min(accuracies):.3f}-{max(accuracies):.3f}) |")
    figure, ax = plt.subplots(figsize=(5, 3.2))
    for column in angles.columns:
        ax.plot(
            angles.index + 1, angles[column], "o-", markersize=3, label=column.removeprefix("train/feedback_angle.")
        )
    ax.axhline(90, color="grey", linestyle=":")
    ax.set(
        xlabel="epoch", ylabel="angle (degrees)", ylim=(0, 95), title="feedback signal e B vs backprop's e W, per layer"
    )
    ax.legend(title="layer sending the error", fontsize=8)
    figure.tight_layout()
    figure.savefig(IMG / "feedback_angle.png", dpi=90)
    plt.close(figure)
    print("angles per epoch:\n" + angles.round(1).to_string())


SECTIONS = {"rbf": rbf, "hopfield": hopfield, "rbm": rbm, "snn": snn, "fa": feedback_alignment}

if __name__ == "__main__":
    torch.set_num_threads(1)
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()
    shutil.rmtree(ROOT, ignore_errors=True)
