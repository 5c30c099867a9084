"""``torch.compile`` of the model for training and evaluation (``common.compile``).

The model is compiled in place (``nn.Module.compile``): its ``state_dict`` keeps its names (no
``_orig_mod.`` prefix), so compiled and eager runs resume each other's checkpoints, and DDP, the
EMA, mixed precision, channels_last and gradient clipping wrap it as they wrap an eager model.

Training compiles with static shapes: each input shape is compiled once into a graph of its own.
The variable batch sampler gives one batch size per crop size, so training has as many graphs as
the sampler has sizes; before each epoch dynamo's recompile limit is raised to the graphs so far
plus those the epoch can add (its sizes, and a full and a short last validation batch per evaluated
model), so it is never reached. A model that :func:`~engine.evaluation.evaluate` compiles (an
evaluation script's, the EMA) takes torch's automatic dynamic shapes instead: evaluation images of
their own sizes (detection, segmentation) then share one graph with dynamic sizes from the second
size on. :data:`GRAPHS` logs each step that compiled, and counts the input shapes met.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Set, Tuple

import torch
from torch import nn

from utils import logger
from utils.distributed import unwrap
from utils.compile_settings import CompileSettings

EVALUATION_SHAPES = 2  # a full batch and a short last one, per evaluated model


def compiled_graphs() -> int:
    """The graphs dynamo has compiled in this process."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def allow_graphs(count: int) -> None:
    """Let dynamo keep ``count`` graphs of one function (its recompile limit, raised, never lowered)."""
    import torch._dynamo.config as config

    config.recompile_limit = max(int(config.recompile_limit), count)
    config.accumulated_recompile_limit = max(int(config.accumulated_recompile_limit), 2 * count)


def is_compiled(model: nn.Module) -> bool:
    return getattr(unwrap(model), "_compiled_call_impl", None) is not None


def compile_model(model: nn.Module, settings: CompileSettings, dynamic: Optional[bool] = False) -> nn.Module:
    """Compile ``model`` (the module inside a DDP wrapper) in place, once; returns ``model``.

    Args:
        model: the model.
        settings: mode and backend.
        dynamic: ``torch.compile``'s: ``False`` static shapes, ``None`` automatic dynamic shapes.
    """
    module = unwrap(model)
    if not is_compiled(module):
        module.compile(**settings.compile_kwargs(), dynamic=dynamic)
    return model


class GraphCount:
    """The input shapes each compiled model of this process has met, by mode, beside the graphs
    dynamo compiled for them."""

    def __init__(self) -> None:
        self.shapes: Dict[str, Set[Tuple[int, Tuple[Any, ...]]]] = {}

    @contextmanager
    def watch(self, model: nn.Module, images: Any, mode: str) -> Iterator[None]:
        """Run the block (a forward pass of ``model`` on ``images`` in ``mode``: "training",
        "evaluation"), noting the input shape and logging when it compiled a graph (the block then
        took longer)."""
        before = compiled_graphs()
        yield
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else ("list", len(images))
        self.shapes.setdefault(mode, set()).add((id(unwrap(model)), shape))
        new = compiled_graphs() - before
        if new:
            logger.log(f"torch.compile: {new} new graph{'s' if new > 1 else ''} for {mode} inputs of shape "
                       f"{list(shape)} ({compiled_graphs()} graphs so far)")

    def total(self) -> int:
        """The (model, input shape) pairs met so far, over the modes."""
        return sum(len(shapes) for shapes in self.shapes.values())

    def summary(self) -> str:
        by_mode = ", ".join(f"{len(shapes)} for {mode}" for mode, shapes in self.shapes.items())
        return (f"torch.compile: {compiled_graphs()} graphs compiled by dynamo, for {self.total()} input shapes "
                f"of the compiled models ({by_mode})")


GRAPHS = GraphCount()  # the process's count (as dynamo's own counters are the process's)
