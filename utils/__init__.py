"""Shared helpers: options and registries, logging, checkpoints, distributed helpers."""
