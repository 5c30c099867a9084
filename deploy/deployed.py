"""An exported file run by an inference backend in place of the PyTorch model, so that the
evaluation scripts compute their metrics with the same code whatever runs the network
(``--inference.model FILE --inference.backend NAME``).

The file's sidecar (``FILE.json``, written by ``main_export.py``) gives its task, format, input
size and outputs. Inputs of another size are resized (bilinear) to the export's input size first;
a classifier gives its logits, a segmentation model its logits at the export's input size (the
evaluation resizes them to each image), a detector its detections after the project's own NMS
(:func:`cvnets.models.detection.ssd.select_detections`) on the exported decoder's class
probabilities and boxes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.models.base import Detections
from cvnets.models.detection.ssd import select_detections
from deploy.backends import BACKEND_REGISTRY, require_backend
from deploy.backends.base import FileRun as Run
from deploy.export import sidecar_path
from utils.errors import ConfigError

PYTORCH = "pytorch"  # inference.backend's default: the config's model, or a TorchScript / torch.export file


def read_sidecar(path: Path) -> Dict[str, Any]:
    """The metadata ``main_export.py`` wrote beside the export at ``path`` (``<path>.json``)."""
    sidecar = sidecar_path(path)
    if not path.is_file():
        raise ConfigError(f"inference.model: no such file: {path}")
    if not sidecar.is_file():
        raise ConfigError(f"inference.model {path}: its metadata {sidecar.name} is missing (main_export.py writes "
                          f"it beside the export)")
    try:
        metadata = json.loads(sidecar.read_text())
        metadata["task"], metadata["format"], metadata["input_size"]  # noqa: B018 (the keys the evaluation needs)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"inference.model {path}: {sidecar.name} is not the metadata of an export ({exc})") from None
    return metadata


class DeployedModel(nn.Module):
    """The export at ``path``, run by ``run`` (one float32 NCHW array in, the outputs out).

    Args:
        run: runs the file on an array of the export's input size.
        metadata: its sidecar (:func:`read_sidecar`).
    """

    takes_targets = False
    resizes_inputs = False

    def __init__(self, run: Run, metadata: Dict[str, Any]) -> None:
        super().__init__()
        self._run, self.metadata = run, metadata
        self.task = metadata["task"]
        self.input_size = tuple(int(v) for v in metadata["input_size"])
        shape = (metadata.get("input") or {}).get("shape") or [1]
        self.batch = None if shape[0] == "batch" else int(shape[0])  # None: any batch size
        self.output_names = tuple(metadata.get("outputs") or ())

    def run(self, x: Tensor) -> List[Tensor]:
        """The file's outputs for ``x`` (``N x 3 x H x W``), resized to its input size first."""
        device = x.device
        x = x.detach().float().cpu()
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        step = self.batch or len(x)
        parts = [self._run(x[i:i + step].contiguous().numpy()) for i in range(0, len(x), step)]
        return [torch.from_numpy(np.concatenate([np.asarray(p[k]) for p in parts])).to(device)
                for k in range(len(parts[0]))]

    def forward(self, x: Tensor) -> Union[Tensor, tuple]:
        outputs = self.run(x)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


class DeployedDetector(DeployedModel):
    """An exported SSD detector (class probabilities and boxes per anchor) whose :meth:`predict`
    selects the detections as the PyTorch detector does, with the ``model.detection.ssd.*``
    thresholds of ``opts``."""

    def __init__(self, run: Run, metadata: Dict[str, Any], opts: Any) -> None:
        super().__init__(run, metadata)
        if list(self.output_names) != ["scores", "boxes"]:
            raise ConfigError(f"inference.model: a detection export must give scores and boxes (an SSD detector), "
                              f"this one gives {', '.join(self.output_names) or 'nothing named'}")
        key = "model.detection.ssd"
        self.conf_threshold = float(getattr(opts, f"{key}.conf_threshold"))
        self.nms_threshold = float(getattr(opts, f"{key}.nms_iou_threshold"))
        self.top_k = int(getattr(opts, f"{key}.num_objects_per_class"))
        scores, _ = self.run(torch.zeros(1, 3, *self.input_size))
        self.n_classes = int(scores.shape[-1])

    @torch.no_grad()
    def predict(self, images: Tensor) -> List[Detections]:
        scores, boxes = self.run(images)
        return [select_detections(boxes[i].float(), scores[i].float(), self.conf_threshold, self.nms_threshold,
                                  self.top_k) for i in range(len(images))]


def file_backends() -> Tuple[str, ...]:
    """The values of ``inference.backend``: ``pytorch`` and the registered backends that run files."""
    return (PYTORCH,) + tuple(name for name in BACKEND_REGISTRY.names()
                              if name != "eager" and BACKEND_REGISTRY.get(name).formats)


def open_file(path: Path, fmt: str, backend: str, output_names: List[str]) -> Run:
    """A function running the export at ``path`` (format ``fmt``, outputs ``output_names``) on the
    inference backend registered as ``backend`` (``pytorch``: ``eager``)."""
    runner = require_backend("eager" if backend == PYTORCH else backend)
    if fmt not in runner.formats:
        raise ConfigError(f"inference.backend {backend} runs {' or '.join(runner.formats)} exports; {path} is {fmt}")
    return runner.load_file(path, fmt, output_names)


def load_deployed(opts: Any, task: str) -> Optional[DeployedModel]:
    """The export of ``inference.model`` run on ``inference.backend``, for an evaluation of ``task``
    (``None`` without ``inference.model``: the config's PyTorch model is evaluated).

    Args:
        opts: the evaluation options.
        task: the evaluated task; the export's must be the same.

    Returns:
        A :class:`DeployedModel` (a :class:`DeployedDetector` for detection), or ``None``.
    """
    backend, model_file = getattr(opts, "inference.backend"), getattr(opts, "inference.model")
    if backend not in file_backends():
        raise ConfigError(f"inference.backend {backend!r}: choose one of {', '.join(file_backends())}")
    if not model_file:
        if backend != PYTORCH:
            raise ConfigError(f"inference.backend {backend} runs an exported file: give it with --inference.model "
                              f"FILE (main_export.py writes one)")
        return None
    path = Path(model_file).expanduser()
    metadata = read_sidecar(path)
    if metadata["task"] != task:
        raise ConfigError(f"inference.model {path} is a {metadata['task']} model, not a {task} model")
    run = open_file(path, metadata["format"], backend, list(metadata.get("outputs") or ()))
    model = DeployedDetector(run, metadata, opts) if task == "detection" else DeployedModel(run, metadata)
    print(f"evaluating {path} ({metadata['format']}"
          f"{', ' + metadata['quantization']['dtype'] if metadata.get('quantization') else ''}) on {backend}, "
          f"input {'x'.join(map(str, model.input_size))}")
    return model
