"""Start-up of an archtrain command: the whole command (process start to exit) and the time to its
first training step, each in a fresh process, as a shell runs it.

    python benchmarks/startup.py [--repeats 3] [--root DIR] [-- OVERRIDE ...]

The default job is `archtrain` with no overrides (an MLP on digits, 20 epochs). The first step is the
first optimizer step, seen by a global step hook that the child installs when torch.optim loads (so
nothing loads earlier than it would). `--root` runs another checkout of archtrain (e.g. an older commit
unpacked with `git archive`) for a before/after comparison, alternating with this one.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

# Run in the child: note when the first optimizer step begins, then run archtrain's command line.
CHILD = """
import importlib.util, os, sys, time

class FirstStep:
    def find_spec(self, name, path=None, target=None):
        if name != "torch.optim.optimizer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)

            def first_step(optimizer, args, kwargs):
                with open(os.environ["FIRST_STEP_FILE"], "w") as file:
                    file.write(repr(time.time()))
                handle.remove()

            handle = module.register_optimizer_step_pre_hook(first_step)

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, FirstStep())
from archtrain.cli import main
main(sys.argv[1:])
"""


def one_run(root: Path, overrides: list[str]) -> dict:
    """Wall time of one command, its first step and its fit time (summary.json), in seconds."""
    with tempfile.TemporaryDirectory() as folder:
        marker = Path(folder) / "first_step"
        env = {
            **os.environ,
            "FIRST_STEP_FILE": str(marker),
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        }
        start = time.time()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "progress_bar=false", *overrides, f"hydra.run.dir={folder}/run"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.time() - start
        if done.returncode:
            raise SystemExit(done.stderr[-2000:])
        summary = json.loads((Path(folder) / "run" / "summary.json").read_text())
        return {
            "wall_s": wall,
            "first_step_s": float(marker.read_text()) - start,
            "fit_s": summary["durations"]["fit_s"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, help="another archtrain checkout to compare with")
    parser.add_argument("overrides", nargs="*")
    arguments = parser.parse_args()
    roots = {"this": HERE, **({"other": arguments.root.resolve()} if arguments.root else {})}
    results = {name: [] for name in roots}
    for _ in range(arguments.repeats):  # alternate, so that both see the same load
        for name, root in roots.items():
            results[name].append(one_run(root, arguments.overrides))
    load = os.getloadavg()[0]
    print(
        f"archtrain {' '.join(arguments.overrides) or '(the default job)'}: medians of {arguments.repeats}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
    print(f"{'checkout':40s} {'whole command':>14s} {'first step':>11s} {'fit':>8s}")
    for name, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"{str(roots[name]):40s} {median['wall_s']:13.2f}s {median['first_step_s']:10.2f}s {median['fit_s']:7.2f}s"
        )


if __name__ == "__main__":
    main()
