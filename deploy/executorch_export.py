"""Export to an ExecuTorch program (``.pte``) lowered to the XNNPACK delegate, in float32 or INT8,
and run a program (:func:`load_program`).

INT8 uses PT2E quantization with the XNNPACK quantizer (int8 symmetric weights per channel, int8
activations calibrated on the calibration images); the layer groups whose quantization measurably
hurts stay float32 (:mod:`deploy.quantize`), measured on the quantized PyTorch graph before it is
lowered.

The exported module is the folded model (``cvnets.misc.fuse``) with ParC convolutions as circulant
matrix products: the unfolded model would rebuild each ParC convolution's circulant index at every
run, outside the delegate.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from deploy.agreement import Run, agreement, relative_errors
from deploy.layer_groups import GROUPS, Stack, group_of
from deploy.optional import require
from deploy.quantize import choose_float_groups, settings_record
from utils.io import write_bytes

SCHEME = {"quantizer": "XNNPACKQuantizer (PT2E)", "weights": "int8, symmetric, per channel",
          "activations": "int8, per tensor, histogram calibration", "delegate": "XNNPACK"}


def _stack(node: torch.fx.Node) -> Stack:
    stack = node.meta.get("nn_module_stack") or {}
    return [(path, kind if isinstance(kind, str) else f"{kind.__module__}.{kind.__qualname__}")
            for path, kind in stack.values()]


def graph_groups(graph: torch.fx.GraphModule) -> List[str]:
    """The layer groups (:data:`GROUPS`) that have operations in ``graph``."""
    found = {group_of(_stack(node)) for node in graph.graph.nodes if node.op == "call_function"}
    return [group for group in GROUPS if group in found]


CALIBRATION_BATCH = 32  # images per calibration step: a histogram observer's cost is mostly per call


def _batches(images: Tensor) -> List[Tensor]:
    return list(torch.split(images, CALIBRATION_BATCH))


def _outputs(module: Any, images: Tensor) -> List[np.ndarray]:
    with torch.no_grad():
        parts = [module(batch) for batch in _batches(images)]
    parts = [list(p) if isinstance(p, (tuple, list)) else [p] for p in parts]
    return [torch.cat(outs).numpy() for outs in zip(*parts)]


def quantized_graph(graph: torch.fx.GraphModule, images: Tensor, keep_float: Sequence[str]) -> torch.fx.GraphModule:
    """``graph`` (from ``torch.export(...).module()`` with a dynamic batch, :func:`_calibration_graph`)
    quantized by PT2E with the XNNPACK quantizer, calibrated on ``images`` in batches, the operations
    of the ``keep_float`` groups left float32."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    quantizer.set_filter_function(lambda node: group_of(_stack(node)) not in keep_float)
    prepared = prepare_pt2e(copy.deepcopy(graph), quantizer)
    with torch.no_grad():
        for batch in _batches(images):
            prepared(batch)
    return convert_pt2e(prepared)


def _calibration_graph(module: nn.Module, example: Tensor) -> torch.fx.GraphModule:
    """``module`` exported with a dynamic batch (calibrated and measured in batches; the program is
    exported again at the example's batch when lowered)."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    pair = example[:1].expand(2, *example.shape[1:]).contiguous()  # batch 1 would be taken as a constant
    return torch.export.export(module, (pair,), dynamic_shapes=({0: batch},)).module()


def lower(module: nn.Module, example: Tensor, path: Path) -> None:
    """Export ``module`` on ``example``, lower it to XNNPACK and write the program to ``path``."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(module, (example,))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    write_bytes(lowered.buffer, path)


def export_executorch(module: nn.Module, example: Tensor, path: Path, task: Optional[str] = None,
                      images: Optional[Tensor] = None) -> Optional[Tuple[Dict[str, Any], Dict[str, float]]]:
    """Write ``module`` (in eval mode) as an ExecuTorch program for inputs like ``example``.

    Args:
        module: what a deployment runs (``model.deployable(size)``).
        example: an input of the exported shape (batch 1).
        path: the ``.pte`` file to write.
        task: the model's task (how INT8 agreement is measured; needed with ``images``).
        images: calibration images for INT8 (``None``: float32).

    Returns:
        ``None`` for float32; for INT8 the sidecar's ``quantization`` record and the agreement of
        the written program with the float32 module on the calibration images.
    """
    require("executorch", "export.format executorch")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if images is None:
            lower(module, example, path)
            return None
        graph = _calibration_graph(module, example)
        references = _outputs(module, images)

        def measure(keep: Tuple[str, ...]) -> float:
            return float(relative_errors(_outputs(quantized_graph(graph, images, keep), images), references).mean())

        kept, errors = choose_float_groups(graph_groups(graph), measure)
        lower(quantized_graph(graph, images, kept), example, path)
    run = load_program(path)
    measured = agreement(task, [np.concatenate(o) for o in zip(*[run(images[i:i + 1].numpy())
                                                                  for i in range(len(images))])], references)
    return settings_record("PT2E static quantization", SCHEME, len(images), kept, errors, measured), measured


def load_program(path: Path) -> Run:
    """A function running the ``forward`` method of the ExecuTorch program at ``path`` on a float32
    NCHW array (the batch the program was exported for) and returning its outputs as arrays."""
    require("executorch", "running an ExecuTorch program")
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(x: np.ndarray) -> List[np.ndarray]:
        return [out.numpy() for out in method.execute([torch.from_numpy(np.ascontiguousarray(x))])]

    return run
