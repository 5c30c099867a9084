"""Process set-up: device, torchrun's distributed environment, seeds and mixed precision."""
from __future__ import annotations

import os
import random
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ContextManager, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from utils import logger
from utils.errors import ConfigError


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    amp_dtype: Optional[torch.dtype] = None
    distributed: bool = False  # in a process group (launched by torchrun), even of one process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> ContextManager:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def _select_device(opts: Any, local_rank: int) -> torch.device:
    wanted = getattr(opts, "common.device")
    if wanted is None:
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"common.device {wanted!r}: CUDA is not available on this machine")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    if wanted != "cpu":
        raise ConfigError(f"common.device must be cpu or cuda, got {wanted!r}")
    return torch.device("cpu")


def _amp_dtype(opts: Any, device: torch.device) -> Optional[torch.dtype]:
    if not getattr(opts, "common.mixed_precision"):
        return None
    explicit = getattr(opts, "common.mixed_precision_dtype")
    if device.type == "cuda":
        return torch.bfloat16 if explicit == "bfloat16" else torch.float16
    if explicit == "bfloat16":
        return torch.bfloat16
    logger.log("Mixed precision is off on the CPU (pass --common.mixed-precision-dtype bfloat16 to use "
               "bfloat16 autocast)")
    return None


def setup_runtime(opts: Any) -> Runtime:
    """Join torchrun's process group when launched by it (and ``ddp.enable``), pick the device,
    seed the random generators and choose the mixed-precision dtype."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ
    use_ddp = bool(getattr(opts, "ddp.enable")) and launched
    if not use_ddp:
        world_size, rank, local_rank = 1, 0, 0
    device = _select_device(opts, local_rank)
    if use_ddp and not dist.is_initialized():
        backend = getattr(opts, "ddp.backend") or ("nccl" if device.type == "cuda" else "gloo")
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
    logger.set_enabled(rank == 0)
    seed = int(getattr(opts, "common.seed")) + rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    runtime = Runtime(device=device, rank=rank, local_rank=local_rank, world_size=world_size,
                      amp_dtype=_amp_dtype(opts, device), distributed=use_ddp)
    if runtime.distributed:
        logger.log(f"Distributed run: {world_size} processes, backend {dist.get_backend()}, device {device.type}")
    return runtime


def cleanup(runtime: Runtime) -> None:
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(runtime: Runtime) -> None:
    if runtime.distributed:
        dist.barrier()


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
