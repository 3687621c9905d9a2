"""Language modelling: next-token cross-entropy, and a text sample from the trained model."""

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn
from torchmetrics import MeanMetric

from archtrain.models.blocks import sample_next
from archtrain.tasks.tagging import Tagging


@torch.no_grad()
def sample_by_recomputing(net: nn.Module, ids: torch.Tensor, length: int, context: int, temperature: float = 1.0,
                          top_k: int | None = None) -> torch.Tensor:
    """Extend `ids` (batch, time) by `length` tokens, running `net` on the last `context` tokens at every step."""
    for _ in range(length):
        ids = torch.cat([ids, sample_next(net(ids[:, -context:])[:, -1], temperature, top_k)], dim=1)
    return ids


class LanguageModel(Tagging):
    """Tagging where each position's label is the next token; it can also write text."""

    def make_metrics(self):
        return {"loss": MeanMetric()}

    def evaluate(self, batch, metrics):
        metrics["loss"].update(self.loss(batch, label_smoothing=0.0), weight=batch[1].numel())

    @torch.no_grad()
    def sample(self, prompt: torch.Tensor, length: int, temperature: float = 1.0,
               top_k: int | None = None) -> torch.Tensor:
        """Extend `prompt` (1-D token ids) by `length` tokens drawn from the model, through its own
        `generate` where it has one."""
        self.eval()
        ids = prompt.to(self.device).unsqueeze(0)
        if hasattr(self.net, "generate"):
            return self.net.generate(ids, length, temperature, top_k)[0]
        return sample_by_recomputing(self.net, ids, length, self.spec.seq_len, temperature, top_k)[0]

    def write_extras(self, run_dir: Path, cfg: DictConfig) -> list[Path]:
        settings = cfg.sample
        splits = self.trainer.datamodule.splits
        prompt = splits.get("test", splits["val"])[0][0][:8]
        ids = self.sample(prompt, settings.length, settings.temperature, settings.top_k)
        path = run_dir / "samples.txt"
        path.write_text("".join(self.spec.vocab[i] for i in ids.tolist()), encoding="utf-8")
        return [path]
