"""The part of the debug group that the Trainer takes: Lightning's profiler, its report written into the
run directory (the other debug options are Trainer limits, set in their yaml files)."""

from pathlib import Path

from pytorch_lightning.profilers import AdvancedProfiler, Profiler, SimpleProfiler

PROFILERS = {"simple": SimpleProfiler, "advanced": AdvancedProfiler}


def profiler(debug, run_dir: Path) -> Profiler | None:
    """debug.profiler's profiler, writing fit-profile.txt and test-profile.txt in `run_dir` (appended
    to when a run resumes); None when no profiler is asked for."""
    name = (debug or {}).get("profiler")
    return PROFILERS[name](dirpath=run_dir, filename="profile") if name else None
