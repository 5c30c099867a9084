"""INT8 static quantization of an ONNX export with onnxruntime: QDQ format, weights int8 per
channel (symmetric), activations uint8 calibrated by min-max on the calibration images; the layer
groups that hurt accuracy stay float32 (``nodes_to_exclude``, chosen by :mod:`deploy.quantize`).

The float32 source is exported for INT8 (:func:`deploy.export.exported_implementation`): its ParC
convolutions are depth-wise convolutions, quantized per channel like the others. Layer norms'
scales (MobileViT) are quantized per element."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import onnx
from torch import Tensor

from deploy.agreement import agreement, relative_errors, run_images
from deploy.layer_groups import GROUPS, group_of, onnx_stack
from deploy.quantize import choose_float_groups, settings_record
from utils.errors import ExportError

SCHEME = {"format": "QDQ", "weights": "int8, symmetric, per channel",
          "activations": "uint8, min-max calibration"}


def node_groups(path: Path) -> Dict[str, List[str]]:
    """The names of the nodes of each layer group in the ONNX file at ``path`` (from the dynamo
    exporter's ``namespace`` metadata)."""
    groups: Dict[str, List[str]] = {name: [] for name in GROUPS}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        group = group_of(onnx_stack(namespace))
        if group:
            groups[group].append(node.name)
    return {name: nodes for name, nodes in groups.items() if nodes}


class _Images:
    """onnxruntime's calibration data reader over a ``N x 3 x H x W`` tensor, ``batch`` at a time."""

    def __init__(self, input_name: str, images: Tensor, batch: int) -> None:
        self.input_name, self.images, self.batch, self.start = input_name, images, batch, 0

    def get_next(self) -> Any:
        if self.start >= len(self.images):
            return None
        chunk = self.images[self.start:self.start + self.batch].contiguous().numpy()
        self.start += self.batch
        return {self.input_name: chunk}


class OnnxQuantizer:
    """Quantizes the float32 ONNX file ``source`` on ``images`` (calibrated once, the ranges cached
    in a temporary folder) with some layer groups kept float32.

    Args:
        source: the float32 export (dynamo exporter, for the layer groups).
        images: the calibration images, ``N x 3 x H x W``.
        batch: the batch the file takes (1, or all images with a dynamic batch).
        input_name: the file's input.
    """

    def __init__(self, source: Path, images: Tensor, batch: int, input_name: str) -> None:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        self._folder = tempfile.TemporaryDirectory(prefix="parc_quantize_")
        self.folder = Path(self._folder.name)
        self.images, self.batch, self.input_name = images, batch, input_name
        self.groups = node_groups(source)
        self.prepared = self.folder / "prepared.onnx"
        quant_pre_process(str(source), str(self.prepared), skip_symbolic_shape=True)
        self.cache = self.folder / "calibration.json"

    def quantize(self, keep_float: Sequence[str], output: Path) -> Path:
        """Write the INT8 model with the nodes of ``keep_float`` groups left float32 to ``output``."""
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

        excluded = [node for group in keep_float for node in self.groups.get(group, [])]
        quantize_static(str(self.prepared), str(output), _Images(self.input_name, self.images, self.batch),
                        quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8, nodes_to_exclude=excluded,
                        calibration_cache_path=str(self.cache),
                        extra_options={"QDQOpTypePerChannelSupportToAxis": {"LayerNormalization": 0}})
        return output

    def outputs(self, path: Path, run_file: Any) -> List[np.ndarray]:
        """The outputs of the file at ``path`` (opened by ``run_file(path)``) on the calibration images."""
        return run_images(run_file(path), self.images, self.batch)


def quantize_onnx(source: Path, output: Path, images: Tensor, task: str, batch: int, input_name: str,
                  run_file: Any) -> Tuple[Dict[str, Any], Dict[str, float]]:
    """Quantize the float32 export ``source`` to ``output``, keeping float32 the layer groups whose
    quantization measurably hurts (:func:`deploy.quantize.choose_float_groups`).

    Args:
        source: the float32 ONNX export (dynamo exporter).
        output: the INT8 file to write.
        images: the calibration images.
        task: the model's task (how agreement is measured).
        batch: the batch the file takes.
        input_name: its input.
        run_file: opens an ONNX file as a function of a float32 NCHW array (``load_runner``).

    Returns:
        The sidecar's ``quantization`` record and the final agreement.
    """
    quantizer = OnnxQuantizer(source, images, batch, input_name)
    references = quantizer.outputs(source, run_file)

    def measure(keep: Tuple[str, ...]) -> float:
        path = quantizer.quantize(keep, quantizer.folder / f"int8_{'_'.join(keep) or 'all'}.onnx")
        try:
            return float(relative_errors(quantizer.outputs(path, run_file), references).mean())
        except Exception:  # onnxruntime has no INT8 kernel for some quantized pattern: that choice cannot run
            return math.inf

    kept, errors = choose_float_groups(list(quantizer.groups), measure)
    quantizer.quantize(kept, output)
    try:
        measured = agreement(task, quantizer.outputs(output, run_file), references)
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot run the INT8 model {output}: {str(exc).splitlines()[0][:300]}") from None
    return settings_record("onnxruntime static quantization", SCHEME, len(images), kept, errors, measured), measured
