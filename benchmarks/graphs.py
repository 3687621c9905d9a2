"""The experiments of docs/GRAPHS.md, each through the real command line (in process, one thread).

    python benchmarks/graphs.py [karate] [sbm] [counting] [families] [links] [scale] [--out DIR]

Prints markdown tables, and draws docs/img/karate_predictions.png (the karate club coloured by the
predictions of one GCN run). Run directories go to a temporary folder, or to --out DIR.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import mean, stdev

from archtrain.cli import main as archtrain

COMMON = ["progress_bar=false", "hardware.threads=1", "optim.lr=0.01"]
GNNS = ("gcn", "gat", "gin", "graphsage")
IMAGE = Path(__file__).resolve().parent.parent / "docs" / "img" / "karate_predictions.png"


def run(run_dir: Path, *overrides: str) -> dict:
    argv = sys.argv
    try:
        archtrain([*COMMON, *overrides, f"hydra.run.dir={run_dir}"])
    except SystemExit:
        pass
    finally:
        sys.argv = argv
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary["status"] != "completed":
        raise RuntimeError(f"{run_dir}: {summary['status']} ({summary.get('error')})")
    return summary


def test_metric(summary: dict) -> float:
    """Test accuracy, or AUC for link prediction."""
    return summary["test"].get("test/acc", summary["test"].get("test/auc"))


def karate(root: Path) -> None:
    """One labelled node per faction (its best-connected member, or a random one), 10 seeds."""
    rows = ["| model | labelled nodes | test accuracy, mean ± sd over 10 seeds | min |", "|---|---|---:|---:|"]
    for model, nodes, extra in [
        ("gcn", "hubs", []),
        ("graph_mlp", "hubs", []),
        ("gcn", "random", ["model.depth=3"]),
        ("graph_mlp", "random", []),
    ]:
        accs = [
            test_metric(
                run(
                    root / f"karate-{model}-{nodes}-{seed}",
                    f"model={model}",
                    "data=karate",
                    f"data.train_nodes={nodes}",
                    "trainer.max_epochs=200",
                    f"seed={seed}",
                    "regularizer=[weight_decay]",
                    "regularizer.weight_decay.value=5e-4",
                    *extra,
                )
            )
            for seed in range(10)
        ]
        label = f"{model}{' depth 3' if extra else ''}"
        rows.append(f"| {label} | {nodes} | {mean(accs):.3f} ± {stdev(accs):.3f} | {min(accs):.3f} |")
    print("\n".join(rows), flush=True)
    draw_karate(root / "karate-gcn-hubs-0")


def draw_karate(run_dir: Path) -> None:
    """The karate club, each member coloured by the GCN's predicted faction; the two labelled members
    drawn large, mistakes outlined in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    import torch

    from archtrain.assemble import load_run

    parts = load_run(str(run_dir))
    graph = parts.data.splits["train"][0]
    with torch.no_grad():
        predicted = parts.net(graph).argmax(-1)
    g = nx.karate_club_graph()
    position = nx.spring_layout(g, seed=3)
    colours = ["tab:blue" if int(p) == 0 else "tab:orange" for p in predicted]
    wrong = (predicted != graph.y).tolist()
    sizes = [700 if bool(m) else 250 for m in graph.mask]
    fig, ax = plt.subplots(figsize=(7, 5.5))
    nx.draw_networkx_edges(g, position, ax=ax, alpha=0.3)
    nx.draw_networkx_nodes(
        g,
        position,
        ax=ax,
        node_color=colours,
        node_size=sizes,
        edgecolors=["red" if w else "black" for w in wrong],
        linewidths=[3 if w else 0.5 for w in wrong],
    )
    nx.draw_networkx_labels(g, position, ax=ax, font_size=7)
    ax.set_title(
        f"GCN on the karate club: colour = predicted faction ({parts.data.spec.vocab[0]} blue, "
        f"{parts.data.spec.vocab[1]} orange)\nlarge: the 2 labelled members; red outline: wrong "
        f"({sum(wrong)} of 34)",
        fontsize=9,
    )
    ax.axis("off")
    IMAGE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMAGE, dpi=110, bbox_inches="tight")
    print(f"drawn: {IMAGE}", flush=True)


def sbm(root: Path) -> None:
    """Four communities: test accuracy of each model against homophily (0.25 = edges ignore communities)."""
    levels = (0.25, 0.4, 0.6, 0.8, 0.95)
    rows = ["| model | " + " | ".join(f"h={h}" for h in levels) + " |", "|---|" + "---:|" * len(levels)]
    for model in (*GNNS, "graph_mlp"):
        accs = [
            test_metric(
                run(
                    root / f"sbm-{model}-{h}",
                    f"model={model}",
                    "data=sbm",
                    f"data.homophily={h}",
                    "trainer.max_epochs=100",
                )
            )
            for h in levels
        ]
        rows.append(f"| {model} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")
    print("\n".join(rows), flush=True)


def counting(root: Path) -> None:
    """Regular graphs classified by degree: sum aggregation (GIN) against mean-like aggregation."""
    rows = ["| model | aggregation | pooling | test accuracy (4 classes, chance 0.25) |", "|---|---|---|---:|"]
    for model, aggregation, pooling in [
        ("gin", "sum", "sum"),
        ("gin", "sum", "mean"),
        ("gcn", "normalized mean", "mean"),
        ("gcn", "normalized mean", "sum"),
        ("graphsage", "mean", "mean"),
        ("gat", "attention (weighted mean)", "mean"),
    ]:
        summary = run(
            root / f"count-{model}-{pooling}",
            f"model={model}",
            "data=degree_counting",
            f"model.pooling={pooling}",
            "trainer.max_epochs=40",
        )
        rows.append(f"| {model} | {aggregation} | {pooling} | {test_metric(summary):.3f} |")
    print("\n".join(rows), flush=True)


def families(root: Path) -> None:
    """Which random family a featureless graph comes from: graph classification by structure alone."""
    rows = ["| model | pooling | test accuracy (4 families, chance 0.25) |", "|---|---|---:|"]
    for model, pooling in [("gin", "sum"), ("gin", "attention"), ("gcn", "mean"), ("graph_mlp", "sum")]:
        summary = run(
            root / f"families-{model}-{pooling}",
            f"model={model}",
            "data=graph_families",
            f"model.pooling={pooling}",
            "trainer.max_epochs=40",
        )
        rows.append(f"| {model} | {pooling} | {test_metric(summary):.3f} |")
    print("\n".join(rows), flush=True)


def links(root: Path) -> None:
    """Link prediction on a generated graph: a block model of 16 tight communities."""
    rows = ["| model | data | test AUC | epochs |", "|---|---|---:|---:|"]
    for model in ("gcn", "graphsage"):
        summary = run(
            root / f"links-{model}",
            f"model={model}",
            "data=sbm",
            "task=link_predict",
            "data.communities=16",
            "data.homophily=0.95",
            "trainer.max_epochs=150",
        )
        rows.append(f"| {model} | sbm, 2,000 nodes, 16 communities, h=0.95 | {test_metric(summary):.3f} | 150 |")
    print("\n".join(rows), flush=True)


def scale(root: Path) -> None:
    """A block model of 100,000 nodes (about a million directed edges), full-batch, each run in a fresh
    process so that its peak resident memory is its own."""
    rows = [
        "| model | nodes | edges (directed) | s per epoch (train step + val pass) | peak memory (RSS) | test acc |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model in ("gcn", "graphsage", "gin", "gat"):
        run_dir = root / f"scale-{model}"
        argv = [
            *COMMON,
            f"model={model}",
            "data=sbm",
            "data.nodes=100000",
            "data.degree=10",
            "trainer.max_epochs=5",
            f"hydra.run.dir={run_dir}",
        ]
        out = subprocess.run([sys.executable, "-c", PEAK, *argv], check=True, capture_output=True, text=True)
        peak_mib = int(out.stdout.strip().splitlines()[-1]) / 1024
        summary = json.loads((run_dir / "summary.json").read_text())
        per_epoch = summary["durations"]["fit_s"] / summary["epochs"]
        rows.append(
            f"| {model} | 100,000 | {summary_edges(run_dir)} | {per_epoch:.2f} | {peak_mib:.0f} MiB "
            f"| {test_metric(summary):.3f} |"
        )
        print(rows[-1], flush=True)
    print("\n".join(rows), flush=True)


# Runs archtrain with the arguments given, then prints the process's peak resident memory in KiB.
PEAK = """
import resource, sys
from archtrain.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def summary_edges(run_dir: Path) -> str:
    """The number of directed edges of the run's graph, rebuilt from its config."""
    from archtrain.data import build_datamodule
    from archtrain.runs import RunDir

    cfg = RunDir(run_dir).load_config([])
    data = build_datamodule(cfg.data, seed=cfg.seed)
    data.setup()
    return f"{data.splits['train'][0].num_edges:,}"


EXPERIMENTS = {"karate": karate, "sbm": sbm, "counting": counting, "families": families, "links": links, "scale": scale}


def main() -> None:
    args = sys.argv[1:]
    out = Path(args[args.index("--out") + 1]) if "--out" in args else None
    names = [a for a in args if a in EXPERIMENTS] or list(EXPERIMENTS)
    with tempfile.TemporaryDirectory() as tmp:
        root = out or Path(tmp)
        for name in names:
            print(f"\n## {name}\n", flush=True)
            EXPERIMENTS[name](root)


if __name__ == "__main__":
    main()
