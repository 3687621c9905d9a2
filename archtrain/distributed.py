"""One run directory for all the processes of a distributed job.

A run's directory is named by the time it starts and claimed by the process that composes its
config (`runs.new_dir`: a name taken by another run gets -2), so every process that composed
the config on its own would claim a directory of its own: the known Hydra + Lightning trap.
Two cases:

- Lightning's DDP launcher re-runs the command line once per extra device. Rank 0 hands its
  processes the exact job they join (its overrides and directory) through an environment
  variable; that also holds inside a sweep, where the command line names many jobs.
- An outside launcher (torchrun, SLURM's srun) starts every process at once. Their directory
  is named by the launcher's job id, which all of them share, instead of by the clock.

Only rank 0 writes the config, the metrics, checkpoints and the summary, and holds the
run's lock (`RunDir.training`).
"""

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from archtrain.errors import ArchtrainError

JOB_FOR_RANKS = "ARCHTRAIN_JOB_FOR_RANKS"
# A process that joins a job adds nothing to its directory: no .hydra/ copy, no second train.log.
JOINING = ["hydra.output_subdir=null", "hydra.job_logging.root.handlers=[console]"]


def global_rank() -> int:
    """This process's rank as the launchers announce it (0 when not distributed)."""
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


# What Lightning's launcher leaves in the environment of rank 0 for the job it launches.
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS")


@contextmanager
def distributed_job(run_dir: Path, overrides: list[str]) -> Iterator[None]:
    """While rank 0 runs a job, the processes Lightning launches for it run that same job.
    Afterwards the job's process group and launch settings are gone, so that the next job of a
    sweep launches its own processes instead of waiting for the last job's."""
    saved = {name: os.environ.get(name) for name in (JOB_FOR_RANKS, *LAUNCH_VARIABLES)}
    os.environ[JOB_FOR_RANKS] = json.dumps([*overrides, f"hydra.run.dir='{run_dir}'", *JOINING])
    try:
        yield
    finally:
        end_process_group()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def joined_job() -> list[str] | None:
    """The command line of the job a process launched by Lightning for rank 0 must join."""
    if os.environ.get("LOCAL_RANK", "0") != "0" and JOB_FOR_RANKS in os.environ:
        return json.loads(os.environ[JOB_FOR_RANKS])
    return None


def launcher_job_id() -> str | None:
    """The id an outside launcher gives every process of one job, or None when there is none."""
    if "TORCHELASTIC_RUN_ID" in os.environ:
        run_id = os.environ["TORCHELASTIC_RUN_ID"]
        if run_id == "none":
            raise ArchtrainError(
                "torchrun gave this job no id, so its processes cannot agree on one run "
                "directory: pass --rdzv-id=<the same id on every node>, or hydra.run.dir=<dir>"
            )
        return f"torchrun-{run_id}"
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_JOB_ID" in os.environ:
        return f"slurm-{os.environ['SLURM_JOB_ID']}.{os.environ.get('SLURM_STEP_ID', '0')}"
    return None


def launcher_overrides(overrides: list[str], multirun: bool) -> list[str]:
    """Hydra overrides that put every process of an outside launcher's job in one directory."""
    job_id = launcher_job_id()
    if job_id is None:
        return []
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    chosen = any(o.split("=", 1)[0].lstrip("+") == key for o in overrides)
    where = (
        []
        if chosen
        else [f"{key}=outputs/multirun/{job_id}"]
        if multirun
        else [f"{key}=outputs/runs/{job_id}_${{model.name}}-${{data.name}}"]
    )
    return where + (JOINING if global_rank() else [])


def check_relaunchable() -> None:
    """Lightning starts a job's other processes by re-running this program's command line, which
    must therefore be archtrain's (not, say, a test runner or a notebook that calls it)."""
    import __main__

    spec = getattr(__main__, "__spec__", None)
    program = spec.name if spec else Path(sys.argv[0]).name
    if not program.startswith("archtrain"):
        raise ArchtrainError(
            f"training on several devices re-runs the command that started it, and that is "
            f"'{program}', not archtrain: run it with the archtrain command, or under torchrun"
        )


def end_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
