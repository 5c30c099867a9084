"""What the processes of a distributed run do together: collectives that every rank calls at the
same point, leaving the process group, and the model helpers of DistributedDataParallel."""
from __future__ import annotations

from typing import Any, Callable, List, Optional, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from utils.errors import ParcError
from utils.runtime import Runtime

T = TypeVar("T")


def cleanup(runtime: Runtime) -> None:
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(runtime: Runtime) -> None:
    if runtime.distributed:
        dist.barrier()


def all_gather(runtime: Runtime, value: Any) -> List[Any]:
    """Every rank's ``value`` (picklable), in rank order, on every rank."""
    if not runtime.distributed or runtime.world_size == 1:
        return [value]
    gathered: List[Any] = [None] * runtime.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def on_main(runtime: Runtime, step: Callable[[], T]) -> Optional[T]:
    """Run ``step`` on rank 0 only and return its result on every rank; when it raises a
    :class:`ParcError`, every rank raises it (so no rank waits for a peer that stopped)."""
    result, failure = None, None
    if runtime.is_main:
        try:
            result = step()
        except ParcError as exc:
            failure = exc
    if runtime.distributed and runtime.world_size > 1:
        shared = [result, failure]
        dist.broadcast_object_list(shared, src=0)
        result, failure = shared
    if failure is not None:
        raise failure
    return result


def any_rank(runtime: Runtime, flag: int) -> int:
    """The largest ``flag`` over all ranks (every rank must call it at the same point)."""
    if not runtime.distributed or runtime.world_size == 1:
        return flag
    device = runtime.device if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([flag], dtype=torch.int64, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return int(value.item())


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` by an ``nn.BatchNorm2d`` holding the same tensors."""
    if isinstance(module, nn.SyncBatchNorm):
        plain = nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        plain.load_state_dict(module.state_dict())
        plain.train(module.training)
        return plain
    for name, child in module.named_children():
        setattr(module, name, revert_sync_batchnorm(child))
    return module


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model
