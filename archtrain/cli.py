"""archtrain's command line: Hydra composes the config, `archtrain.train` runs it.

Only Hydra and OmegaConf load at start-up; torch and Lightning load when a run begins, so
`archtrain --help` and bad overrides answer at once.
"""

import importlib
import itertools
import os
import signal
import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from omegaconf import DictConfig, OmegaConf

import archtrain.cpu_busy  # noqa: F401  its first reading of the cores' busy time, for the default threads
from archtrain.catalog import CONF, options, search_overrides, use_config_dirs
from archtrain.checks import check_fit, check_machine, check_output_folder, check_resume_path, check_types, check_values
from archtrain.distributed import distributed_job, joined_job, launcher_overrides
from archtrain.errors import ArchtrainError
from archtrain.runs import RunDir, check_run_name, register_run_dir_resolver
from archtrain.schema import register as register_schema
from archtrain.signals import recording
from archtrain.startup import skip_unused_imports
from archtrain.suggest import did_you_mean
from archtrain.sweeps import is_optuna, optuna_overrides, sweep_objective

# The verbs that act on runs: name -> module with USAGE and run(arguments) (see archtrain/verbs).
VERBS = {
    "eval": "archtrain.verbs.evaluate",
    "predict": "archtrain.verbs.predict",
    "export": "archtrain.verbs.export",
    "list": "archtrain.verbs.listing",
    "sample": "archtrain.verbs.sample",
    "summary": "archtrain.verbs.summary",
    "compare": "archtrain.verbs.compare",
}
GROUPS = (
    "model",
    "data",
    "task",
    "optim",
    "scheduler",
    "regularizer",
    "transform",
    "hardware",
    "logger",
    "experiment",
    "hparams_search",
    "tune",
    "debug",
)
HELP = """archtrain: train any architecture of the deep-learning canon from composable configs.

Usage: archtrain [-m] [GROUP=OPTION | KEY=VALUE ...]      train
       archtrain VERB [KEY=VALUE ...]                  act on runs (archtrain VERB --help)

Config groups:
{groups}

Verbs:
{verbs}

Examples:
  archtrain                                        train the default: an MLP on digits
  archtrain model=lstm                             every model brings a fitting dataset
  archtrain model=gpt data=text data.path=my.txt   a character GPT on your own text
  archtrain optim=sgd optim.lr=0.05 'regularizer=[dropout,weight_decay]'
  archtrain -m optim=sgd,adam optim.lr=1e-3,1e-2   a sweep over every combination
  archtrain resume=outputs/runs/<date>/<time>_<model>-<data> [trainer.max_epochs=40]
  archtrain transform=[weights] transform.weights.path=<run>   a new run that starts from its weights
  archtrain model=lstm data=waveforms task=classify   every dataset brings a task; task= picks another
  archtrain list models | list data                the models (paper, default data, parameters), the datasets
  archtrain eval run=<run> data=iris               a run's metrics on any dataset that fits it
  archtrain export run=<run> format=onnx           the net as ONNX, checked against PyTorch
  archtrain sample run=<run> n=64                  new examples from a generative run (gan, vae, ...)
  archtrain model=vit debug=fast                   one batch of each split: does it run end to end?
  archtrain tune=lr                                Lightning's learning-rate finder sets optim.lr first
  archtrain summary run=<run> | summary model=vit  the net's layers, output sizes and parameters
  archtrain compare outputs/multirun/<date>/<time>  a sweep's runs as a table and overlaid learning curves

Runs are written under outputs/runs/, sweeps under outputs/multirun/.
See the composed config without training: archtrain --cfg job [overrides]. Hydra's own flags: --hydra-help.
"""

# Flags after which Hydra prints something and runs no job.
INFO_FLAGS = (
    "--hydra-help",
    "--info",
    "-i",
    "--cfg",
    "-c",
    "--version",
    "--resolve",
    "--package",
    "-p",
    "--shell-completion",
    "-sc",
)


def main(argv: list[str] | None = None) -> None:
    if hasattr(signal, "SIGPIPE"):  # `archtrain --help | head` ends quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    register_schema()
    skip_unused_imports()  # before Lightning loads (archtrain/startup.py)
    sys.path.append(os.getcwd())  # a user's own model or data (model._target_=mypkg.MyNet) from where they run
    argv = joined_job() or list(sys.argv[1:] if argv is None else argv)
    flags, overrides = split_arguments(argv[1:] if argv[:1] and argv[0] in VERBS else argv)
    use_config_dirs(config_dirs(flags, overrides))
    if argv[:1] and argv[0] in VERBS:
        return run_verb(argv[0], [a for a in argv[1:] if a not in flags or a in ("--help", "-h")])
    if "--help" in flags or "-h" in flags:
        print(usage())
        return
    multirun = "-m" in flags or "--multirun" in flags
    info_only = any(f.split("=")[0] in INFO_FLAGS for f in flags)  # Hydra prints and runs no job
    register_run_dir_resolver(create=not info_only)
    resume_overrides: list[str] = []
    try:
        resume = next((o.split("=", 1)[1].strip("'\"") for o in overrides if o.startswith("resume=")), None)
        if resume is not None:
            check_resume_path(resume)
            overrides, resume_overrides = resume_arguments(resume, overrides, multirun)
        elif not info_only:
            overrides += check_overrides(overrides, multirun)
        overrides += launcher_overrides(overrides, multirun)
    except ArchtrainError as err:
        refuse(err)
    sys.argv = [sys.argv[0], *flags, *overrides]
    with recording():  # SIGINT and SIGTERM stop the run where it can resume
        run_hydra(resume_overrides)


def run_verb(name: str, arguments: list[str]) -> None:
    """`archtrain <verb> ...`: the verb's help, or the verb itself with its errors as one line."""
    verb = importlib.import_module(VERBS[name])
    if "--help" in arguments or "-h" in arguments:
        print(verb.USAGE)
        return
    try:
        verb.run(arguments)
    except ArchtrainError as err:
        refuse(err)


def refuse(err: ArchtrainError) -> None:
    """A user error as one line on stderr and its exit code (the traceback with HYDRA_FULL_ERROR=1)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    print(f"error: {err}", file=sys.stderr)
    raise SystemExit(err.exit_code) from None


# Hydra flags that take a value (`--info` only sometimes).
VALUE_FLAGS = (
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-name",
    "-cn",
    "--config-path",
    "-cp",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
)
INFO_TOPICS = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (each with its value) and the KEY=VALUE overrides, in their given order."""
    flags, overrides, pending = [], [], False
    for argument in argv:
        if pending:
            flags.append(argument)
            pending = False
        elif argument.startswith("-"):
            flags.append(argument)
            pending = argument in VALUE_FLAGS
        elif flags and flags[-1] in ("--info", "-i") and argument in INFO_TOPICS:
            flags.append(argument)
        else:
            overrides.append(argument)
    return flags, overrides


def config_dirs(flags: list[str], overrides: list[str]) -> list[str]:
    """The config folders the user adds: --config-dir DIR, and the file:// entries of hydra.searchpath=[...]."""
    folders = [value for flag, value in zip(flags, flags[1:]) if flag in ("--config-dir", "-cd")]
    folders += [flag.split("=", 1)[1] for flag in flags if flag.startswith("--config-dir=")]
    for override in overrides:
        if override.startswith("hydra.searchpath="):
            entries = override.split("=", 1)[1].strip("[]").split(",")
            folders += [
                entry.strip().removeprefix("file://") for entry in entries if entry.strip().startswith("file://")
            ]
    return folders


def usage() -> str:
    """The help text, with every config group's options read from the conf folder."""
    width = max(map(len, GROUPS))
    lines = [f"  {group:<{width}}  {', '.join(options(group))}" for group in GROUPS]
    verbs = [
        f"  {name:<{width}}  {importlib.import_module(module).__doc__.splitlines()[0].split(': ', 1)[1]}"
        for name, module in VERBS.items()
    ]
    return HELP.format(groups="\n".join(lines), verbs="\n".join(verbs))


def resume_arguments(path: str, overrides: list[str], multirun: bool) -> tuple[list[str], list[str]]:
    """Hydra overrides that put the job back in the run's own directory, and the user's other
    overrides, which apply on top of that run's stored config."""
    from archtrain.runs import find_run

    if multirun:
        raise ArchtrainError("resume= continues one run; it cannot be part of a sweep (-m)")
    run = find_run(path)
    extra = [o for o in overrides if not o.startswith("resume=")]
    hydra_own = [o for o in extra if o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    extra = [o for o in extra if o not in hydra_own]
    run.load_config(extra)  # refuse a bad override before anything is written
    run.check_unlocked()  # refuse a run that another process trains in
    hydra_args = [f"resume='{run.path}'", f"hydra.run.dir='{run.path}'", "hydra.output_subdir=null", *hydra_own]
    return hydra_args, extra


def check_overrides(overrides: list[str], multirun: bool) -> list[str]:
    """Compose every job's config before anything runs, so that a bad override is one line; return
    the overrides that the sweep needs beside the user's (an Optuna sweep's direction).

    Each job's values are checked for range, and each key it sets for the type of the value its
    config ships with (composed from the job's group choices alone). A single run also stops here
    if its model and data do not fit; in a sweep such a pair is one failed job among the others.
    """
    jobs = sweep_jobs(overrides) if multirun else [overrides]
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        try:
            configs = [
                compose("config", overrides=[*search_overrides(), *job], return_hydra_config=True) for job in jobs
            ]
            shipped = {
                choices: compose("config", overrides=[*search_overrides(), *choices])
                for choices in {tuple(group_choices(job)) for job in jobs}
            }
        except Exception as err:  # Hydra and OmegaConf raise many exception types for a bad override
            cause = f" ({one_line(str(err.__cause__))})" if err.__cause__ else ""
            hint = did_you_mean(
                str(err), lambda: compose("config", overrides=[*search_overrides(), *group_choices(jobs[0])])
            )
            raise ArchtrainError(one_line(str(err)) + cause + hint) from err
    added = optuna_overrides(configs[0], overrides) if multirun and is_optuna(configs[0].hydra.sweeper) else []
    if not added and has_interval(overrides):
        raise ArchtrainError(
            "interval() is a range to sample from, which the basic sweeper cannot do; "
            "add hydra/sweeper=optuna (pip install 'archtrain[optuna]'), or list values: a,b,c"
        )
    for job, cfg in zip(jobs, configs):
        check_values(cfg)
        check_run_name(cfg)
        check_types(cfg, shipped[tuple(group_choices(job))], value_keys(job))
        check_machine(cfg.hardware)
    key = "sweep" if multirun else "run"
    check_output_folder(f"hydra.{key}.dir", OmegaConf.to_container(configs[0].hydra[key])["dir"])
    if not multirun:
        check_fit(configs[0])
    return added


def is_group(key: str) -> bool:
    """Whether an override's key names a config group (model, hydra/launcher) rather than a value."""
    return "/" in key or (CONF / key).is_dir()


def group_choices(job: list[str]) -> list[str]:
    """The overrides of a job that choose, add or delete config group options."""
    return [o.input_line for o in OverridesParser.create().parse_overrides(job) if is_group(o.key_or_group)]


def value_keys(job: list[str]) -> list[str]:
    """The keys whose values a job sets, Hydra's own aside."""
    return [
        o.key_or_group
        for o in OverridesParser.create().parse_overrides(job)
        if not is_group(o.key_or_group) and not o.key_or_group.startswith("hydra.")
    ]


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """Every job of a sweep, as Hydra's basic sweeper will launch them (the cartesian product); an
    interval, which only a sampling sweeper (Optuna) can search, stands in by its two ends."""
    choices = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if isinstance(override.value(), IntervalSweep):
            choices.append([f"{key}={end}" for end in (override.value().start, override.value().end)])
        elif override.is_sweep_override():
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    return [list(job) for job in itertools.product(*choices)]


def has_interval(overrides: list[str]) -> bool:
    return any(isinstance(o.value(), IntervalSweep) for o in OverridesParser.create().parse_overrides(overrides))


def one_line(message: str) -> str:
    """Hydra's multi-line message as one line, without its hints and internal details."""
    message = message.split("Config search path:")[0]
    lines = [line.strip() for line in message.splitlines()]
    noise = ("full_key:", "object_type=", "reference_type=", "To append to your config", "Set the environment")
    kept = [line for line in lines if line and not line.startswith(noise)]
    return " ".join(kept).replace("\t", " ") or "invalid arguments"


def run_hydra(resume_overrides: list[str]) -> None:
    @hydra.main(config_path="pkg://archtrain.conf", config_name="config", version_base="1.3")
    def job(cfg: DictConfig) -> dict:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from archtrain.train import run_job

        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        try:
            with RunDir(run_dir).training(), distributed_job(run_dir, list(hydra_cfg.overrides.task)):
                summary = run_job(cfg, run_dir, resume_overrides, multirun=hydra_cfg.mode == RunMode.MULTIRUN)
            return sweep_objective(summary, hydra_cfg.sweeper.direction) if is_optuna(hydra_cfg.sweeper) else summary
        except ArchtrainError as err:  # another process trains in run_dir (run_job reports its own)
            refuse(err)

    job()
