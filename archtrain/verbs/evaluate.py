"""archtrain eval: a run's metrics on a split of its data, or of any dataset that fits it."""

import json

from archtrain.files import write_atomic
from archtrain.runs import RunDir
from archtrain.verbs.arguments import choice, parse
from archtrain.verbs.runs import load_parts, run_config, split_tensors

USAGE = """Usage: archtrain eval run=<dir> [data=NAME] [data.KEY=VALUE ...] [split=test|val|train]
                      [checkpoint=best|last]

The task's own metrics (e.g. accuracy and loss) of a run's best (or last) checkpoint on a split of
its data, shown as a table and merged into <run>/eval.json under "<data>/<split>/<checkpoint>"
(with data.KEY=VALUE changes: "<data>(KEY=VALUE,...)/<split>/<checkpoint>").

  run=<dir>            a run directory (outputs/runs/<date>/<time>_<model>-<data>)
  data=NAME            another dataset (conf/data/NAME.yaml) in place of the run's; it must fit the
                       model, the task and the checkpoint's dimensions
  data.KEY=VALUE       change the data config (the run's own, or NAME's), e.g. data.test_fraction=0.3
  split=test           test (default), val or train
  checkpoint=best      best (default) or last
"""
KEYS = {"run": None, "data": None, "split": "test", "checkpoint": "best"}


def run(arguments: list[str]) -> None:
    args, data_overrides = parse("eval", arguments, KEYS, required=("run",), prefixes=("data.",))
    split = choice("split", args["split"], ("test", "val", "train"))
    checkpoint = choice("checkpoint", args["checkpoint"], ("best", "last"))
    parts = load_parts(args["run"], checkpoint, run_config(args["run"], args["data"], data_overrides))
    metrics = evaluate(parts, split)
    changes = ",".join(o.removeprefix("data.") for o in data_overrides)
    key = f"{parts.cfg.data.name}{f'({changes})' if changes else ''}/{split}/{checkpoint}"
    path = RunDir(args["run"]).path / "eval.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[key] = metrics
    write_atomic(path, json.dumps(results, indent=2) + "\n")
    from rich.table import Table

    from archtrain.report.console import console

    table = Table(title=f"{parts.cfg.model.name} on {key}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4g}")
    console.print(table)
    console.print(f"written to {path}", highlight=False, soft_wrap=True)


def evaluate(parts, split: str) -> dict[str, float]:
    """The task's test metrics on every example of `split`, by name (e.g. acc, loss)."""
    import pytorch_lightning as pl

    from archtrain.training.compat import avoid_deprecated_leafspec, quiet_lightning

    avoid_deprecated_leafspec()
    quiet_lightning()
    split_tensors(parts, split)  # refuses a split the data lacks
    batches = parts.data.split_loader(split)
    trainer = pl.Trainer(
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, devices=1
    )
    results = trainer.test(parts.task, dataloaders=batches, verbose=False)[0]
    return {name.removeprefix("test/"): float(value) for name, value in sorted(results.items())}
