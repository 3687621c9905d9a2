"""Optimizers, schedulers, regularizers and callbacks."""
