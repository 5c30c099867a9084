"""Starting the training processes: ``python main_train.py`` uses every device it is given.

With more than one visible GPU (or ``--ddp.world-size N`` on the CPU) and ``ddp.enable``, one
worker per device is started through PyTorch's elastic launcher, the machinery behind torchrun:
the same environment, rendezvous and process group as ``torchrun --nproc_per_node N``, so both
launches run the same code. Several nodes follow the reference's keys: ``ddp.world_size`` (all
processes), ``ddp.rank`` (this node's rank) and ``ddp.dist_url`` (``tcp://host:port`` of node 0).
Under torchrun, this module does nothing but train.

The launcher decides how the run begins in its folder and holds the folder's lock for the whole run
(see :mod:`engine.run_start`) before any worker starts; the workers take that decision as it was
made, and end with the launcher.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence
from urllib.parse import urlparse

import torch

from engine.preemption import signal_name
from utils import logger
from utils.entry import run_entry
from utils.errors import ConfigError, TrainingError
from utils.runtime import launched_by_torch

# the agent forwards these to the workers, which save a resumable checkpoint on SIGTERM / SIGUSR1
FORWARDED_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"
SHUTDOWN_GRACE_S = 120  # how long the workers get to save after a signal before they are killed
LAUNCHER_ENV = "PARCNET_LAUNCHER_PID"  # the launcher's pid, for its workers


@dataclass(frozen=True)
class LaunchPlan:
    """How many processes run where: ``nproc_per_node`` on each of ``nnodes`` nodes; this is node
    ``node_rank``; ``endpoint`` is node 0's ``host:port`` (``None``: a free local port)."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    endpoint: Optional[str] = None

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    def torchrun_command(self, argv: Sequence[str]) -> str:
        """The torchrun command line that starts the same run on this node."""
        if self.nnodes == 1:
            head = f"torchrun --standalone --nproc-per-node {self.nproc_per_node}"
        else:
            head = (f"torchrun --nnodes {self.nnodes} --nproc-per-node {self.nproc_per_node} --node-rank "
                    f"{self.node_rank} --rdzv-backend static --master-addr {self.endpoint.rsplit(':', 1)[0]} "
                    f"--master-port {self.endpoint.rsplit(':', 1)[1]}")
        return f"{head} main_train.py {' '.join(argv)}"


def _wants_cuda(opts: Any) -> bool:
    device = getattr(opts, "common.device")
    return (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")


def _endpoint(opts: Any) -> str:
    url = getattr(opts, "ddp.dist_url")
    parsed = urlparse(url if "://" in url else f"tcp://{url}")
    try:
        port = parsed.port  # a ValueError for a port that is not a number in 0..65535
    except ValueError:
        port = None
        parsed = parsed._replace(scheme="")
    if parsed.scheme != "tcp" or not parsed.hostname:
        raise ConfigError(f"ddp.dist_url must look like tcp://HOST:PORT, got {url!r}")
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return f"{host}:{port or int(getattr(opts, 'ddp.dist_port'))}"


def launch_plan(opts: Any, argv: Sequence[str]) -> LaunchPlan:
    """The processes ``opts`` ask for. On a node: one per visible GPU, or on the CPU
    ``ddp.world_size`` processes (one per node when ``ddp.dist_url`` names a multi-node run)."""
    world_size = int(getattr(opts, "ddp.world_size"))
    if not getattr(opts, "ddp.enable"):
        return LaunchPlan(1)
    multi_node = bool(getattr(opts, "ddp.dist_url"))
    if _wants_cuda(opts):
        local = max(torch.cuda.device_count(), 1)
    else:
        local = 1 if multi_node else max(world_size, 1)
    if world_size <= 0 or (world_size == local and not multi_node):
        return LaunchPlan(local)
    single = LaunchPlan(local)
    if world_size % local:
        raise ConfigError(f"ddp.world_size {world_size} is not a multiple of the {local} processes of this node; "
                          f"set it to nodes x processes per node, or launch with: {single.torchrun_command(argv)}")
    if not multi_node:
        raise ConfigError(f"ddp.world_size {world_size} spans several nodes ({local} processes here): give "
                          f"node 0's address with --ddp.dist-url tcp://HOST:PORT and this node's rank with "
                          f"--ddp.rank, or launch with torchrun --nnodes {world_size // local} --nproc-per-node "
                          f"{local} --node-rank RANK --rdzv-endpoint HOST:PORT main_train.py {' '.join(argv)}")
    nnodes, node_rank = world_size // local, int(getattr(opts, "ddp.rank"))
    if not 0 <= node_rank < nnodes:
        raise ConfigError(f"ddp.rank {node_rank} must name one of the {nnodes} nodes (0..{nnodes - 1})")
    return LaunchPlan(local, nnodes, node_rank, _endpoint(opts))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _end_with_launcher() -> None:
    """Have the kernel kill this worker when its launcher dies (Linux): the launcher holds the run
    folder's lock, so no worker may outlive it."""
    launcher = int(os.environ.get(LAUNCHER_ENV, "0"))
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform.startswith("linux") else None
    if not launcher or libc is None:
        return
    libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != launcher:  # it died before the request took effect
        os._exit(128 + int(signal.SIGKILL))


def worker(argv: List[str]) -> None:
    """One training process (the launcher's entry point)."""
    from engine.training import train
    from options import get_training_arguments

    _end_with_launcher()
    quiet = int(os.environ.get("RANK", "0")) != 0  # rank 0 speaks for the run
    sys.exit(run_entry(lambda: train(get_training_arguments(argv), handle_signals=True), quiet=quiet))


def _quiet_elastic_logs() -> None:
    """The launcher's own messages replace the elastic agent's (each of its loggers sets a level)."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("torch.distributed.elastic") or name.startswith("torch.distributed.launcher"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _spawn(plan: LaunchPlan, argv: List[str]) -> None:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if plan.nnodes == 1:  # torchrun --standalone
        backend, endpoint, configs, run_id = "c10d", f"127.0.0.1:{_free_port()}", {}, uuid.uuid4().hex
    else:  # torchrun --rdzv-backend static --node-rank R --master-addr HOST --master-port PORT
        backend, endpoint, configs, run_id = "static", plan.endpoint, {"rank": plan.node_rank}, "none"
    if "OMP_NUM_THREADS" not in os.environ and plan.nproc_per_node > 1:
        os.environ["OMP_NUM_THREADS"] = "1"  # as torchrun does: the processes share the cores
    os.environ[LAUNCHER_ENV] = str(os.getpid())
    config = LaunchConfig(min_nodes=plan.nnodes, max_nodes=plan.nnodes, nproc_per_node=plan.nproc_per_node,
                          run_id=run_id, rdzv_backend=backend,
                          rdzv_endpoint=endpoint, rdzv_configs=configs, max_restarts=0, monitor_interval=0.2,
                          start_method="spawn", signals_to_handle=FORWARDED_SIGNALS,
                          shutdown_timeout=SHUTDOWN_GRACE_S)
    _quiet_elastic_logs()
    logger.log(f"Starting {plan.nproc_per_node} training processes on this node (node {plan.node_rank} of "
               f"{plan.nnodes}, {plan.world_size} in all)")
    try:
        elastic_launch(config, worker)(argv)
    except SignalException as exc:  # forwarded to the workers, which saved and said how to resume
        logger.warning(f"the launcher received {signal_name(int(exc.sigval))} and stopped the workers")
        raise SystemExit(128 + int(exc.sigval)) from None
    except ChildFailedError as exc:
        failures = sorted(exc.failures.items())
        codes = {failure.exitcode for _, failure in failures}
        if len(codes) == 1 and (codes == {2} or min(codes) > 128):
            # every worker reported a user error, or stopped on a signal after saving: rank 0 said so
            raise SystemExit(failures[0][1].exitcode) from None
        rank, failure = failures[0]
        raise TrainingError(f"{len(failures)} of {plan.world_size} training processes failed; the first, rank "
                            f"{rank}, with exit code {failure.exitcode}; the others were stopped") from None


def _launch_workers(opts: Any, plan: LaunchPlan, argv: List[str]) -> None:
    """Start the workers of this node. On node 0, first decide how the run begins and hold its
    folder for the run (refusing, or with ``common.overwrite`` emptying, a folder of another run)."""
    from engine.run_folder import RunFolder
    from engine.run_start import claimed, handed_down
    from optim import build_scheduler

    run = RunFolder.from_options(opts)
    build_scheduler(opts)  # settings that cannot train stop here, before any worker starts
    if plan.node_rank != 0:  # node 0 owns the run folder; its rank 0 tells the others how the run begins
        _spawn(plan, argv)
        return
    with claimed(opts, run) as start:
        if start.complete:
            logger.log(start.complete)
            return
        with handed_down(start):
            _spawn(plan, argv)


def written_since(opts: Any, started: float) -> List[Path]:
    """The training outputs of the run folder of ``opts`` written since ``started`` (``time.time()``)."""
    from engine.run_folder import RunFolder

    outputs = RunFolder.from_options(opts).training_outputs()
    return [path for path in outputs if path.stat().st_mtime >= started - 1.0]  # file clocks are coarse


def launch(argv: Sequence[str]) -> List[Path]:
    """Train with the options of ``argv``, in this process or in one worker per device.

    Args:
        argv: the command line of ``main_train.py``.

    Returns:
        The files and folders of the run folder the run wrote (checkpoints, metrics, config, log,
        curves, TensorBoard logs); none in a worker other than rank 0, nor on a node other than 0.
    """
    from engine.training import train
    from options import get_training_arguments

    argv = list(argv)
    opts = get_training_arguments(argv)
    started = time.time()
    if launched_by_torch():
        train(opts, handle_signals=True)
        return written_since(opts, started) if int(os.environ.get("RANK", "0")) == 0 else []
    plan = launch_plan(opts, argv)
    if plan.world_size == 1 and plan.nnodes == 1:
        if not getattr(opts, "ddp.enable"):
            logger.log("ddp.enable is false: training in one process")
        train(opts, handle_signals=True)
    else:
        _launch_workers(opts, plan, argv)
    return written_since(opts, started) if plan.node_rank == 0 else []
