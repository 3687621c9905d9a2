"""Where each microsecond of a run goes, archtrain against the hand-written loop, by phase.

    python benchmarks/step_profile.py [--case mlp] [--repeats 3] [--interval 0.0005]

Runs a case of benchmarks/overhead.py through both sides while a thread samples the main thread's
Python stack every `interval` seconds (a statistical profiler: no per-call hooks). Each sample goes
to the phase it falls in (the training steps, validation, checkpoints, set-up and teardown), found by
a frame anywhere on the stack, and weighs the time since the one before. Prints microseconds per
training step by phase, side by side. It does not split a step further: the sampler only gets the
interpreter when the main thread lets go of it, which a torch call does, so Python time in the
training loop would be counted to the torch call that follows it (docs/PERFORMANCE.md).
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

# Phases of the timed run, by a frame anywhere on the stack (the first phase that matches).
PHASES = (
    ("sanity check", ("Trainer._run_sanity_check",)),
    ("checkpoints", ("Trainer.save_checkpoint", "hand_loop.<locals>.save", "SafeCheckpointIO.teardown")),
    ("validation", ("_EvaluationLoop.run", "hand_loop.<locals>.validate")),
    (
        "the training steps",
        ("_TrainingEpochLoop.advance", "_TrainingEpochLoop.on_advance_end", "hand_loop.<locals>.fit"),
    ),
    ("epoch ends, set-up, teardown", ("Trainer.fit",)),
)


def classify(frame) -> str | None:
    """The phase of a sample of the main thread whose innermost frame is `frame`."""
    names = set()
    while frame is not None:
        names.add(frame.f_code.co_qualname)
        frame = frame.f_back
    if not names & {"Trainer.fit", "hand_loop.<locals>.fit"}:
        return None  # outside the timed part (imports, config, the test)
    return next(phase for phase, marks in PHASES if names & set(marks))


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
    for phase, _ in PHASES:
        cells = [f"{1e6 * counts[phase] / steps:.0f}" if counts[phase] else "" for counts in sides.values()]
        print(f"| {phase} | {' | '.join(cells)} |")
    sampled = [f"{1e6 * sum(counts.values()) / steps:.0f}" for counts in sides.values()]
    print(f"| sampled, all phases | {' | '.join(sampled)} |")
    measured = [f"{1e6 * seconds[side] / steps:.0f}" for side in sides]
    print(f"| **measured (the run's clock)** | {' | '.join(measured)} |")


if __name__ == "__main__":
    main()
