"""Inference backends, selected by ``benchmark.backend``: every module of this package is imported
with it, so the backends it defines register themselves (a new backend is one new file)."""
from __future__ import annotations

import importlib
import pkgutil

from deploy.backends.base import BACKEND_REGISTRY, InferenceBackend, require_backend

for _module in sorted(module.name for module in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["BACKEND_REGISTRY", "InferenceBackend", "require_backend"]
