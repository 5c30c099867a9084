"""How a training run begins in its :class:`RunFolder`, decided once for the launcher and its
workers alike.

The process that owns the run decides: the launcher before it starts any worker, else (torchrun,
or a run in one process) rank 0. It resumes ``common.resume``, or with ``common.auto_resume`` the
folder's ``checkpoint.pt``; a checkpoint whose run is already complete leaves nothing to do. It then
locks the folder for the run's life (:class:`RunLock`), removes the temporary files a killed writer
left, and refuses a folder holding another run's results, or with ``common.overwrite`` removes them,
before any worker starts. The workers take that decision as it was made: the launcher hands it
down through the environment, rank 0 broadcasts it to the other ranks.
"""
from __future__ import annotations

import json
import os
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from engine.resume_checkpoint import read_position
from engine.run_folder import RunFolder
from engine.run_lock import RunLock
from utils import logger
from utils.distributed import on_main
from utils.errors import ConfigError
from utils.io import remove_partial_files
from utils.runtime import Runtime

HANDOVER_ENV = "PARCNET_RUN_START"  # the launcher's decision, for its workers


@dataclass(frozen=True)
class RunStart:
    """The decision: the run folder, the checkpoint the run continues from (``None``: from
    scratch) and, when there is nothing left to train, the line that says so."""

    folder: str
    resume: Optional[str] = None
    complete: Optional[str] = None

    @property
    def resume_path(self) -> Optional[Path]:
        return Path(self.resume) if self.resume else None

    @property
    def continues_folder(self) -> bool:
        """Whether the run continues the checkpoint of its own folder."""
        return self.resume is not None and Path(self.resume).resolve() == RunFolder(self.folder).checkpoint.resolve()


def _resume_from(opts: Any, run: RunFolder) -> Optional[Path]:
    explicit = getattr(opts, "common.resume")
    if explicit:
        return Path(explicit).expanduser()
    if getattr(opts, "common.auto_resume"):
        if run.checkpoint.is_file():
            logger.log(f"Auto-resume: continuing from {run.checkpoint}")
            return run.checkpoint
        logger.log(f"Auto-resume: no checkpoint at {run.checkpoint}; starting from scratch")
    return None


def _nothing_left(opts: Any, resume: Path) -> Optional[str]:
    """The line saying that the run of ``resume`` has reached ``scheduler.max_epochs`` (or
    ``max_iterations``); ``None`` when it has training left."""
    epochs, iterations = read_position(resume)
    max_epochs, max_iterations = getattr(opts, "scheduler.max_epochs"), getattr(opts, "scheduler.max_iterations")
    if max_epochs is not None and 0 < max_epochs <= epochs:
        return (f"the run is already complete at epoch {epochs} of {max_epochs} ({resume}); nothing was trained "
                f"and no file was changed; to train it further, raise --scheduler.max-epochs above {epochs}")
    if getattr(opts, "scheduler.is_iteration_based") and max_iterations and 0 < max_iterations <= iterations:
        return (f"the run is already complete at iteration {iterations} of {max_iterations} ({resume}); nothing "
                f"was trained and no file was changed; to train it further, raise --scheduler.max-iterations "
                f"above {iterations}")
    return None


def decide(opts: Any, run: RunFolder) -> RunStart:
    """Where the run starts; reads the folder and the checkpoint, changes nothing."""
    resume = _resume_from(opts, run)
    complete = _nothing_left(opts, resume) if resume is not None else None
    return RunStart(str(run.path), str(resume) if resume is not None else None, complete)


def _refuse_earlier_results(run: RunFolder, found: list) -> ConfigError:
    listed = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    return ConfigError(f"{run} holds the results of an earlier run ({listed}); to continue it add "
                       f"--common.auto-resume, to keep it choose another --common.run-label, to replace it add "
                       f"--common.overwrite")


@contextmanager
def claimed(opts: Any, run: RunFolder) -> Iterator[RunStart]:
    """Decide how the run starts and, unless it is complete, hold the folder for it: writable,
    locked, without stale temporary files, and without another run's results (refused, or removed
    with ``common.overwrite``).

    Args:
        opts: the run's options (``common.*``, ``scheduler.*``).
        run: its folder.

    Yields:
        The :class:`RunStart`; the folder stays locked until the ``with`` block ends.
    """
    start = decide(opts, run)
    if start.complete:
        yield start
        return
    run.check_writable()
    with RunLock(run.lock, run.path):
        removed = remove_partial_files(run.path)
        if removed:
            logger.log(f"Removed {len(removed)} partial files an interrupted run left in {run}: {', '.join(removed)}")
        found = run.earlier_results()
        if found and not start.continues_folder:
            if not getattr(opts, "common.overwrite"):
                raise _refuse_earlier_results(run, found)
            run.remove_training_outputs()
            logger.warning(f"--common.overwrite: removed the earlier run's results from {run}")
        yield start


@contextmanager
def handed_down(start: RunStart) -> Iterator[None]:
    """Pass ``start`` to the worker processes started inside the ``with`` block."""
    os.environ[HANDOVER_ENV] = json.dumps(asdict(start))
    try:
        yield
    finally:
        os.environ.pop(HANDOVER_ENV, None)


def _from_launcher(run: RunFolder) -> Optional[RunStart]:
    text = os.environ.get(HANDOVER_ENV)
    if not text:
        return None
    start = RunStart(**json.loads(text))
    return start if Path(start.folder) == run.path else None


@contextmanager
def run_start(opts: Any, run: RunFolder, runtime: Runtime) -> Iterator[RunStart]:
    """The decision a training process works with: its launcher's, else made here by rank 0 (which
    then holds the folder's lock until the ``with`` block ends); every rank receives rank 0's."""
    with ExitStack() as stack:
        def own() -> RunStart:
            return _from_launcher(run) or stack.enter_context(claimed(opts, run))

        yield on_main(runtime, own)
