"""The default job's fit time at several torch thread counts, alternating, in this process.

    python benchmarks/threads.py [--counts 1 2 auto] [--busy 1] [--epochs 6] [--repeats 3] [-- OVERRIDE ...]
    python benchmarks/threads.py --choice 60

`auto` is the default (hardware.threads=null: archtrain.hardware.default_threads). `--busy N` starts N
processes that spin for the whole measurement, the situation of a shared machine: OpenMP threads that
wait at a barrier for a thread the OS has descheduled make a job many times slower than one thread.
`--choice SECONDS` instead shows what the default picks, against the old rule (usable cores less the
1-minute load average), with nothing started, while a process spins, and 3 s after a process that
spun for SECONDS has ended (a benchmark's previous command, a user's previous job).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archtrain import cpu_busy
from archtrain.cli import main as archtrain
from archtrain.hardware import default_threads, usable_cpus

SPIN = "while True: pass"


def fit_seconds(threads: str, epochs: int, folder: Path, overrides: list[str]) -> float:
    run = folder / f"threads-{threads}-{len(list(folder.iterdir()))}"
    count = "null" if threads == "auto" else threads
    argv = sys.argv
    try:
        archtrain(
            [
                "progress_bar=false",
                f"hardware.threads={count}",
                f"trainer.max_epochs={epochs}",
                *overrides,
                f"hydra.run.dir={run}",
            ]
        )
    except SystemExit:
        pass
    finally:
        sys.argv = argv
    return json.loads((run / "summary.json").read_text())["durations"]["fit_s"]


def show_choice(spin_seconds: float) -> None:
    """The default thread count and the old rule's, in three situations, 3 s of readings each."""

    def row(situation: str) -> None:
        time.sleep(3)
        busy, load = cpu_busy.busy_elsewhere(), os.getloadavg()[0]
        old = max(1, usable_cpus() - math.floor(load))
        print(f"| {situation} | {load:.2f} | {old} | {busy:.2f} | {default_threads(busy=busy)} |")

    print(f"{usable_cpus()} usable cores; torch's own count {__import__('torch').get_num_threads()}")
    print("| situation | load average | old rule | busy now | default now |\n|---|---:|---:|---:|---:|")
    row("nothing started")
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    row("a process spins beside it")
    time.sleep(max(0.0, spin_seconds - 3))
    spinner.kill()
    spinner.wait()
    cpu_busy.busy_elsewhere()  # a fresh first reading: the start of the next command
    row(f"3 s after a {spin_seconds:.0f} s process ended")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", nargs="+", default=["1", "2", "auto"])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes beside the job")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--choice", type=float, metavar="SECONDS", help="show the choice before, beside, after")
    parser.add_argument("overrides", nargs="*")
    arguments = parser.parse_args()
    if arguments.choice:
        return show_choice(arguments.choice)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(arguments.busy)]
    try:
        times = {count: [] for count in arguments.counts}
        with tempfile.TemporaryDirectory() as folder:
            fit_seconds("1", 1, Path(folder), arguments.overrides)  # imports and first-call costs
            for _ in range(arguments.repeats):
                for count in arguments.counts:
                    times[count].append(fit_seconds(count, arguments.epochs, Path(folder), arguments.overrides))
    finally:
        for spinner in spinners:
            spinner.kill()
    print(
        f"default job, {arguments.epochs} epochs, {' '.join(arguments.overrides)}; {os.cpu_count()} CPUs, "
        f"{arguments.busy} busy process(es) beside it, load average {os.getloadavg()[0]:.1f}; "
        f"auto = {default_threads()} thread(s) here"
    )
    print(f"{'threads':>8s} {'fit (median)':>13s}  runs")
    for count, runs in times.items():
        print(f"{count:>8s} {statistics.median(runs):12.2f}s  {', '.join(f'{t:.2f}' for t in runs)}")


if __name__ == "__main__":
    main()
