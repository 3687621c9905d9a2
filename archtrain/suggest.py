""" "Did you mean ...?" for a mistyped config key or option, from what the shipped configs offer."""

import difflib
import re
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from archtrain.catalog import flatten, options

UNKNOWN_KEY = re.compile(r"Could not (?:override|append to|delete from) '([^']+)'")
# Hydra plugins that add options to Hydra's own groups, and how to install each.
PLUGINS = {
    "hydra/sweeper": {"optuna": "archtrain[optuna]"},
    "hydra/launcher": {"submitit_slurm": "archtrain[slurm]", "submitit_local": "archtrain[slurm]"},
}
UNKNOWN_OPTION = re.compile(r"Could not (?:find|load) '([\w/]+)/([^'/]+)'")


def closest(word: str, candidates: list[str]) -> str | None:
    """The candidate most like `word`, if one is alike enough; a dotted word also matches a
    candidate by its last part (max_epochs -> trainer.max_epochs)."""
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    if found:
        return found[0]
    last = word.rsplit(".", 1)[-1]
    by_last = {key.rsplit(".", 1)[-1]: key for key in candidates}
    found = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.8)
    return by_last[found[0]] if found else None


def did_you_mean(message: str, compose_plain: Callable[[], DictConfig]) -> str:
    """' (did you mean X?)' for Hydra's message about an unknown key or option, else ''.
    `compose_plain` composes the job's config without its value overrides (only needed for keys)."""
    if option := UNKNOWN_OPTION.search(message):
        group, name = option.groups()
        if group in PLUGINS and name in PLUGINS[group]:
            return f" (the {name} plugin is not installed: pip install '{PLUGINS[group][name]}')"
        match = closest(name, options(group))
        return f" (did you mean {group}={match}?)" if match else ""
    if key := UNKNOWN_KEY.search(message):
        try:
            keys = list(flatten(OmegaConf.to_container(compose_plain(), resolve=False)))
        except Exception:  # the job's group choices themselves do not compose: no key to offer
            return ""
        match = closest(key.group(1), keys)
        return f" (did you mean {match}?)" if match else ""
    return ""
