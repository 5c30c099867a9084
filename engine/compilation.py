"""``torch.compile`` of the model for training and evaluation (``common.compile``).

The model is compiled in place (``nn.Module.compile``): its ``state_dict`` keeps its names (no
``_orig_mod.`` prefix), so compiled and eager runs resume each other's checkpoints, and DDP, the
EMA, mixed precision, channels_last and gradient clipping wrap it as they wrap an eager model.

Shapes are static: each input shape (and mode: training, evaluation) is compiled once into a graph
of its own. The variable batch sampler gives one batch size per crop size, so a run has as many
training graphs as the sampler has sizes, plus those of evaluation (a full and a short last batch
per evaluated model); dynamo's recompile limit is raised to that bound, so it is never reached
within it. :data:`GRAPHS` counts the input shapes each compiled model has met, beside dynamo's
count of graphs, for the log.
"""
from __future__ import annotations

from typing import Any, Dict, Set, Tuple

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


def compile_model(model: nn.Module, settings: CompileSettings) -> nn.Module:
    """Compile ``model`` (the module inside a DDP wrapper) in place, once; returns ``model``."""
    module = unwrap(model)
    if not is_compiled(module):
        module.compile(**settings.compile_kwargs())
    return model


class GraphCount:
    """The input shapes each compiled model of this process has met (one graph each), by mode."""

    def __init__(self) -> None:
        self.shapes: Dict[str, Set[Tuple[int, Tuple[int, ...]]]] = {}

    def sees(self, model: nn.Module, images: Any, mode: str) -> None:
        """Note the shape of ``images`` given to ``model`` in ``mode`` ("training", "evaluation"),
        logging a new one: its first step compiles a graph and takes longer."""
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else ("list", len(images))
        seen = self.shapes.setdefault(mode, set())
        key = (id(unwrap(model)), shape)
        if key not in seen:
            seen.add(key)
            logger.log(f"torch.compile: compiling a graph for {mode} inputs of shape {list(shape)} "
                       f"({self.total()} graphs so far)")

    def total(self) -> int:
        """The (model, mode, input shape) triples met so far."""
        return sum(len(shapes) for shapes in self.shapes.values())

    def summary(self) -> str:
        by_mode = ", ".join(f"{len(shapes)} for {mode}" for mode, shapes in self.shapes.items())
        return (f"torch.compile: {compiled_graphs()} graphs compiled by dynamo, for {self.total()} input shapes "
                f"of the compiled models ({by_mode})")


GRAPHS = GraphCount()  # the process's count (as dynamo's own counters are the process's)
