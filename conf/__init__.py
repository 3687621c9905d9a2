"""Hydra configuration groups shipped with archtrain."""
