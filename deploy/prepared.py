"""A model made ready to be timed: on an inference backend after a parity check, or as training steps."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from cvnets.misc.fuse import fuse_for_inference
from deploy.backends import require_backend
from deploy.backends.base import Run
from deploy.parity import as_outputs, check_parity


class PreparedModel:
    """``model`` made ready to run ``x`` on the backend registered as ``backend``: what it deploys
    (``model.deployable``), folded for inference when ``fuse`` (and the backend takes folded
    modules), prepared by the backend.
    :attr:`run` runs it once; :attr:`error` is its max relative error against the eager, unfolded
    model (checked by :func:`deploy.parity.check_parity` within the backend's tolerance)."""

    def __init__(self, model: nn.Module, backend: str, x: Tensor, fuse: bool = True,
                 channels_last: bool = False) -> None:
        self.backend = require_backend(backend)
        size = tuple(x.shape[-2:])
        with torch.no_grad():
            expected = [out.detach() for out in as_outputs(model.eval().deployable(size).eval()(x))]
        channels_last = channels_last and self.backend.channels_last
        with self.backend.implementation():
            folded = (fuse_for_inference(model, size, channels_last=channels_last) if fuse and self.backend.folds
                      else model.eval())
            inputs = x.contiguous(memory_format=torch.channels_last) if channels_last else x
            self.run: Run = self.backend.prepare(folded.deployable(size).eval(), inputs, model.output_names)
        self.error = check_parity(f"the {backend} backend", self.run(), expected, self.backend.tolerance)


def training_step(model: nn.Module, x: Tensor) -> Run:
    """One eager forward and backward pass of ``model`` (train mode) on ``x``, the loss being the
    sum of the outputs' means (the engine's training step, compiled or in other variants, is timed
    by :mod:`engine.step_benchmark`)."""
    model.train()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        outputs = as_outputs(model(x))
        sum(o.float().mean() for o in outputs).backward()

    return step
