"""The part of the debug group that the Trainer takes: Lightning's profiler, its report written into the
run directory (the other debug options are Trainer limits, set in their yaml files)."""

import contextlib
from pathlib import Path

from pytorch_lightning.profilers import AdvancedProfiler, PassThroughProfiler, Profiler, SimpleProfiler

PROFILERS = {"simple": SimpleProfiler, "advanced": AdvancedProfiler}


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler, which records nothing, without the context manager it builds from a
    generator around each hook call (about 50 in a training step, 1-2 us each: several percent of a
    small model's step)."""

    nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        return self.nothing


def profiler(debug, run_dir: Path) -> Profiler:
    """debug.profiler's profiler, writing fit-profile.txt and test-profile.txt in `run_dir` (appended
    to when a run resumes); NoProfiler when no profiler is asked for."""
    name = (debug or {}).get("profiler")
    return PROFILERS[name](dirpath=run_dir, filename="profile") if name else NoProfiler()
