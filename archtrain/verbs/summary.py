"""archtrain summary: a net's layers, output sizes and parameters, of a run or of any config."""

from archtrain.errors import ArchtrainError
from archtrain.verbs.arguments import count

USAGE = """Usage: archtrain summary run=<dir> [depth=N]
       archtrain summary [GROUP=OPTION | KEY=VALUE ...] [depth=N]

The net as Lightning's ModelSummary sees it: each module down to `depth` levels of nesting (default 3;
-1 for all) with its type, parameters, mode, FLOPs, and the input and output sizes of a forward pass of
two training examples.

  run=<dir>     a run's own: its model_summary.txt (every run writes one); with depth=, rebuilt from
                the run's config
  model=NAME    no run: the net that `archtrain model=NAME ...` would train, built from the config
                (any training overrides: data=, model.width=...), without training it
"""


def run(arguments: list[str]) -> None:
    from archtrain.report.console import console

    depth, rest = _depth(arguments)
    runs = [a.split("=", 1)[1].strip("'\"") for a in rest if a.startswith("run=")]
    if runs and len(rest) > 1:
        raise ArchtrainError("archtrain summary takes run=<dir> (and depth=), or config overrides, not both")
    if runs:
        text = run_summary(runs[0], depth)
    else:
        text = config_summary(rest, depth)
    console.print(text, markup=False, highlight=False, soft_wrap=True, end="")


def _depth(arguments: list[str]) -> tuple[int | None, list[str]]:
    """depth=N (a whole number, or -1) and the other arguments."""
    depths = [a.split("=", 1)[1] for a in arguments if a.startswith("depth=")]
    rest = [a for a in arguments if not a.startswith("depth=")]
    if not depths:
        return None, rest
    return (-1 if depths[-1] == "-1" else count("depth", depths[-1])), rest


def run_summary(path: str, depth: int | None) -> str:
    """The run's model_summary.txt, or the summary built from its config at `depth` (and written, where
    the run has none)."""
    from archtrain.report.model_summary import DEPTH, FILE
    from archtrain.runs import existing_run

    run = existing_run(path)
    stored = run.path / FILE
    if depth is None and stored.is_file():
        return stored.read_text(encoding="utf-8")
    text = _built(run.load_config([]), depth or DEPTH)
    if not stored.is_file():
        stored.write_text(text, encoding="utf-8")
    return text


def config_summary(overrides: list[str], depth: int | None) -> str:
    """The summary of the net that these training overrides describe."""
    from hydra import compose, initialize_config_module

    from archtrain.catalog import search_overrides
    from archtrain.cli import check_overrides
    from archtrain.report.model_summary import DEPTH

    check_overrides(overrides, multirun=False)
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        cfg = compose("config", overrides=[*search_overrides(), *overrides])  # with the user's config folders
    return _built(cfg, depth or DEPTH)


def _built(cfg, depth: int) -> str:
    from archtrain.assemble import assemble
    from archtrain.report.model_summary import model_summary
    from archtrain.training.compat import quiet_lightning

    quiet_lightning()
    return model_summary(assemble(cfg, resume=True), depth)  # resume: no weights are loaded
