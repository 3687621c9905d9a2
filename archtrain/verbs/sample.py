"""archtrain sample: new examples from a trained generative run, as a tensor file and a picture."""

import json
from pathlib import Path

from archtrain.errors import ArchtrainError
from archtrain.files import write_atomic
from archtrain.verbs.arguments import choice, count, parse
from archtrain.verbs.runs import load_parts, run_config

USAGE = """Usage: archtrain sample run=<dir> [n=64] [class=K] [out=<folder>] [seed=0] [checkpoint=best|last] [judge=...]

Draws n new examples from any generative run (gan, diffusion, vae, reconstruct, ...) and writes, to out= (by
default the run's own folder):

  samples.pt       the examples as a tensor in the data's own units (pixels in [0, 1]), (n, C, H, W) or (n, 2)
  samples.png      a grid of the images, or the 2-D points scattered over the data's test split

  class=K          draw examples of class K (a conditional model only: e.g. model=vae model.conditional=true);
                   the files are then samples_class<K>.pt and .png
  seed=0           the noise the examples are drawn from
  judge=auto       also judge them (printed, and written to samples_judge.json beside them): 2-D toys: modes
                   covered, share near a mode, MMD to the test split; images: the domain FID through a
                   classifier trained on the same data (trained and cached under outputs/judges/ on first
                   use; judge=<run> names your own classify run), its floor (train vs test images) and a
                   pixel-Gaussian baseline, and the classifier's mean confidence and class entropy
  judge=inception  the standard Inception FID against the test split (needs the torch-fidelity package and
                   its InceptionV3 weights, which it downloads once into its cache)
"""
KEYS = {"run": None, "n": "64", "class": None, "out": None, "seed": "0", "checkpoint": "best", "judge": None}


def run(arguments: list[str]) -> None:
    args, _ = parse("sample", arguments, KEYS, required=("run",))
    n, checkpoint = count("n", args["n"]), choice("checkpoint", args["checkpoint"], ("best", "last"))
    seed = whole("seed", args["seed"])
    label = None if args["class"] is None else whole("class", args["class"])
    cfg = run_config(args["run"])
    from hydra.utils import get_class

    from archtrain.tasks.generative import Generative

    if not issubclass(get_class(cfg.task._target_), Generative):
        raise ArchtrainError(
            f"run={args['run']} is a task={cfg.task.name} run, which does not generate; "
            f"archtrain sample needs a generative run (task=gan, wgan_gp, diffusion, vae or reconstruct)"
        )
    parts = load_parts(args["run"], checkpoint, cfg)
    task, spec = parts.task, parts.data.spec
    if label is not None and not task.conditional:
        raise ArchtrainError(f"class={label}: model={cfg.model.name} is not conditional and draws no chosen class")
    if label is not None and not label < spec.num_classes:
        raise ArchtrainError(f"class={label}: data={cfg.data.name} has classes 0 to {spec.num_classes - 1}")
    out = Path(args["out"]).expanduser() if args["out"] else Path(args["run"])
    out.mkdir(parents=True, exist_ok=True)
    samples = draw(task, n, label, seed)
    name, title = (
        ("samples", f"{cfg.model.name} on {cfg.data.name}")
        if label is None
        else (f"samples_class{label}", f"{cfg.model.name} on {cfg.data.name}, class {label}")
    )
    written = write(parts, samples, out / name, title)
    print(f"{n} samples written to {', '.join(map(str, written))}")
    if args["judge"] is not None:
        scores = judge(parts, samples, args["judge"], seed)
        path = out / f"{name}_judge.json"
        write_atomic(path, json.dumps(scores, indent=2) + "\n")
        print(
            "  ".join(
                f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in scores.items()
            )
        )
        print(f"judged in {path}")


def whole(key: str, value: str) -> int:
    """`value` as a whole number of at least 0, else a one-line refusal."""
    if not value.isdigit():
        raise ArchtrainError(f"{key}={value}: must be a whole number of at least 0")
    return int(value)


def draw(task, n: int, label: int | None, seed: int):
    """n examples from `task`, served as its data module serves them, from the noise of `seed`."""
    import torch

    labels = None if label is None else torch.full((n,), label, dtype=torch.long)
    with torch.no_grad():
        return task.generate(n, labels, torch.Generator().manual_seed(seed))


def write(parts, samples, stem: Path, title: str) -> list[Path]:
    """`stem`.pt (in the data's own units) and `stem`.png (a grid, or a scatter over the test split)."""
    import torch

    from archtrain.report.samples import image_rows, scatter

    spec = parts.data.spec
    own_units = spec.unstandardize(samples).cpu()
    torch.save(own_units, stem.with_suffix(".pt"))
    picture = stem.with_suffix(".png")
    if spec.image_size:
        image_rows([("samples", own_units)], picture, title)
    elif own_units.shape[1] == 2:
        scatter(own_units, spec.unstandardize(parts.data.splits["test"][0]), picture, title, spec.modes)
    else:
        return [stem.with_suffix(".pt")]
    return [stem.with_suffix(".pt"), picture]


def judge(parts, samples, which: str, seed: int) -> dict:
    """The judges' scores of `samples`: toy judges on 2-D mixtures, the domain FID and the classifier's
    view on images (`which`: auto, or a classify run), or the Inception FID (`which`: inception)."""
    spec, splits = parts.data.spec, parts.data.splits
    if spec.modes:
        from archtrain.judges.toys import judge_points

        return judge_points(samples, spec, splits["test"][0])
    if not spec.image_size:
        raise ArchtrainError(f"judge=: data={parts.cfg.data.name} is neither images nor a 2-D toy mixture")
    from archtrain.judges.classifier import judge_classifier
    from archtrain.judges.images import inception_fid, judge_images

    if which == "inception":
        return {"inception_fid": inception_fid(spec.unstandardize(splits["test"][0]), spec.unstandardize(samples))}
    classifier = judge_classifier(parts.cfg.data, None if which == "auto" else which)
    return judge_images(samples, splits, spec, classifier, seed)
