"""archtrain predict: a run's predictions for new inputs, written to a CSV or text file."""

import csv
from pathlib import Path

from archtrain.errors import ArchtrainError
from archtrain.verbs.arguments import choice, count, parse
from archtrain.verbs.runs import load_parts

USAGE = """Usage: archtrain predict run=<dir> input=<file or folder> [output=<file>] [checkpoint=best|last] [length=N]

Predictions of a run's best (or last) checkpoint for new inputs, by the run's data and task:

  vector data, classify       input: a CSV file of feature rows (header optional), standardized as in training
  image data, classify        input: an image file or a folder of images, converted and resized to the run's
  series data, forecast       input: a CSV file with one column of past values; the last `window` are used
  text data, language_model   input: a UTF-8 prompt file; writes its continuation of length=N characters (200)

Classifiers write input, class, name (where the data names its classes) and probability per row;
forecasts write step and forecast in the series' own units. The output goes to output=<file>, by
default <run>/predictions.csv (<run>/predictions.txt for text).
"""
KEYS = {"run": None, "input": None, "output": None, "checkpoint": "best", "length": None}


def run(arguments: list[str]) -> None:
    args, _ = parse("predict", arguments, KEYS, required=("run", "input"))
    checkpoint = choice("checkpoint", args["checkpoint"], ("best", "last"))
    from archtrain.verbs.inputs import existing  # numpy, torch and Pillow load here

    source = existing(args["input"])
    parts = load_parts(args["run"], checkpoint)
    kind = (parts.cfg.data.modality, parts.cfg.task.name)
    if kind not in PREDICTORS:
        raise ArchtrainError(
            f"archtrain predict reads {', '.join(f'{m} data for task={t}' for m, t in PREDICTORS)}; "
            f"not {kind[0]} data for task={kind[1]}"
        )
    generates = kind == ("text", "language_model")
    if args["length"] is not None and not generates:
        raise ArchtrainError("length= applies to language models only")
    knobs = {"length": count("length", args["length"] or "200")} if generates else {}
    import torch

    with torch.no_grad():
        result = PREDICTORS[kind](parts, source, **knobs)
    output = (
        Path(args["output"]).expanduser()
        if args["output"]
        else Path(args["run"]) / ("predictions.txt" if isinstance(result, str) else "predictions.csv")
    )
    write(output, result)
    print(f"predictions written to {output}")


def write(path: Path, result: str | list[dict]) -> None:
    """Text as it is, rows as a CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(result, str):
        path.write_text(result, encoding="utf-8")
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(result[0]))
        writer.writeheader()
        writer.writerows(result)


def classes(parts, x, names: list[str]) -> list[dict]:
    """The likeliest class of each input, with its name where the data has one, and its probability."""
    probabilities = parts.net(x).softmax(dim=-1)
    best, index = probabilities.max(dim=-1)
    vocab = parts.data.spec.vocab
    return [
        {"input": name, "class": i, **({"name": vocab[i]} if vocab else {}), "probability": round(p, 6)}
        for name, i, p in zip(names, index.tolist(), best.tolist())
    ]


def classify_rows(parts, source: Path) -> list[dict]:
    """Feature rows of a CSV file, standardized as the run's training data was (DataSpec.standardize)."""
    import torch

    from archtrain.verbs.inputs import read_numbers

    rows = torch.from_numpy(read_numbers(source))
    features = parts.data.spec.in_features
    if rows.shape[1] != features:
        raise ArchtrainError(f"input={source}: rows of {rows.shape[1]} numbers, and the run reads {features} features")
    return classes(parts, parts.data.spec.standardize(rows), [str(i) for i in range(len(rows))])


def classify_images(parts, source: Path) -> list[dict]:
    """An image file or a folder of them, read and standardized as the run's images were."""
    from archtrain.verbs.inputs import InputImages

    spec = parts.data.spec
    reader = InputImages(spec.image_size, spec.in_channels)
    files = reader.files(source)
    return classes(parts, spec.standardize(reader.read(files)), [str(f) for f in files])


def forecast(parts, source: Path) -> list[dict]:
    """The next values after the last `window` values of a one-column CSV file, in its own units."""
    import torch

    from archtrain.verbs.inputs import read_numbers

    values = read_numbers(source)
    window, (mean, std) = parts.data.spec.seq_len, parts.data.spec.scale
    if values.shape[1] != 1 or len(values) < window:
        raise ArchtrainError(
            f"input={source}: one column of at least {window} past values expected "
            f"(found {values.shape[1]} columns, {len(values)} rows)"
        )
    past = (torch.from_numpy(values[-window:]) - mean) / std
    future = parts.net(past.unsqueeze(0))[0] * std + mean
    return [{"step": step, "forecast": round(value, 6)} for step, value in enumerate(future.tolist(), start=1)]


def continue_text(parts, source: Path, length: int) -> str:
    """`length` characters that the language model writes after the prompt in `source`."""
    import torch

    from archtrain.verbs.inputs import character_ids

    vocab = parts.data.spec.vocab
    prompt = torch.tensor(character_ids(source, vocab))
    torch.manual_seed(parts.cfg.seed)
    ids = parts.task.sample(prompt, length)[len(prompt) :]
    return "".join(vocab[i] for i in ids.tolist())


PREDICTORS = {
    ("vector", "classify"): classify_rows,
    ("image", "classify"): classify_images,
    ("series", "forecast"): forecast,
    ("text", "language_model"): continue_text,
}
