"""Registries of the model families, one per task, and the import of the modules that fill them."""
import importlib
import pkgutil
from typing import Iterable

from utils.registry import Registry

CLS_MODEL_REGISTRY = Registry("classification model", option="model.classification.name")
DET_MODEL_REGISTRY = Registry("detection model", option="model.detection.name")
SEG_MODEL_REGISTRY = Registry("segmentation model", option="model.segmentation.name")
SEG_HEAD_REGISTRY = Registry("segmentation head", option="model.segmentation.seg_head")


def import_modules(package: str, path: Iterable[str]) -> None:
    """Import every module of the model package ``package`` (its ``__path__`` is ``path``), so the
    classes they define register themselves: a new model is one new file."""
    for name in sorted(module.name for module in pkgutil.iter_modules(path)):
        importlib.import_module(f"{package}.{name}")
