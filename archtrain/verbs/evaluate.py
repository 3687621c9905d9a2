"""archtrain eval: a run's metrics on a split of its data, or of any dataset that fits it."""

import json

from archtrain.files import write_atomic
from archtrain.runs import RunDir
from archtrain.verbs.arguments import choice, parse
from archtrain.verbs.runs import load_parts, run_config, split_tensors

USAGE = """Usage: archtrain eval run=<dir> [data=NAME] [data.KEY=VALUE ...] [split=test|val|train]
                      [checkpoint=best|last] [task=linear_probe]

The task's own metrics (e.g. accuracy and loss) of a run's best (or last) checkpoint on a split of
its data, shown as a table and merged into <run>/eval.json under "<data>/<split>/<checkpoint>"
(with data.KEY=VALUE changes: "<data>(KEY=VALUE,...)/<split>/<checkpoint>").

  run=<dir>            a run directory (outputs/runs/<date>/<time>_<model>-<data>)
  data=NAME            another dataset (conf/data/NAME.yaml) in place of the run's; it must fit the
                       model, the task and the checkpoint's dimensions
  data.KEY=VALUE       change the data config (the run's own, or NAME's), e.g. data.test_fraction=0.3
  split=test           test (default), val or train
  checkpoint=best      best (default) or last
  task=linear_probe    judge the net's features instead of its task: a linear probe fit on the frozen
                       features of the labelled train split and cosine kNN (k=20), scored on the split,
                       beside the same probes of the net freshly initialised (random_init_*); stored
                       under "<data>/<split>/<checkpoint>/linear_probe"
"""
KEYS = {"run": None, "data": None, "split": "test", "checkpoint": "best", "task": None}
PROBE_MODALITIES = ("vector", "image")


def run(arguments: list[str]) -> None:
    args, data_overrides = parse("eval", arguments, KEYS, required=("run",), prefixes=("data.",))
    split = choice("split", args["split"], ("test", "val", "train"))
    checkpoint = choice("checkpoint", args["checkpoint"], ("best", "last"))
    probing = args["task"] is not None and choice("task", args["task"], ("linear_probe",))
    parts = load_parts(args["run"], checkpoint, run_config(args["run"], args["data"], data_overrides))
    metrics = probe(parts, split) if probing else evaluate(parts, split)
    changes = ",".join(o.removeprefix("data.") for o in data_overrides)
    key = f"{parts.cfg.data.name}{f'({changes})' if changes else ''}/{split}/{checkpoint}"
    key += "/linear_probe" if probing else ""
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


def probe(parts, split: str) -> dict[str, float]:
    """probe_acc and knn_acc of the run's frozen features on `split` (fit on the train split), and the same
    of the net as the run's seed initialises it (random_init_probe_acc, random_init_knn_acc)."""
    import pytorch_lightning as pl
    import torch

    from archtrain.assemble import assemble
    from archtrain.errors import ArchtrainError
    from archtrain.training.probes import probe_scores

    cfg, spec = parts.cfg, parts.data.spec
    if cfg.data.modality not in PROBE_MODALITIES or not spec.num_classes:
        raise ArchtrainError(
            f"task=linear_probe fits a classifier on features of labelled vectors or images; "
            f"data={cfg.data.name} is {cfg.data.modality} data{'' if spec.num_classes else ' without class labels'}"
        )
    train, test = split_tensors(parts, "train"), split_tensors(parts, split)
    pl.seed_everything(cfg.seed, verbose=False)
    fresh = assemble(cfg, resume=True).net.eval()  # resume: no transform loads weights
    scores = {}
    for prefix, net in (("", parts.net), ("random_init_", fresh)):
        for name, value in probe_scores(net.features, train, test, spec.num_classes, torch.device("cpu")).items():
            scores[prefix + name] = value
    return scores
