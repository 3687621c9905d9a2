"""The default job's fit time at several torch thread counts, alternating, in this process.

    python benchmarks/threads.py [--counts 1 2 auto] [--busy 1] [--epochs 6] [--repeats 3] [-- OVERRIDE ...]

`auto` is the default (hardware.threads=null: archtrain.hardware.default_threads). `--busy N` starts N
processes that spin for the whole measurement, the situation of a shared machine: OpenMP threads that
wait at a barrier for a thread the OS has descheduled make a job many times slower than one thread.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from archtrain.cli import main as archtrain
from archtrain.hardware import default_threads

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", nargs="+", default=["1", "2", "auto"])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes beside the job")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*")
    arguments = parser.parse_args()
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
