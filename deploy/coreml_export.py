"""Export to a Core ML model package (``.mlpackage``, an ML program) with coremltools (optional).

Core ML models run only on Apple's systems: on other systems the export is checked by reading the
package's specification back (its input and outputs, names and shapes), not by running it.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Dict, Sequence

import torch
from torch import Tensor, nn

from deploy.optional import require
from utils.errors import ExportError

RUNS_HERE = sys.platform == "darwin"
NOT_RUN = "Core ML models run only on macOS and iOS: the package was checked by loading its specification, not run"


class _NamedInput(nn.Module):
    """``module`` with its input named ``image`` (the name the Core ML model's input takes)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: Tensor) -> Any:
        return self.module(image)


def export_coreml(module: nn.Module, example: Tensor, path: Path, output_names: Sequence[str]) -> Dict[str, Any]:
    """Write ``module`` (in eval mode) for inputs like ``example`` as a Core ML ML program.

    Args:
        module: what a deployment runs (``model.deployable(size)``).
        example: an input of the exported shape.
        path: the ``.mlpackage`` folder to write.
        output_names: the names of the module's outputs.

    Returns:
        The specification read back: ``{"inputs": {name: shape}, "outputs": [names]}``; an
        :class:`ExportError` when it does not name the expected input and outputs.
    """
    ct = require("coremltools", "export.format coreml")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(_NamedInput(module).eval(), (example,)).run_decompositions({})
        model = ct.convert(program, outputs=[ct.TensorType(name=name) for name in output_names],
                           convert_to="mlprogram")
        model.save(str(path))
    spec = ct.utils.load_spec(str(path))
    inputs = {i.name: list(i.type.multiArrayType.shape) for i in spec.description.input}
    outputs = [o.name for o in spec.description.output]
    if inputs != {"image": list(example.shape)} or outputs != list(output_names):
        raise ExportError(f"the Core ML package {path} takes {inputs} and gives {outputs}, not image "
                          f"{list(example.shape)} and {', '.join(output_names)}")
    return {"inputs": inputs, "outputs": outputs}
