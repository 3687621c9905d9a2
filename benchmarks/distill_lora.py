"""The distillation and LoRA figures of docs/COMPRESSION.md, trained through archtrain.

    python benchmarks/distill_lora.py [distill] [lora] [--text=/path/to/other.txt] [--d_model=128]

distill: a ResNet teacher on digits, then a small MLP student distilled from it and the same student
trained alone, 3 seeds (the teacher of each seed splits the data as its students do).
lora: a GPT pretrained on Python's documentation, then adapted to another text (--text, e.g. Tiny
Shakespeare) by rank-8 LoRA (with and without the layer norms and the token embedding training too) and by
full fine-tuning for the same steps; the last LoRA run is exported to ONNX. --d_model: the GPT's width.
Prints markdown tables (runs go to a temporary folder).
"""

import statistics
import sys
import tempfile
from pathlib import Path

from common import train

ROOT = Path(tempfile.mkdtemp(prefix="distill-lora-"))
SEEDS = (0, 1, 2)
TEACHER = ["model=resnet", "regularizer=augment", "trainer.max_epochs=20"]
MLP = ["model=mlp", "trainer.max_epochs=30"]  # depth 2, width 256: 85k parameters, the teacher 700k
AUGMENT = "regularizer=augment"  # the student's batches augmented; the teacher labels the augmented batch
SMALL = ["model.depth=1", "model.width=32"]
SETTINGS = {  # name -> (the student, alone and distilled; the distillation knobs)
    "2x256, 30 epochs, T 4, w 0.5": (MLP, [4, 0.5]),
    "2x256, 30 epochs, T 4, w 0.9": (MLP, [4, 0.9]),
    "2x256, 30 epochs, T 2, w 0.5": (MLP, [2, 0.5]),
    "2x256, 30 epochs, T 1, w 0.5": (MLP, [1, 0.5]),
    "2x256, 5 epochs, T 4, w 0.5": ([*MLP, "trainer.max_epochs=5"], [4, 0.5]),
    "2x256, 5 epochs, T 4, w 0.9": ([*MLP, "trainer.max_epochs=5"], [4, 0.9]),
    "2x256, 30 epochs, augmented, T 4, w 0.9": ([*MLP, AUGMENT], [4, 0.9]),
    "2x256, 30 epochs, augmented, T 2, w 0.5": ([*MLP, AUGMENT], [2, 0.5]),
    "1x32, 30 epochs, augmented, T 4, w 0.9": ([*MLP, *SMALL, AUGMENT], [4, 0.9]),
}
GPT = ["model=gpt", "model.num_layers=2", "task.sample_length=0", "trainer.max_epochs=4"]
LORA = ["transform=[weights,lora]", "transform.lora.rank=8", "optim.lr=0.003"]  # 3x full fine-tuning's lr
FEED_FORWARD, EVERY_LINEAR = (
    "transform.lora.target_modules=[ff.0,ff.2]",
    "transform.lora.target_modules=[in_proj,out,ff.0,ff.2]",
)
ADAPTED = {  # name -> overrides; each trains 400 steps like full fine-tuning
    "LoRA rank 8, attention projections (default)": [],
    "LoRA rank 8, attention, layer norms train": ["transform.lora.also_train=[norm]"],
    "LoRA rank 8, attention, token embedding (= head) and layer norms train": [
        "transform.lora.also_train=[token,norm]"
    ],
    "LoRA rank 8, feed-forward, token embedding and layer norms train": [
        FEED_FORWARD,
        "transform.lora.also_train=[token,norm]",
    ],
    "LoRA rank 8, attention output and feed-forward, token embedding and layer norms": [
        "transform.lora.target_modules=[out,ff.0,ff.2]",
        "transform.lora.also_train=[token,norm]",
    ],
    "LoRA rank 8, every linear layer, token embedding and layer norms": [
        EVERY_LINEAR,
        "transform.lora.also_train=[token,norm]",
    ],
}


def run(name: str, *overrides: str, verb: list[str] | None = None) -> dict:
    """One archtrain run (or verb) in this process; the run's summary."""
    return train(ROOT / name, *overrides, arguments=verb)


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (min {min(values):.4f})"


def accuracy(name: str, *overrides: str) -> float:
    return run(name, *overrides)["test"]["test/acc"]


def distill() -> None:
    """Each seed's teacher teaches every setting's student of that seed."""
    teachers = [accuracy(f"teacher-{seed}", *TEACHER, f"seed={seed}") for seed in SEEDS]
    print(f"teacher (resnet, augmented, 20 epochs): {spread(teachers)}")
    print("| student, distillation | alone | distilled | gain per seed |\n|---|---|---|---|")
    for number, (name, (student, (temperature, weight))) in enumerate(SETTINGS.items()):
        knobs = ["task=distill", f"task.temperature={temperature}", f"task.soft_weight={weight}"]
        alone, taught = [], []
        for seed in SEEDS:
            alone.append(accuracy(f"alone-{number}-{seed}", *student, f"seed={seed}"))
            teacher = f"task.teacher={ROOT / f'teacher-{seed}'}"
            taught.append(accuracy(f"distilled-{number}-{seed}", *student, *knobs, teacher, f"seed={seed}"))
        gains = ", ".join(f"{b - a:+.4f}" for a, b in zip(alone, taught))
        print(f"| {name} | {spread(alone)} | {spread(taught)} | {gains} |")


def lora(text: str, d_model: int) -> None:
    gpt = [*GPT, f"model.d_model={d_model}"]
    pretrained = run("gpt-pydoc", *gpt, f"data.vocab_with={text}")
    target = [f"data.path={text}", "data.vocab_with=pydoc", f"transform.weights.path={ROOT / 'gpt-pydoc'}"]
    runs = {
        "pretrained on pydoc, on its own val split": pretrained,
        "from scratch on the new text": run("gpt-scratch", *gpt, f"data.path={text}", "data.vocab_with=pydoc"),
        "full fine-tuning": run("gpt-full", *gpt, *target, "transform=[weights]"),
    }
    for number, (name, overrides) in enumerate(ADAPTED.items()):
        runs[name] = run(f"gpt-lora-{number}", *gpt, *target, *LORA, *overrides)
    print("| run | trainable parameters | best val/loss (nats per character) | test/loss |\n|---|---:|---:|---:|")
    for name, summary in runs.items():
        share = summary["trainable_parameters"] / summary["parameters"]
        print(
            f"| {name} | {summary['trainable_parameters']:,} ({share:.1%}) | {summary['best']['value']:.3f} | "
            f"{summary['test']['test/loss']:.3f} |"
        )
    merged = ROOT / "gpt-lora-4"  # output + feed-forward + embedding, merged
    train(merged, arguments=["export", f"run={merged}", "format=onnx"])


if __name__ == "__main__":
    parts = [a for a in sys.argv[1:] if not a.startswith("--")] or ["distill", "lora"]
    options = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
    text = options.get("text")
    if "distill" in parts:
        distill()
    if "lora" in parts:
        if text is None:
            sys.exit("lora needs --text=<a UTF-8 text other than Python's documentation>")
        lora(text, int(options.get("d_model", 128)))
    print(f"runs in {ROOT}")
