"""A finished run as the verbs use it: its config (optionally with other data), its parts with a
checkpoint's weights, and batches of its data."""

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

from archtrain.errors import ArchtrainError
from archtrain.runs import existing_run


def run_config(path: str, data: str | None = None, data_overrides: list[str] = ()) -> DictConfig:
    """The config stored in the run at `path`; `data` replaces its data node by conf/data/<data>.yaml,
    and `data_overrides` (data.KEY=VALUE) apply on top."""
    cfg = OmegaConf.load(existing_run(path).config)
    try:
        if data is not None:
            with initialize_config_module("archtrain.conf", version_base="1.3"):
                cfg.data = compose("config", overrides=[f"data={data}", *data_overrides]).data
        elif data_overrides:
            OmegaConf.set_struct(cfg, True)
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(data_overrides)))
    except Exception as err:  # Hydra and OmegaConf raise many exception types for a bad override
        from archtrain.cli import one_line

        raise ArchtrainError(
            f"cannot apply {' '.join(filter(None, [data and f'data={data}', *data_overrides]))}: {one_line(str(err))}"
        ) from None
    return cfg


def load_parts(path: str, checkpoint: str = "best", cfg: DictConfig | None = None):
    """The run's data, net and task with the weights of its best (or last) checkpoint, in eval mode."""
    from archtrain.assemble import load_run

    return load_run(path, checkpoint, cfg if cfg is not None else run_config(path))


def split_tensors(parts, split: str) -> tuple:
    """The tensors of one split of the run's data, refused in one line where the data has no such split."""
    parts.data.setup()
    splits = parts.data.splits
    if split not in splits:
        raise ArchtrainError(f"split={split}: data={parts.cfg.data.name} has only {', '.join(splits)}")
    return splits[split]


def net_inputs(parts, batch: tuple) -> tuple:
    """What the net's forward takes for a batch: (src, tgt) for pairs, noise for a generator (as many
    examples, drawn with the run's seed), the first tensor otherwise."""
    import torch

    from archtrain.models.gan import Adversarial

    if isinstance(parts.net, Adversarial):
        noise = torch.Generator().manual_seed(parts.cfg.seed)
        return (torch.randn(len(batch[0]), parts.net.latent_size, generator=noise),)
    return tuple(batch[:2]) if parts.cfg.data.modality == "pairs" else tuple(batch[:1])
