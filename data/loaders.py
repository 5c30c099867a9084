"""Data loaders for training, validation and evaluation."""
from __future__ import annotations

import copy
import os
import re
import signal
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch.utils.data import DataLoader
from torch.utils.data._utils.collate import collate_tensor_fn

from data.datasets import build_dataset
from data.samplers import BaseBatchSampler, build_sampler, crop_size
from utils import logger


def collate_samples(samples: List[Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    """Stack the samples of a batch, leaving out those that could not be read (``None``).

    Tensors of equal shape are stacked, dicts are collated key by key, anything else is listed.
    Returns ``None`` when no sample of the batch could be read.
    """
    samples = [s for s in samples if s is not None]
    if not samples:
        return None
    return _collate([s for s in samples])


def collate_listed(samples: List[Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    """As :func:`collate_samples`, but the images and labels of the batch stay lists (one entry per
    sample): for datasets whose images keep their own sizes and whose labels are per-image dicts
    (``variable_size_samples``, e.g. the targets of Mask R-CNN)."""
    samples = [s for s in samples if s is not None]
    if not samples:
        return None
    listed = {"image", "label"}
    batch = _collate([{k: v for k, v in s.items() if k not in listed} for s in samples])
    batch.update({key: [s[key] for s in samples] for key in listed if key in samples[0]})
    return batch


def _collate(values: List[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {key: _collate([v[key] for v in values]) for key in first}
    if isinstance(first, torch.Tensor) and all(v.shape == first.shape for v in values):
        # in a loading process, stacked straight into shared memory (no copy there when it is sent)
        return collate_tensor_fn(values)
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return torch.tensor(values)
    return list(values)


def _init_worker(worker_id: int) -> None:
    """A loading process leaves SIGTERM and SIGUSR1 to the training process, which stops at the
    next iteration, saves and ends the loading processes itself."""
    for name in ("SIGTERM", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


# how torch reports a loading process that died (its C++ and Python wordings)
_DIED = re.compile(r"DataLoader worker \(pids?\(?s?\)? ?(?P<pids>[\d, ]+)\) (?:is killed by signal: (?P<signal>[^.]+)"
                   r"|exited unexpectedly(?: with exit code (?P<code>-?\d+))?)")
_SIGNAL_NAMES = {signal.strsignal(s): s.name for s in signal.Signals if signal.strsignal(s)}


def worker_death(error: BaseException) -> Optional[str]:
    """What ``error`` says when it is torch's report of a loading process that died (``"data loading
    process (pid 123) was killed by SIGKILL"``); ``None`` for any other error."""
    found = _DIED.search(str(error)) if isinstance(error, RuntimeError) else None
    if found is None:
        return None
    pids = found.group("pids").strip()
    who = f"data loading process (pid{'s' if ',' in pids else ''} {pids})"
    if found.group("signal"):
        name = found.group("signal").strip()
        return f"{who} was killed by {_SIGNAL_NAMES.get(name, name)}"
    code = found.group("code")
    return f"{who} exited unexpectedly" + (f" with exit code {code}" if code is not None else "")


def close_loaders(*loaders: Any) -> None:
    """End the loading processes of ``loaders``, those kept between epochs (``persistent_workers``)
    included, after a run however it ends. They ignore SIGTERM (see :func:`_init_worker`), so one
    that does not stop when asked is killed: a run never waits on its loading processes."""
    for loader in loaders:
        iterator = getattr(loader, "_iterator", None)  # where a DataLoader keeps its persistent workers
        if iterator is None or not hasattr(iterator, "_shutdown_workers"):
            continue
        workers = list(getattr(iterator, "_workers", []))
        iterator._shutdown_workers()
        for process in workers:
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        loader._iterator = None


def num_workers(opts: Any) -> int:
    workers = int(getattr(opts, "dataset.workers"))
    return min(os.cpu_count() or 1, 8) if workers < 0 else workers


def _loader(opts: Any, dataset: Any, sampler: BaseBatchSampler, persistent: bool) -> DataLoader:
    workers = num_workers(opts)
    collate = collate_listed if getattr(dataset, "variable_size_samples", False) else collate_samples
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate,
                      pin_memory=bool(getattr(opts, "dataset.pin_memory")) and torch.cuda.is_available(),
                      persistent_workers=persistent and workers > 0, worker_init_fn=_init_worker,
                      generator=torch.Generator())  # not the training process's generator


def _describe(dataset: Any, sampler: BaseBatchSampler) -> str:
    if getattr(dataset, "variable_size_samples", False):
        return f"{dataset} in batches of {sampler.batch_size} (images at their own size; the model resizes them)"
    return f"{dataset} with {sampler}"


def create_train_loader(opts: Any, train_set: Optional[Any] = None) -> DataLoader:
    """The training loader: the training set in the batches of the configured sampler (the loader's
    ``batch_sampler``), loaded by ``dataset.workers`` processes.

    Args:
        opts: the run's options.
        train_set: the training set (default: the configured one, :func:`build_dataset`).

    Returns:
        The DataLoader.
    """
    train_set = build_dataset(opts, is_training=True) if train_set is None else train_set
    train_sampler = build_sampler(opts, len(train_set), is_training=True)
    logger.log(f"Training data: {_describe(train_set, train_sampler)}")
    return _loader(opts, train_set, train_sampler, bool(getattr(opts, "dataset.persistent_workers")))


def create_train_val_loaders(opts: Any) -> Tuple[DataLoader, DataLoader, BaseBatchSampler]:
    train_loader = create_train_loader(opts)
    val_set = build_dataset(opts, is_training=False)
    val_sampler = build_sampler(opts, len(val_set), is_training=False)
    logger.log(f"Validation data: {_describe(val_set, val_sampler)}")
    persistent = bool(getattr(opts, "dataset.persistent_workers"))
    return train_loader, _loader(opts, val_set, val_sampler, persistent), train_loader.batch_sampler


def eval_opts(opts: Any) -> Any:
    """A copy of ``opts`` for evaluation: fixed-size batches of ``dataset.eval_batch_size0`` at the
    base crop size of the configured sampler."""
    opts = copy.copy(opts)
    setattr(opts, "dataset.val_batch_size0", getattr(opts, "dataset.eval_batch_size0"))
    if getattr(opts, "sampler.name").startswith("variable"):
        height, width = crop_size(opts)
        setattr(opts, "sampler.bs.crop_size_height", height)
        setattr(opts, "sampler.bs.crop_size_width", width)
        setattr(opts, "sampler.name", "batch_sampler")
    return opts


def create_eval_loader(opts: Any) -> DataLoader:
    opts = eval_opts(opts)
    dataset = build_dataset(opts, is_training=False, is_evaluation=True)
    sampler = build_sampler(opts, len(dataset), is_training=False)
    logger.log(f"Evaluation data: {_describe(dataset, sampler)}")
    return _loader(opts, dataset, sampler, persistent=False)
