"""Pictures of runs: a run's learning curve from metrics.csv, a sweep's history from its jobs."""

import csv
from collections import defaultdict
from pathlib import Path


def read_epoch_metrics(metrics_csv: Path) -> dict[str, dict[int, float]]:
    """metric name -> {epoch: value}, from Lightning's CSV (one sparse row per logging call)."""
    series: dict[str, dict[int, float]] = defaultdict(dict)
    with open(metrics_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            for name, value in row.items():
                if name not in ("epoch", "step") and value not in ("", None):
                    series[name][epoch] = float(value)
    return dict(series)


def learning_curve(series: dict[str, dict[int, float]], out: Path, monitor: str, title: str) -> Path | None:
    """Every training and validation loss by epoch (a GAN has two), the monitored metric beside them,
    and the learning rate where a schedule moved it (else its value is in the title)."""
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    key = monitor.split("/", 1)[1]
    losses = [name for name in series if name.startswith(("train/", "val/")) and name.endswith("loss")]
    panels = {"loss": sorted(losses)}
    if key != "loss":
        panels[key] = [name for name in (f"train/{key}", monitor) if name in series]
    rates = sorted(set(series.get("train/lr", {}).values()))
    if len(rates) > 1:
        panels["learning rate"] = ["train/lr"]
    elif rates:
        title = f"{title} (learning rate {rates[0]:.3g})"
    panels = {label: names for label, names in panels.items() if names}
    if not panels:  # nothing trained (trainer.max_epochs=0): test figures only
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (label, names) in zip(axes[0], panels.items()):
        for name in names:
            epochs = sorted(series[name])
            ax.plot(epochs, [series[name][e] for e in epochs], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def sweep_history(values: list[float | None], metric: str, out: Path, maximize: bool | None) -> Path:
    """Each job's best `metric` in launch order and, where the direction is known (an Optuna
    search), the best so far: the optimization history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.8))
    done = [(job, value) for job, value in enumerate(values) if value is not None]
    ax.plot([job for job, _ in done], [value for _, value in done], "o", label="job")
    if maximize is not None and done:
        best, running = [], None
        for _, value in done:
            running = value if running is None else (max if maximize else min)(running, value)
            best.append(running)
        ax.step([job for job, _ in done], best, where="post", label="best so far")
    ax.set_xlabel("job")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.set_title(f"sweep of {len(values)} jobs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
