"""Running means that a module keeps of what it does (spikes per example, the angle of a feedback
signal), one set while training and one while evaluating. A module that offers them has a
`statistics(training)` method; the task logs them at each epoch's end as `<stage>/<name>`."""

import torch


class Tally:
    """Weighted sums by name, kept apart for training and evaluation, read and cleared by `pop`."""

    def __init__(self):
        self.sums: dict[bool, dict[str, list]] = {True: {}, False: {}}

    def add(self, name: str, total: torch.Tensor, count: int, training: bool) -> None:
        """Add `total` (a sum over `count` items) to the mean called `name`."""
        entry = self.sums[training].setdefault(name, [0.0, 0])
        entry[0] = entry[0] + total.detach()
        entry[1] += count

    def pop(self, training: bool) -> dict[str, torch.Tensor]:
        """The means since the last pop, by name; then start again."""
        means = {name: total / count for name, (total, count) in self.sums[training].items() if count}
        self.sums[training] = {}
        return means
