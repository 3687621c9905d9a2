"""archtrain compare: runs side by side, as a table and as overlaid learning curves."""

from pathlib import Path

from archtrain.errors import ArchtrainError

USAGE = """Usage: archtrain compare RUN_DIR [RUN_DIR ...] | SWEEP_DIR [out=FILE.png]

A table of the runs' key figures (model, data, task, status, the best value of the metric that picks
the best checkpoint and its epoch, the test metrics, parameters, epochs, time; for a compressed run its
saved file's size, non-zero parameters, CPU latency per example and key metric beside its source run's)
and one picture with every run's learning curves overlaid: validation (solid) and training (dashed)
loss, and the key metric.

  RUN_DIR     a run directory (with a summary.json); or a folder of runs, such as a sweep's
              (outputs/multirun/<date>/<time>) or outputs/, searched for them
  out=FILE    where the picture goes (default: compare.png in the one folder given, else here)
Runs of a sweep are labelled by the overrides that differ between them, others by their directory.
The runs must pick their best checkpoints by the same metric (runs of one task).
"""


def run(arguments: list[str]) -> None:
    from archtrain.report.compare import comparison_table, find_runs, overlaid_curves
    from archtrain.report.console import console

    out = [a.split("=", 1)[1].strip("'\"") for a in arguments if a.startswith("out=")]
    paths = [a for a in arguments if not a.startswith("out=")]
    if any("=" in p and not Path(p).exists() for p in paths):
        raise ArchtrainError(
            f"archtrain compare takes run directories and out=, not "
            f"{next(p for p in paths if '=' in p and not Path(p).exists())}"
        )
    runs = find_runs(paths)
    picture = picture_path(out[-1] if out else None, paths)
    console.print(comparison_table(runs))
    written = overlaid_curves(runs, picture)
    console.print(
        f"learning curves: {written}" if written else "no run has metrics.csv: no learning curves",
        highlight=False,
        soft_wrap=True,
    )


def picture_path(out: str | None, paths: list[str]) -> Path:
    """out= as given (its folder must exist), else compare.png in the one folder of runs given, else here."""
    if out:
        path = Path(out).expanduser()
        if path.suffix.lower() != ".png":
            raise ArchtrainError(f"out={out}: the picture is a PNG; name a .png file")
        if not path.parent.is_dir():
            raise ArchtrainError(f"out={out}: no such folder '{path.parent}'")
        return path
    if len(paths) == 1 and not (Path(paths[0]) / "summary.json").is_file():
        return Path(paths[0]) / "compare.png"
    return Path("compare.png")
