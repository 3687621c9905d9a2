"""Start a model from the encoder of a pretraining run: `model.pretrained=<run directory or .ckpt>`.

Only the encoder's weights (the parameters named `encoder.*`) are copied, and only into an encoder
of the same structure; the head stays as initialized. The checkpoint's vocabulary must equal the
data's, since a token id means nothing under another vocabulary. `ckpt_path=` instead restores a
whole model of the same kind.
"""

import logging
from pathlib import Path

from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.runs import RunDir
from archtrain.training.checkpoint_io import read_checkpoint

log = logging.getLogger(__name__)
ENCODER = "encoder."


def checkpoint_file(pretrained: str) -> Path:
    """The file that `model.pretrained` names: a checkpoint, or a run directory's best checkpoint."""
    path = Path(pretrained).expanduser()
    if path.is_dir():
        path = RunDir(path).best_checkpoint
    if not path.is_file():
        raise ArchtrainError(f"model.pretrained: no checkpoint at '{path}' (give a run directory or a .ckpt file)")
    return path


def load_pretrained(net: nn.Module, pretrained: str, vocab: tuple[str, ...]) -> dict:
    """Copy the encoder weights of the checkpoint that `pretrained` names into `net`; return (and
    log) what was loaded and what is newly initialized."""
    path = checkpoint_file(pretrained)
    checkpoint = read_checkpoint(path)
    weights = {name.removeprefix("net."): tensor for name, tensor in checkpoint.get("state_dict", {}).items()
               if name.startswith("net." + ENCODER)}
    if not weights:
        raise ArchtrainError(f"model.pretrained: '{path}' holds no encoder weights (no parameters named "
                             f"{ENCODER}*); give a checkpoint of a bert run")
    if "vocab" not in checkpoint:
        raise ArchtrainError(f"model.pretrained: '{path}' records no vocabulary; give a checkpoint of "
                             f"masked-LM pretraining (model=bert data=masked_text)")
    if tuple(checkpoint["vocab"]) != tuple(vocab):
        raise ArchtrainError(f"model.pretrained: '{path}' was trained on another vocabulary than this data's "
                             f"({len(checkpoint['vocab'])} tokens there, {len(vocab)} here); pretrain on "
                             f"data=masked_text under the same Python, whose pydoc topics give both")
    own = {name: tensor for name, tensor in net.state_dict().items() if name.startswith(ENCODER)}
    differences = [f"{name} is missing" for name in own.keys() - weights.keys()]
    differences += [f"{name} is not in this model" for name in weights.keys() - own.keys()]
    differences += [f"{name} has shape {tuple(weights[name].shape)} there, {tuple(tensor.shape)} here"
                    for name, tensor in own.items() if name in weights and weights[name].shape != tensor.shape]
    if differences:
        raise ArchtrainError(f"model.pretrained: the encoder in '{path}' differs from this model's "
                             f"({'; '.join(sorted(differences)[:3])}); use the same model settings and data.seq_len")
    net.load_state_dict(weights, strict=False)
    report = {"checkpoint": str(path), "loaded_tensors": len(weights),
              "loaded_parameters": sum(t.numel() for t in weights.values()),
              "new": [name for name, _ in net.named_parameters() if not name.startswith(ENCODER)]}
    log.info("model.pretrained: loaded the encoder (%d tensors, %s parameters) from %s; newly initialized: %s",
             report["loaded_tensors"], f"{report['loaded_parameters']:,}", path, ", ".join(report["new"]) or "nothing")
    return report
