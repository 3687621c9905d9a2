"""One LightningModule per objective, chosen by the `task` config group (conf/task/<name>.yaml names
its class). Tasks know objectives, not architectures."""

from archtrain.tasks.base import Task

__all__ = ["Task"]
