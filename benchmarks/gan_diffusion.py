"""The figures of docs/GENERATIVE.md, from trained run directories (the commands that
train them are in that file). Prints markdown table rows; pictures go to docs/img/generative/.

    python benchmarks/gan_diffusion.py ring  GAN_RUN WGAN_GP_RUN DDPM_MLP_RUN
    python benchmarks/gan_diffusion.py images DCGAN_RUN DDPM_RUN
    python benchmarks/gan_diffusion.py steps DDPM_RUN
"""

import json
import sys
import time
from pathlib import Path

import torch

from archtrain.assemble import load_run
from archtrain.report.samples import _pyplot, image_rows
from archtrain.verbs.sample import judge

PICTURES = Path(__file__).resolve().parents[1] / "docs" / "img" / "generative"
SEED = 0
STEPS = (5, 10, 20, 50, 100, 250, 1000)


def seconds_per_epoch(run: str) -> float:
    summary = json.loads((Path(run) / "summary.json").read_text())
    return summary["durations"]["fit_s"] / summary["epochs"]


def timed(draw) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    with torch.no_grad():
        samples = draw()
    return samples, time.perf_counter() - start


def ring(runs: list[str]) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3.4))
    for ax, run in zip(axes, runs):
        parts = load_run(run)
        samples, took = timed(lambda: parts.task.generate(2000, generator=torch.Generator().manual_seed(SEED)))
        scores = judge(parts, samples, "auto", SEED)
        name = f"{parts.cfg.model.name}, task={parts.cfg.task.name}"
        print(
            f"| {name} | {scores['modes_covered']}/{scores['modes']} | {scores['near_mode']:.3f} | "
            f"{scores['mmd']:.4f} | {seconds_per_epoch(run):.2f} | {2000 / took:,.0f} |"
        )
        real = parts.data.splits["test"][0]
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.75")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:orange")
        ax.set(
            xlim=(-3, 3),
            ylim=(-3, 3),
            aspect="equal",
            xticks=[],
            yticks=[],
            title=f"{parts.cfg.task.name}: {scores['modes_covered']}/8 modes, {scores['near_mode']:.0%} near",
        )
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(PICTURES / "ring_gan_wgan_gp_ddpm.png", dpi=70)


def images(runs: list[str]) -> None:
    for run in runs:
        parts = load_run(run)
        n = len(parts.data.splits["test"][0])
        samples, took = timed(lambda: parts.task.generate(n, generator=torch.Generator().manual_seed(SEED)))
        scores = judge(parts, samples, "auto", SEED)
        name = parts.cfg.model.name
        print(
            f"| {name} | {scores['fid']:.2f} | {scores['fid_floor']:.2f} | {scores['fid_baseline']:.2f} | "
            f"{scores['confidence']:.3f} | {scores['class_entropy']:.3f} | {scores['classes_present']} | "
            f"{seconds_per_epoch(run):.2f} | {n / took:,.0f} |"
        )
        image_rows([("samples", samples[:64])], PICTURES / f"{name}_samples.png", f"{name} on {parts.cfg.data.name}")


def steps(run: str) -> None:
    """Domain FID against sampling steps: DDIM (eta 0) and DDPM's ancestral sampling (eta 1, the posterior
    mean of the clipped x0; all T steps: DDPM) on the same evenly spaced subsequences of the chain, all
    from the same noise."""
    parts = load_run(run)
    task, n = parts.task, len(parts.data.splits["test"][0])
    curves = {}
    for sampler, label in (("ddim", "DDIM (eta=0)"), ("ddpm", "ancestral (eta=1; 1000 steps = DDPM)")):
        for count in STEPS:
            chain = task.schedule.chain("ddim", count)
            samples, took = timed(
                lambda: task.draw(n, None, torch.Generator().manual_seed(SEED), chain, *task.SAMPLING[sampler])
            )
            scores = judge(parts, samples, "auto", SEED)
            curves.setdefault(label, []).append(scores["fid"])
            print(
                f"| {label} | {count} | {scores['fid']:.2f} | {scores['classes_present']} | {n / took:,.0f} |",
                flush=True,
            )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, fids in curves.items():
        ax.plot(STEPS, fids, marker="o", label=label)
    ax.axhline(scores["fid_floor"], color="0.5", linestyle="--", label="floor (train vs test)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="sampling steps",
        ylabel="domain FID (360 samples)",
        title="DDPM vs DDIM on digits",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PICTURES / "ddpm_vs_ddim_fid.png", dpi=70)


if __name__ == "__main__":
    torch.set_num_threads(1)
    verb, *arguments = sys.argv[1:]
    {"ring": ring, "images": images, "steps": lambda runs: steps(runs[0])}[verb](arguments)
