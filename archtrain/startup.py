"""Start-up: keep out of a run the imports it does not use.

`import pytorch_lightning` imports torchmetrics, which imports transformers (about 1.5 s and 150 MB
where peft brings it) for its BERTScore, InfoLM and CLIPScore metrics alone; no archtrain task uses
them. `skip_unused_imports()` tells torchmetrics, as it loads, that transformers is not there; the
runs that do need transformers (peft's LoRA) import it themselves, unaffected.
"""

import importlib.abc
import importlib.util
import sys

# torchmetrics' flags that decide whether it imports transformers at start.
TORCHMETRICS_IMPORTS = "torchmetrics.utilities.imports"
TRANSFORMERS_FLAGS = ("_TRANSFORMERS_GREATER_EQUAL_4_4", "_TRANSFORMERS_GREATER_EQUAL_4_10")


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then(module)` once, right after the module `name` executes, before anyone imports from it."""

    def __init__(self, name: str, then):
        self.name, self.then = name, then

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            self.then(module)

        spec.loader.exec_module = exec_module
        return spec


def _without_transformers(module) -> None:
    for flag in TRANSFORMERS_FLAGS:
        setattr(module, flag, False)


def skip_unused_imports() -> None:
    """Before Lightning loads: torchmetrics will not import transformers. No-op once torchmetrics is loaded."""
    if TORCHMETRICS_IMPORTS not in sys.modules and not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(TORCHMETRICS_IMPORTS, _without_transformers))
