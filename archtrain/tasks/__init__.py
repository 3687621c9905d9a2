"""One LightningModule per objective. Tasks know objectives, not architectures."""

from archtrain.tasks.base import Task
from archtrain.tasks.classify import Classify
from archtrain.tasks.forecast import Forecast
from archtrain.tasks.language_model import LanguageModel
from archtrain.tasks.masked_lm import MaskedLM
from archtrain.tasks.regress import Regress
from archtrain.tasks.seq2seq import Seq2Seq
from archtrain.tasks.tagging import Tagging

TASKS: dict[str, type[Task]] = {
    "classify": Classify,
    "forecast": Forecast,
    "language_model": LanguageModel,
    "masked_lm": MaskedLM,
    "regress": Regress,
    "seq2seq": Seq2Seq,
    "tagging": Tagging,
}
