"""Every model with its default data and settings (`archtrain model=X`): what it reaches, and how fast.

    python benchmarks/zoo.py [model ...]

Prints a markdown table: parameters, the key test metric, epochs, seconds per training epoch and
the wall time of the whole run.
"""

import json
import sys
import tempfile
from pathlib import Path

from archtrain.catalog import options
from archtrain.cli import main as archtrain


def run(model: str, root: Path) -> dict:
    run_dir = root / model
    argv = sys.argv
    try:
        archtrain([f"model={model}", "progress_bar=false", f"hydra.run.dir={run_dir}"])
    except SystemExit:
        pass
    finally:
        sys.argv = argv
    return json.loads((run_dir / "summary.json").read_text())


def main() -> None:
    models = sys.argv[1:] or options("model")
    rows = [
        "| model | data | parameters | test metric | epochs | s/epoch | wall time |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            s = run(model, Path(tmp))
            metric = s["best"]["metric"].replace("val/", "test/")
            extra = f" (persistence {s['test']['test/persistence_mae']:.1f})" if metric == "test/mae" else ""
            rows.append(
                f"| {model} | {s['data']} | {s['parameters']:,} | {metric} {s['test'][metric]:.3f}{extra} "
                f"| {s['epochs']} | {s['durations']['fit_s'] / max(1, s['epochs']):.1f} "
                f"| {s['durations']['total_s']:.0f} s |"
            )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
