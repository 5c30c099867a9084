"""What an inference backend is (``benchmark.backend``, ``inference.backend``): a registered class that
makes a model ready to run one input, or runs an exported file, and the registry that names them."""
from __future__ import annotations

import abc
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, List, Optional, Sequence, Tuple

import numpy as np

from torch import Tensor, nn

from deploy.parity import PARITY_TOLERANCE
from utils.errors import ConfigError
from utils.registry import Registry

BACKEND_REGISTRY = Registry("inference backend", option="benchmark.backend")

Run = Callable[[], Any]
FileRun = Callable[[np.ndarray], List[np.ndarray]]


class InferenceBackend(abc.ABC):
    """One way of running a model for timing. It is prepared once (compilation, export and
    conversion are not timed); what it gives is checked against eager PyTorch before it is timed
    (:func:`deploy.parity.check_parity`, within :attr:`tolerance`)."""

    tolerance: float = PARITY_TOLERANCE  # largest max relative error against eager PyTorch
    channels_last: bool = True  # runs the PyTorch module itself, so common.channels_last applies
    folds: bool = True  # takes the module folded for inference (unless inference.fuse is false)
    formats: Tuple[str, ...] = ()  # the export formats (main_export.py) of the files it runs (:meth:`load_file`)

    def missing(self) -> Optional[str]:
        """What must be installed before the backend can run (``None`` when nothing is missing)."""
        return None

    def implementation(self) -> ContextManager:
        """The context the model is folded and prepared in (e.g. the ParC implementation an
        exporter needs); none by default."""
        return nullcontext()

    @abc.abstractmethod
    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        """Make ``module`` ready to run ``x``.

        Args:
            module: what a deployment runs (``model.deployable(size)``, folded for inference unless
                ``inference.fuse`` is false), in eval mode.
            x: the input of every timed run.
            output_names: the names of the module's outputs (``model.output_names``).

        Returns:
            A function that runs the module on ``x`` once and returns its outputs (tensors or
            arrays, one per output name).
        """

    def load_file(self, path: Path, fmt: str, output_names: Sequence[str]) -> FileRun:
        """Run an exported file (``inference.model``) of one of :attr:`formats`.

        Args:
            path: the export written by ``main_export.py``.
            fmt: its format (``export.format``).
            output_names: the names of its outputs.

        Returns:
            A function running the file on a float32 NCHW array and returning its outputs as arrays.
        """
        raise ConfigError(f"the {type(self).__name__} backend runs no exported file")


def require_backend(name: str) -> InferenceBackend:
    """The backend registered as ``name``; a :class:`ConfigError` when none is, or when what it
    needs is not installed."""
    backend = BACKEND_REGISTRY.get(name)()
    missing = backend.missing()
    if missing:
        raise ConfigError(f"benchmark.backend {name} needs {missing}; it is not installed")
    return backend
