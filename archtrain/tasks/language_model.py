"""Language modelling: next-token cross-entropy, and a text sample from the trained model."""

from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torchmetrics import MeanMetric

from archtrain.tasks.tagging import Tagging


class LanguageModel(Tagging):
    """Tagging where each position's label is the next token; it can also write text."""

    def make_metrics(self):
        return {"loss": MeanMetric()}

    def evaluate(self, batch, metrics):
        metrics["loss"].update(self.loss(batch, label_smoothing=0.0), weight=batch[1].numel())

    @torch.no_grad()
    def sample(self, prompt: torch.Tensor, length: int, temperature: float = 1.0,
               top_k: int | None = None) -> torch.Tensor:
        """Extend `prompt` (1-D token ids) by `length` tokens drawn from the model."""
        self.eval()
        ids = prompt.to(self.device).unsqueeze(0)
        for _ in range(length):
            logits = self.net(ids[:, -self.spec.seq_len:])[:, -1] / max(temperature, 1e-6)
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            ids = torch.cat([ids, torch.multinomial(F.softmax(logits, -1), 1)], dim=1)
        return ids[0]

    def write_extras(self, run_dir: Path, cfg: DictConfig) -> list[Path]:
        settings = cfg.sample
        prompt = self.trainer.datamodule.splits["test"][0][0][:8]
        ids = self.sample(prompt, settings.length, settings.temperature, settings.top_k)
        path = run_dir / "samples.txt"
        path.write_text("".join(self.spec.vocab[i] for i in ids.tolist()), encoding="utf-8")
        return [path]
