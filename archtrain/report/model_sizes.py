"""Parameter counts for `archtrain list models`, read from a table so that listing loads neither torch
nor any data.

model_sizes.json (beside this file) holds, for each shipped model, the parameter count of the net built
for its default data and task, under a fingerprint of those three configs' contents. A model the table
does not know (a user's config folder) or whose configs changed since is built, with its data, when
listed. `python -m archtrain.report.model_sizes` rebuilds the table after a model or its data changes.
"""

import hashlib
import json
from pathlib import Path

from archtrain.catalog import model_defaults, option_file, read_yaml, search_overrides, shipped

TABLE = Path(__file__).with_name("model_sizes.json")


def fingerprint(model: str, data: str, task: str) -> str:
    """A digest of the model, data and task configs' contents (comments and layout aside)."""
    contents = [
        read_yaml(option_file(group, name)) for group, name in (("model", model), ("data", data), ("task", task))
    ]
    return hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()[:16]


def recorded() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8")) if TABLE.is_file() else {}


def parameter_counts(models: list[str]) -> dict[str, int]:
    """Each model's parameter count for its default data and task: from the table where it is current,
    built otherwise."""
    table, counts = recorded(), {}
    for name in models:
        entry = table.get(name, {})
        if entry.get("fingerprint") == fingerprint(name, *model_defaults(name)):
            counts[name] = entry["parameters"]
    missing = [name for name in models if name not in counts]
    return {**counts, **built_counts(missing)} if missing else counts


def built_counts(models: list[str]) -> dict[str, int]:
    """Build each model for its default data and task (torch loads, each dataset is read once) and count."""
    from hydra import compose, initialize_config_module

    from archtrain.assemble import task_class
    from archtrain.data import build_datamodule
    from archtrain.models import build_net, count_parameters
    from archtrain.schema import register

    register()
    counts, specs = {}, {}
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        for name in models:
            cfg = compose("config", overrides=[*search_overrides(), f"model={name}"])
            if cfg.data.name not in specs:
                specs[cfg.data.name] = build_datamodule(cfg.data, seed=cfg.seed).spec
            spec = specs[cfg.data.name]
            counts[name] = count_parameters(build_net(cfg.model, spec, task_class(cfg).head(spec)))
    return counts


def write_table() -> None:
    """Rebuild model_sizes.json for every shipped model."""
    models = shipped("model")
    counts = built_counts(models)
    table = {
        name: {"data": data, "task": task, "parameters": counts[name], "fingerprint": fingerprint(name, data, task)}
        for name in models
        for data, task in [model_defaults(name)]
    }
    TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_table()
