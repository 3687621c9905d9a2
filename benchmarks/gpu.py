"""GPU throughput of archtrain's models: the speedup from bf16-mixed and from torch.compile, for
gpt and resnet, and gpt's tokens per second and model FLOPs utilization (MFU).

    python benchmarks/gpu.py [--steps 30] [--peak-tflops 989]
    python benchmarks/gpu.py --tiny      # the mechanics on the CPU: tiny models, fp32 and bf16, no compile

Each configuration trains the model that archtrain builds (`build_net` from its model config) with
AdamW on random data of the right shape, so the figures are the model's and the optimizer's, not
the data pipeline's. The three variants of one model run side by side in one process and are
reported as ratios to fp32 eager. On a machine without a GPU the script says so and exits 0.

MFU follows nanoGPT and the PaLM paper: 6 N + 12 L d T FLOPs per token for a model of N
parameters, L layers, width d and context T, over the GPU's dense bf16 peak (989 TFLOP/s for the
H100 SXM and the H200).
"""

import argparse
import time

import torch
from omegaconf import OmegaConf

from archtrain.catalog import CONF
from archtrain.data.spec import DataSpec
from archtrain.models import build_net, count_parameters

# gpt at about 100M parameters (GPT-2 small's width, 8 layers) on a 1,024-token context.
GPT = {
    "overrides": {"num_layers": 8, "num_heads": 12, "d_model": 768, "dropout": 0.0},
    "spec": DataSpec(vocab_size=50304, seq_len=1024),
    "batch": 16,
}
TINY = {  # --tiny: the same code paths on the CPU in seconds
    "gpt": {
        "overrides": {"num_layers": 2, "num_heads": 2, "d_model": 64, "dropout": 0.0},
        "spec": DataSpec(vocab_size=65, seq_len=64),
        "batch": 4,
    },
    "resnet": {
        "overrides": {"depth": 18, "width": 8},
        "spec": DataSpec(in_channels=3, image_size=32, num_classes=10),
        "batch": 8,
    },
}
DEVICE = "cuda"
RESNET = {
    "overrides": {"depth": 50, "width": 64},
    "spec": DataSpec(in_channels=3, image_size=32, num_classes=10),
    "batch": 256,
}
VARIANTS = (("fp32", "32-true", False), ("bf16", "bf16-mixed", False), ("bf16+compile", "bf16-mixed", True))


def model(name: str, overrides: dict, spec: DataSpec) -> torch.nn.Module:
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    cfg.pop("defaults", None)
    cfg.update(overrides)
    return build_net(cfg, spec).to(DEVICE)


def batch(spec: DataSpec, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.vocab_size:
        ids = torch.randint(spec.vocab_size, (size, spec.seq_len + 1), device=DEVICE)
        return ids[:, :-1], ids[:, 1:]
    images = torch.randn(size, spec.in_channels, spec.image_size, spec.image_size, device=DEVICE)
    return images, torch.randint(spec.num_classes, (size,), device=DEVICE)


def seconds_per_step(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str, steps: int) -> float:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=DEVICE == "cuda")
    autocast = torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")

    def step() -> None:
        with autocast:
            logits = net(x)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, -2), y.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(5):  # warm-up: compilation, autotuning, allocator
        step()
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    return (time.perf_counter() - start) / steps


def synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def measure(name: str, setup: dict, steps: int) -> dict[str, float]:
    times = {}
    for label, precision, compiled in VARIANTS if DEVICE == "cuda" else VARIANTS[:2]:
        torch.manual_seed(0)
        net = model(name, setup["overrides"], setup["spec"])
        if compiled:
            net.compile()
        times[label] = seconds_per_step(net, *batch(setup["spec"], setup["batch"]), precision, steps)
        del net
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    return times


def gpt_flops_per_token(parameters: int, setup: dict) -> float:
    o, spec = setup["overrides"], setup["spec"]
    return 6 * parameters + 12 * o["num_layers"] * o["d_model"] * spec.seq_len


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's dense bf16 peak")
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU: check the mechanics")
    args = parser.parse_args()
    global DEVICE
    setups = {"gpt": GPT, "resnet": RESNET}
    if args.tiny:
        DEVICE, setups, args.steps = "cpu", TINY, 3
    elif not torch.cuda.is_available():
        print("no GPU is present (torch.cuda.is_available() is False): nothing to measure")
        return
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU (--tiny: mechanics only)"
    print(f"device: {name}, torch {torch.__version__}\n")
    print("| model | parameters | batch | variant | ms/step | speedup | throughput | MFU |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, setup in setups.items():
        params = count_parameters(model(name, setup["overrides"], setup["spec"]))
        times = measure(name, setup, args.steps)
        for label, seconds in times.items():
            if name == "gpt":
                tokens = setup["batch"] * setup["spec"].seq_len / seconds
                flops = gpt_flops_per_token(params, setup) * tokens
                rate, mfu = f"{tokens:,.0f} tokens/s", f"{100 * flops / (args.peak_tflops * 1e12):.1f}%"
            else:
                rate, mfu = f"{setup['batch'] / seconds:,.0f} images/s", ""
            print(
                f"| {name} | {params / 1e6:.1f}M | {setup['batch']} | {label} | {1e3 * seconds:.1f} "
                f"| {times['fp32'] / seconds:.2f}x | {rate} | {mfu} |"
            )


if __name__ == "__main__":
    main()
