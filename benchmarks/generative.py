"""Autoencoders and VAEs on digits (and a VAE on the 8-Gaussian ring): what they reach, judged as
docs/GENERATIVE.md describes, and how fast.

    python benchmarks/generative.py [out_folder]

Prints markdown tables (reconstruction against PCA, denoising, the samplers' domain FID with its floor
and baseline, the classifier's view, s/epoch, samples/s) and copies the final pictures to out_folder
(default docs/img/generative).
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from archtrain.assemble import load_run
from archtrain.cli import main as archtrain
from archtrain.judges.classifier import judge_classifier
from archtrain.judges.images import judge_images
from archtrain.judges.toys import judge_points
from archtrain.tasks.reconstruct import corrupt

COMMON = ["progress_bar=false", "hardware.threads=1", "task.pictures_every=0"]
RUNS = {
    "autoencoder": ["model=autoencoder", "trainer.max_epochs=30"],
    "denoising": ["model=autoencoder", "trainer.max_epochs=30", "task.noise=gaussian", "task.noise_level=0.3"],
    "sparse": ["model=autoencoder", "trainer.max_epochs=30", "task.sparsity=0.02"],
    "conv_autoencoder": ["model=conv_autoencoder", "trainer.max_epochs=30"],
    "vae": ["model=vae", "trainer.max_epochs=60", "optim.lr=0.002"],
    "conditional_vae": ["model=vae", "model.conditional=true", "trainer.max_epochs=60", "optim.lr=0.002"],
    "vae_ring": [
        "model=vae",
        "data=ring",
        "task.decoder=gaussian",
        "task.decoder_std=0.05",
        "model.code_size=2",
        "trainer.max_epochs=30",
    ],
}


def train(name: str, root: Path):
    argv, stdout = sys.argv, sys.stdout
    sys.stdout = sys.stderr  # the run's console output; stdout keeps the tables
    try:
        archtrain([*RUNS[name], *COMMON, f"hydra.run.dir={root / name}"])
    except SystemExit:
        pass
    finally:
        sys.argv, sys.stdout = argv, stdout
    parts = load_run(str(root / name))
    parts.data.setup()
    return parts


def speed(parts, n: int = 2000) -> float:
    """Samples per second of generate(n), one thread: the best of three."""
    times = []
    with torch.no_grad():
        parts.task.generate(10)  # warm-up
        for _ in range(3):
            start = time.perf_counter()
            parts.task.generate(n, generator=torch.Generator().manual_seed(0))
            times.append(time.perf_counter() - start)
    return n / min(times)


def seconds_per_epoch(root: Path, name: str) -> float:
    import json

    summary = json.loads((root / name / "summary.json").read_text())
    return summary["durations"]["fit_s"] / max(1, summary["epochs"])


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/generative")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parts = {name: train(name, root) for name in RUNS}
        digits = parts["autoencoder"].data
        test = digits.splits["test"][0]
        noisy = corrupt(test, "gaussian", 0.3, torch.Generator().manual_seed(1))
        from sklearn.decomposition import PCA

        flat = digits.splits["train"][0].flatten(1).numpy()
        pca = PCA(8).fit(flat)
        pca_mse = float(
            ((pca.inverse_transform(pca.transform(test.flatten(1).numpy())) - test.flatten(1).numpy()) ** 2).mean()
        )
        rows = [
            "| model (8-number code) | test MSE | MSE on noisy inputs (σ=0.3) | mean abs code | s/epoch |",
            "|---|---:|---:|---:|---:|",
            f"| PCA, 8 components | {pca_mse:.4f} | | | |",
        ]
        for name in ("autoencoder", "denoising", "sparse", "conv_autoencoder"):
            task = parts[name].task
            with torch.no_grad():
                code = task.net.encode(test)[0]
                mse = float(((task.reconstruct(test) - test) ** 2).mean())
                noisy_mse = float(((task.reconstruct(noisy) - test) ** 2).mean())
            rows.append(
                f"| {name} | {mse:.4f} | {noisy_mse:.4f} | {code.abs().mean():.3f} "
                f"| {seconds_per_epoch(root, name):.2f} |"
            )
        print("\n".join(rows), "\n")

        judge = judge_classifier(parts["autoencoder"].cfg.data)
        rows = [
            "| samples (360) | domain FID | floor (train vs test) | baseline (pixel Gaussian) | confidence | "
            "class entropy (max 2.303) | classes | test nELBO (nats) | s/epoch | samples/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ("autoencoder", "conv_autoencoder", "vae", "conditional_vae"):
            task = parts[name].task
            with torch.no_grad():
                samples = task.generate(360, generator=torch.Generator().manual_seed(0))
            s = judge_images(samples, digits.splits, digits.spec, judge)
            summary_nelbo = ""
            if name.endswith("vae"):
                import json

                summary_nelbo = f"{json.loads((root / name / 'summary.json').read_text())['test']['test/nelbo']:.2f}"
            rows.append(
                f"| {name} | {s['fid']:.2f} | {s['fid_floor']:.2f} | {s['fid_baseline']:.2f} | {s['confidence']:.3f} "
                f"| {s['class_entropy']:.3f} | {s['classes_present']} | {summary_nelbo} "
                f"| {seconds_per_epoch(root, name):.2f} | {speed(parts[name]):,.0f} |"
            )
        print("\n".join(rows), "\n")

        conditional = parts["conditional_vae"].task
        labels = torch.arange(360) % 10
        with torch.no_grad():
            samples = conditional.generate(360, labels, torch.Generator().manual_seed(0))
            from archtrain.judges.images import PenultimateFeatures

            predicted = PenultimateFeatures(judge.net, judge.data.spec, digits.spec).probabilities(samples).argmax(1)
        print(
            "conditional VAE: the judge agrees with the requested class for "
            f"{(predicted == labels).float().mean():.3f} "
            f"of 360 samples\n"
        )

        ring = parts["vae_ring"]
        with torch.no_grad():
            points = ring.task.generate(400, generator=torch.Generator().manual_seed(0))
        print(
            "vae on ring:",
            judge_points(points, ring.data.spec, ring.data.splits["test"][0]),
            f"s/epoch {seconds_per_epoch(root, 'vae_ring'):.2f}",
        )

        for name, pictures in (
            ("autoencoder", ("reconstructions",)),
            ("denoising", ("reconstructions",)),
            ("vae", ("samples", "interpolation", "reconstructions")),
            ("conditional_vae", ("samples",)),
            ("vae_ring", ("samples",)),
        ):
            for picture in pictures:
                shutil.copy(root / name / f"final_{picture}.png", out / f"{name}_{picture}.png")


if __name__ == "__main__":
    main()
