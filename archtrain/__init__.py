"""archtrain: config-driven training of the deep-learning canon."""

__version__ = "0.1.0"
