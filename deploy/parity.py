"""The one parity routine: an export or an inference backend against the PyTorch model."""
from __future__ import annotations

from typing import Any, Callable, List, Sequence

import numpy as np
import torch
from torch import Tensor

from utils.errors import ExportError

PARITY_TOLERANCE = 1e-4


def as_outputs(value: Any) -> List[Any]:
    """A model's output as a list (one entry per named output)."""
    return list(value) if isinstance(value, (tuple, list)) else [value]


def max_relative_error(outputs: Sequence[Any], references: Sequence[Tensor]) -> float:
    """The largest ``max |a - b| / max |b|`` over pairs of outputs (tensors or arrays; shapes must match)."""
    if len(outputs) != len(references):
        raise ExportError(f"the exported model has {len(outputs)} outputs, the model {len(references)}")
    worst = 0.0
    for out, ref in zip(outputs, references):
        ref = ref.detach().float().cpu()
        out = out.detach().float().cpu() if isinstance(out, Tensor) else torch.as_tensor(np.asarray(out)).float()
        if out.shape != ref.shape:
            raise ExportError(f"the exported model's output has shape {tuple(out.shape)}, "
                              f"the model's {tuple(ref.shape)}")
        worst = max(worst, float((out - ref).abs().max() / ref.abs().max().clamp_min(1e-12)))
    return worst


def check_parity(what: str, outputs: Any, expected: Any, tolerance: float = PARITY_TOLERANCE) -> float:
    """Compare ``outputs`` (what ``what`` gave) with ``expected`` (the PyTorch model's, on the same input).

    Args:
        what: names the tested side in the error (``the exported model``, ``the onnxruntime backend``).
        outputs: its outputs (a tensor or array, or a sequence of them).
        expected: the PyTorch model's outputs, alike.
        tolerance: the largest max relative error allowed.

    Returns:
        The max relative error; an :class:`ExportError` when it exceeds ``tolerance``.
    """
    error = max_relative_error(as_outputs(outputs), as_outputs(expected))
    if not error <= tolerance:
        raise ExportError(f"parity check failed: {what} differs from the PyTorch model by {error:.3g} "
                          f"(max relative error), more than {tolerance:g}")
    return error


def check_export(runner: Callable[[np.ndarray], Any], reference: Callable[[Tensor], Any], example: Tensor) -> float:
    """:func:`check_parity` of an export, run by ``runner`` (a float32 NCHW array in, its outputs
    out), against ``reference`` (the PyTorch module it was exported from) on ``example``."""
    with torch.no_grad():
        expected = reference(example)
    return check_parity("the exported model", runner(example.cpu().numpy()), expected)
