"""The figures of docs/COMPRESSION.md: int8 quantization and pruning of digits models through archtrain.

    python benchmarks/compression.py [ptq] [qat] [sparse] [lottery]

Prints markdown tables (runs go to a temporary folder). Every figure is the run's own summary.json
`footprint`: the compressed model beside the run it came from.
"""

import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import train

ROOT = Path(os.environ.get("COMPRESSION_RUNS") or tempfile.mkdtemp(prefix="compression-"))  # reuse with the variable
DENSE = {"mlp": ["model=mlp", "trainer.max_epochs=20"], "vgg": ["model=vgg", "trainer.max_epochs=10"]}


def run(name: str, *overrides: str) -> tuple[dict, Path]:
    """One archtrain run in this process; its summary and directory."""
    run_dir = ROOT / name
    summary = train(run_dir, *overrides)
    if summary["status"] != "completed":
        raise SystemExit(f"{name}: {summary['error']}")
    return summary, run_dir


def dense(model: str) -> Path:
    if not (ROOT / f"{model}-dense" / "summary.json").is_file():
        run(f"{model}-dense", *DENSE[model])
    return ROOT / f"{model}-dense"


def compressed(name: str, model: str, *overrides: str) -> dict:
    """A run that starts from the model's dense run; its footprint."""
    summary, _ = run(name, f"model={model}", f"transform.weights.path={dense(model)}", *overrides)
    return summary["footprint"]


def row(label: str, figures: dict) -> str:
    latency = figures["latency_us"] or {}
    return (
        f"| {label} | {figures['value']:.4f} | {figures['file_bytes'] / 1024:.1f} KiB | "
        f"{figures['nonzero_parameters']:,} / {figures['parameters']:,} | "
        f"{latency.get('batch_1', float('nan')):.1f} | {latency.get('batch_64', float('nan')):.2f} |"
    )


HEADER = (
    "| model | test acc | file | non-zero / parameters | µs/example, batch 1 | batch 64 |\n"
    "|---|---:|---:|---:|---:|---:|"
)


def show(rows: list[tuple[str, dict]]) -> None:
    print(HEADER)
    for label, figures in rows:
        print(row(label, figures))
    print()


def ptq() -> None:
    """Int8 post-training quantization (nothing trains: trainer.max_epochs=0) of the MLP and a CNN."""
    rows = []
    for model, methods in (("mlp", ("dynamic", "static")), ("vgg", ("static",))):
        for method in methods:
            figures = compressed(
                f"{model}-{method}",
                model,
                "transform=[weights,quantize]",
                "trainer.max_epochs=0",
                f"transform.quantize.quantization={method}",
            )
            if not rows or rows[-1][0] != f"{model} float":
                rows.append((f"{model} float", figures["source"]))
            rows.append((f"{model} int8 {method}", figures["model"]))
    show(rows)


def qat() -> None:
    """Static PTQ with 3- and 2-bit weights loses accuracy; QAT (3 epochs from the float weights) recovers it."""
    rows = []
    for bits in (3, 2):
        narrow = [f"transform.quantize.bits={bits}", "transform=[weights,quantize]"]
        ptq_ = compressed(
            f"mlp-ptq{bits}", "mlp", *narrow, "trainer.max_epochs=0", "transform.quantize.quantization=static"
        )
        qat_ = compressed(
            f"mlp-qat{bits}", "mlp", *narrow, "trainer.max_epochs=3", "transform.quantize.quantization=qat"
        )
        rows = rows or [("mlp float", ptq_["source"])]
        rows += [
            (f"static PTQ, {bits}-bit weights", ptq_["model"]),
            (f"QAT 3 epochs, {bits}-bit weights", qat_["model"]),
        ]
    show(rows)


def sparse() -> None:
    """90% unstructured sparsity, reached gradually over 5 epochs and fine-tuned for 5 more."""
    figures = compressed(
        "mlp-sparse",
        "mlp",
        "transform=[weights,prune]",
        "trainer.max_epochs=10",
        "transform.prune.amount=0.9",
        "transform.prune.pruning=gradual",
        "transform.prune.end_epoch=5",
    )
    show([("mlp dense", figures["source"]), ("mlp 90% sparse", figures["model"])])


def lottery() -> None:
    for amount in (0.85, 0.9):
        tickets(amount)


def tickets(amount: float, rounds: int = 3, round_epochs: int = 10) -> None:
    """Iterative magnitude pruning with rewinding to init, against the same mask on a fresh init; 3 seeds."""
    common = ["model=mlp", "model.width=64", "optim.lr=0.003"]
    results = {"dense": [], "winning ticket": [], "same mask, random init": []}
    for seed in range(3):
        ticket, ticket_dir = run(
            f"ticket{amount}-{seed}",
            *common,
            f"seed={seed}",
            "transform=[prune]",
            f"transform.prune.amount={amount}",
            "transform.prune.pruning=lottery",
            f"transform.prune.rounds={rounds}",
            f"trainer.max_epochs={(rounds + 1) * round_epochs}",
        )
        dense_run, _ = run(f"dense64-{seed}", *common, f"seed={seed}", f"trainer.max_epochs={round_epochs}")
        control, _ = run(
            f"control{amount}-{seed}",
            *common,
            f"seed={seed + 100}",
            "transform=[prune]",
            f"transform.prune.mask_from={ticket_dir}",
            f"trainer.max_epochs={round_epochs}",
        )
        results["dense"].append(dense_run["test"]["test/acc"])
        results["winning ticket"].append(ticket["test"]["test/acc"])
        results["same mask, random init"].append(control["test"]["test/acc"])
        left = ticket["footprint"]["model"]
    print(
        f"| {1 - amount:.0%} of weights left ({left['nonzero_parameters']:,} of {left['parameters']:,} parameters) "
        f"| mean test acc | per seed |\n|---|---:|---|"
    )
    for label, values in results.items():
        print(f"| {label} | {statistics.mean(values):.4f} | {', '.join(f'{v:.3f}' for v in values)} |")
    print()


FIGURES = {"ptq": ptq, "qat": qat, "sparse": sparse, "lottery": lottery}

if __name__ == "__main__":
    for name in sys.argv[1:] or FIGURES:
        print(f"## {name} (runs in {ROOT})\n")
        FIGURES[name]()
