"""The set-up of a training or evaluation process: its place in a distributed run (started by
torchrun or by ``main_train.py`` itself), its device, seeds, determinism, mixed precision and
compilation (:mod:`utils.compile_settings`)."""
from __future__ import annotations

import os
import random
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ContextManager, Optional

import numpy as np
import torch
import torch.distributed as dist

from utils import logger
from utils.compile_settings import CompileSettings
from utils.device_defaults import amp_dtype_name, default_backend
from utils.errors import ConfigError


@dataclass
class Runtime:
    """What a process needs to know about itself: its device, its rank among ``world_size``
    processes, the autocast dtype of mixed precision (``None``: off) and how to compile the model
    (``None``: not at all)."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    amp_dtype: Optional[torch.dtype] = None
    distributed: bool = False  # in a process group (launched by torchrun), even of one process
    compile: Optional[CompileSettings] = None

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
    enabled = bool(getattr(opts, "common.mixed_precision"))
    name = amp_dtype_name(device.type, enabled, getattr(opts, "common.mixed_precision_dtype"))
    if enabled and name is None:
        logger.log("Mixed precision is off on the CPU (pass --common.mixed-precision-dtype bfloat16 to use "
                   "bfloat16 autocast)")
    return getattr(torch, name) if name else None


def launched_by_torch() -> bool:
    """Whether this process is a worker that torchrun (or the elastic launcher) started."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "LOCAL_RANK"))


def _set_deterministic(opts: Any, autotune: bool) -> None:
    if not getattr(opts, "common.deterministic"):
        torch.backends.cudnn.benchmark = autotune
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS reductions
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def setup_runtime(opts: Any, autotune: bool = False) -> Runtime:
    """Join the process group when launched by torchrun or the elastic launcher (and
    ``ddp.enable``), pick the device, seed the random generators, set determinism and choose the
    mixed-precision dtype and the compile settings.

    Args:
        opts: the run's options (``common.*``, ``ddp.*``).
        autotune: let cuDNN pick its algorithms per input shape (training, whose shapes repeat; not
            evaluation of images at their own sizes), unless ``common.deterministic``.

    Returns:
        The process's :class:`Runtime`.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_ddp = bool(getattr(opts, "ddp.enable")) and launched_by_torch()
    if not use_ddp:
        world_size, rank, local_rank = 1, 0, 0
    device = _select_device(opts, local_rank)
    _set_deterministic(opts, autotune)
    if use_ddp and not dist.is_initialized():
        backend = getattr(opts, "ddp.backend") or default_backend(device.type)
        timeout = timedelta(seconds=float(getattr(opts, "ddp.timeout")))
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size,
                                timeout=timeout, device_id=device if device.type == "cuda" else None)
    logger.set_enabled(rank == 0)
    seed = int(getattr(opts, "common.seed")) + rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    runtime = Runtime(device=device, rank=rank, local_rank=local_rank, world_size=world_size,
                      amp_dtype=_amp_dtype(opts, device), distributed=use_ddp, compile=CompileSettings.from_opts(opts))
    if runtime.distributed:
        logger.log(f"Distributed run: {world_size} processes, backend {dist.get_backend()}, device {device.type}")
    return runtime


def busy_machine() -> Optional[str]:
    """A warning when the machine's load average (over the last minute) exceeds its CPU count:
    other processes then compete with this one, and its times are longer than on an idle machine
    (the times the README quotes); ``None`` otherwise."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return None
    if load <= cores:
        return None
    return (f"the load average of this machine ({load:.1f}) exceeds its {cores} CPU cores: other processes compete "
            f"with this run, which will be slower than on an idle machine (the times the README quotes)")
