"""Language modelling: next-token cross-entropy, and a text sample from the trained model."""

from pathlib import Path

import torch
from torch import nn
from torchmetrics import MeanMetric

from archtrain.models.blocks import sample_next
from archtrain.tasks.tagging import Tagging


@torch.no_grad()
def sample_by_recomputing(
    net: nn.Module, ids: torch.Tensor, length: int, context: int, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """Extend `ids` (batch, time) by `length` tokens, running `net` on the last `context` tokens at every step."""
    for _ in range(length):
        ids = torch.cat([ids, sample_next(net(ids[:, -context:])[:, -1], temperature, top_k)], dim=1)
    return ids


class LanguageModel(Tagging):
    """Tagging where each position's label is the next token. After testing it writes samples.txt:
    `sample_length` tokens drawn at `temperature` among the `top_k` likeliest, after a test prompt."""

    def __init__(self, *args, sample_length: int = 400, temperature: float = 0.8, top_k: int | None = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.sample_length, self.temperature, self.top_k = sample_length, temperature, top_k

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if cfg.model.get("bidirectional"):
            found.append(
                f"model={cfg.model.name} with bidirectional=true would read the tokens it must predict; "
                "a language model reads one way"
            )
        return found

    def make_metrics(self):
        return {"loss": MeanMetric()}

    def evaluate(self, batch, metrics):
        metrics["loss"].update(self.loss(batch, label_smoothing=0.0), weight=batch[1].numel())

    @torch.no_grad()
    def sample(self, prompt: torch.Tensor, length: int) -> torch.Tensor:
        """Extend `prompt` (1-D token ids) by `length` tokens drawn from the model, through its own
        `sample` (a KV cache) where it has one."""
        self.eval()
        ids = prompt.to(self.device).unsqueeze(0)
        if hasattr(self.net, "sample"):
            return self.net.sample(ids, length, self.temperature, self.top_k)[0]
        return sample_by_recomputing(self.net, ids, length, self.spec.seq_len, self.temperature, self.top_k)[0]

    def write_extras(self, run_dir: Path) -> list[Path]:
        if not self.sample_length:
            return []
        splits = self.trainer.datamodule.splits
        prompt = splits.get("test", splits["val"])[0][0][:8]
        ids = self.sample(prompt, self.sample_length)
        path = run_dir / "samples.txt"
        path.write_text("".join(self.spec.vocab[i] for i in ids.tolist()), encoding="utf-8")
        return [path]
