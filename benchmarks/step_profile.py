"""Where each microsecond of a training step goes, archtrain against the hand-written loop.

    python benchmarks/step_profile.py [--case mlp] [--repeats 3] [--interval 0.0005]

Runs a case of benchmarks/overhead.py through both sides while a thread samples the main thread's
Python stack every `interval` seconds (a statistical profiler: no per-call hooks, so small
functions are not inflated as under cProfile). Each sample goes to the phase it falls in (validation,
checkpoints, set-up and teardown, or a training step) and, within a step, to the first frame from the
innermost outwards that belongs to a part (time in C code counts for the Python frame that called it):
the model's forward and loss, backward, the optimizer, data loading, Lightning's loop, archtrain's
callbacks and task. Each sample weighs the time since the one before (a thread that holds the
interpreter delays the sampler). Prints microseconds per training step by part, side by side.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from overhead import CASES, COMMON, TEXT, cpu_threads, hand_loop, through_archtrain

# Frames that only pass a call on (decorators, context managers): a sample in them goes to their caller.
NEUTRAL = (
    "/contextlib.py",
    "/functools.py",
    "torch/utils/_contextlib.py",
    "torch/autograd/profiler.py",
    "torch/_compile.py",
    "torch/_dynamo/",
    "typing_extensions",
    "lightning_utilities/",
)
# Phases of the timed run, by a frame anywhere on the stack (the first phase that matches).
PHASES = (
    ("sanity check", ("Trainer._run_sanity_check",)),
    ("checkpoints", ("Trainer.save_checkpoint", "hand_loop.<locals>.save", "SafeCheckpointIO.teardown")),
    ("validation", ("_EvaluationLoop.run", "hand_loop.<locals>.validate")),
    ("steps", ("_TrainingEpochLoop.advance", "_TrainingEpochLoop.on_advance_end", "hand_loop.<locals>.fit")),
    ("epoch ends, set-up, teardown", ("Trainer.fit",)),
)
# Parts of a step, by the innermost frame that is not NEUTRAL: (part, path fragments, function names).
PARTS = (
    ("zero_grad", ("torch/optim/",), ("zero_grad",)),
    ("optimizer (Adam)", ("torch/optim/",), ()),
    ("backward", ("torch/autograd/", "torch/_tensor.py"), ()),
    ("forward and loss", ("torch/nn/", "archtrain/models/", "archtrain/tasks/classify.py"), ()),
    ("data: loader and batch", ("torch/utils/data/", "archtrain/data/"), ()),
    ("archtrain: callbacks", ("archtrain/training/callbacks.py",), ()),
    ("archtrain: task hooks", ("archtrain/tasks/",), ()),
    ("Lightning: hook dispatch", ("pytorch_lightning/trainer/call.py",), ()),
    ("Lightning: closure, backward and step wrappers", ("optimization/automatic.py", "/precision/", "strategies/"), ()),
    ("Lightning: module and optimizer wrappers", ("core/module.py", "core/optimizer.py"), ()),
    ("Lightning: logging", ("logger_connector",), ()),
    ("Lightning: epoch loop, progress, fetcher", ("pytorch_lightning/", "lightning_fabric/"), ()),
    ("the loop's own lines (hand loop)", ("benchmarks/overhead.py",), ()),
)


def classify(frame) -> tuple[str, str] | None:
    """(phase, part) of a sample of the main thread whose innermost frame is `frame`."""
    stack = []
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_code.co_qualname))
        frame = frame.f_back
    names = {name for _, name in stack}
    if not names & {"Trainer.fit", "hand_loop.<locals>.fit"}:
        return None  # outside the timed part (imports, config, the test)
    phase = next(phase for phase, marks in PHASES if names & set(marks))
    if phase != "steps":
        return phase, ""
    for path, name in stack:
        if any(part in path for part in NEUTRAL):
            continue
        for part, paths, functions in PARTS:
            if any(fragment in path for fragment in paths) and (not functions or name.split(".")[-1] in functions):
                return phase, part
        return phase, f"other: {path.rsplit('site-packages/', 1)[-1]}"
    return phase, "other"


class Sampler:
    """Samples the main thread's stack every `interval` seconds while running."""

    def __init__(self, interval: float):
        self.interval, self.samples, self.main = interval, Counter(), threading.main_thread().ident
        self.running = False

    def __enter__(self):
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    def sample(self) -> None:
        last = time.perf_counter()
        while self.running:
            time.sleep(self.interval)
            frame = sys._current_frames().get(self.main)
            now = time.perf_counter()  # the seconds since the last sample go to where the main thread is now:
            where = classify(frame) if frame is not None else None  # a thread that holds the interpreter
            if where:  # longer is sampled less often, and weighs more
                self.samples[where] += now - last
            last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="mlp", choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.0005)
    args = parser.parse_args()
    overrides = [*COMMON, *CASES[args.case][0]] + ([f"data.path={TEXT}"] if args.case == "gpt" else [])
    sys.setswitchinterval(args.interval / 5)  # the sampler gets the interpreter soon after it wakes
    sides = {"hand loop": Counter(), "archtrain": Counter()}
    seconds = {side: 0.0 for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        through_archtrain(overrides, out)  # warm-up
        for _ in range(args.repeats):
            with cpu_threads(1), Sampler(args.interval) as sampler:
                took, steps = hand_loop(overrides, out)
            sides["hand loop"] += sampler.samples
            seconds["hand loop"] += took
            with Sampler(args.interval) as sampler:
                seconds["archtrain"] += through_archtrain(overrides, out)
            sides["archtrain"] += sampler.samples
    steps *= args.repeats
    print(f"\n{args.case}: {steps // args.repeats} steps x {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    print("| us per training step | hand loop | archtrain |\n|---|---:|---:|")
    keys = sorted({key for counts in sides.values() for key in counts}, key=lambda k: (k[0] != "steps", k))
    for key in keys:
        cells = [f"{1e6 * counts[key] / steps:.0f}" if counts[key] else "" for counts in sides.values()]
        print(f"| {key[0] if key[0] != 'steps' else 'step'}{': ' + key[1] if key[1] else ''} | {' | '.join(cells)} |")
    sampled = [f"{1e6 * sum(counts.values()) / steps:.0f}" for counts in sides.values()]
    print(f"| sampled, all parts | {' | '.join(sampled)} |")
    measured = [f"{1e6 * seconds[side] / steps:.0f}" for side in sides]
    print(f"| **measured (the run's clock)** | {' | '.join(measured)} |")


if __name__ == "__main__":
    main()
