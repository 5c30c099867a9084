"""Optional packages of the deployment formats and runtimes (``requirements-deploy.txt``): asking
for one that is not installed is a one-line error naming the pip package."""
from __future__ import annotations

import importlib
from types import ModuleType

from utils.errors import ConfigError

# import name -> pip package
PACKAGES = {"executorch": "executorch", "coremltools": "coremltools", "MNN": "MNN"}


def is_installed(module: str) -> bool:
    """Whether the optional package ``module`` (an import name of :data:`PACKAGES`) can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(module: str, what: str) -> ModuleType:
    """The optional package ``module``, imported.

    Args:
        module: its import name (a key of :data:`PACKAGES`).
        what: what needs it, for the message (``export.format executorch``).

    Returns:
        The imported module; a :class:`ConfigError` naming the pip package when it is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = PACKAGES[module]
        raise ConfigError(f"{what} needs the optional {package} package (pip install {package}, or pip install "
                          f"-r requirements-deploy.txt); it is not installed") from None
