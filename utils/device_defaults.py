"""What a process uses on each device when the options leave it open: the autocast dtype of mixed
precision and the process-group backend.

The runtime applies these rules and the options' help states them, both from this module, so the
help cannot say other than what a run does. Nothing here imports torch: the help is printed
before torch is loaded.
"""
from __future__ import annotations

from typing import Optional

MIXED_PRECISION_DTYPES = ("float16", "bfloat16")
_AMP_DEFAULT = {"cuda": "float16", "cpu": None}  # cpu: off unless bfloat16 is asked for
_BACKENDS = {"cuda": "nccl", "cpu": "gloo"}


def amp_dtype_name(device_type: str, enabled: bool, requested: Optional[str]) -> Optional[str]:
    """The autocast dtype (``"float16"``, ``"bfloat16"``) of mixed precision, ``None`` for off.

    Args:
        device_type: ``"cuda"`` or ``"cpu"``.
        enabled: ``common.mixed_precision``.
        requested: ``common.mixed_precision_dtype`` (``None``: the device's default).

    Returns:
        On CUDA the requested dtype, else float16; on the CPU bfloat16 when it is requested, else off.
    """
    if not enabled:
        return None
    if device_type == "cuda":
        return requested or _AMP_DEFAULT["cuda"]
    return "bfloat16" if requested == "bfloat16" else _AMP_DEFAULT["cpu"]


def default_backend(device_type: str) -> str:
    """The process-group backend of a device type when ``ddp.backend`` is not set."""
    return _BACKENDS["cuda" if device_type == "cuda" else "cpu"]


def _on(device_type: str, requested: Optional[str] = None) -> str:
    name = amp_dtype_name(device_type, True, requested)
    if name is None:
        return "off"
    return f"{name} with gradient scaling" if name == "float16" else name


def mixed_precision_help() -> str:
    """The help of ``common.mixed_precision``, from :func:`amp_dtype_name`."""
    return (f"mixed precision: {_on('cuda')} on CUDA; on the CPU {_on('cpu')} unless "
            f"--common.mixed-precision-dtype bfloat16 is given ({_on('cpu', 'bfloat16')} autocast)")


def mixed_precision_dtype_help() -> str:
    """The help of ``common.mixed_precision_dtype``, from :func:`amp_dtype_name`."""
    cpu = [d for d in MIXED_PRECISION_DTYPES if amp_dtype_name("cpu", True, d)]
    return (f"the autocast dtype of common.mixed_precision (default: {amp_dtype_name('cuda', True, None)} on CUDA, "
            f"off on the CPU, where only {' or '.join(cpu)} is used)")


def backend_help() -> str:
    """The help of ``ddp.backend``, from :func:`default_backend`."""
    return f"process-group backend (default: {default_backend('cuda')} on CUDA, {default_backend('cpu')} on CPU)"
