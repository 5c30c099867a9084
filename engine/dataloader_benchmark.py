"""Images per CPU-second and per wall-second of a config's training DataLoader, paired with a
DataLoader of timm's equivalent transform on the same files, in the same batches.

This project's loader is the one training builds (:func:`data.create_train_loader`: the config's
dataset and batch sampler, ``collate_samples``, uint8 batches). timm's is a torch DataLoader over
the same files in the same batches (this project's sampler plans them: each batch's crop size and
batch size), each sample made by timm's ``create_transform(..., use_prefetcher=True)`` at its
batch's crop size (:class:`~engine.sample_benchmark.TimmPipeline`) and collated by ``fast_collate``.
Both have the same number of loading processes and the same ``pin_memory``.

The loading processes are started afresh each round (not persistent), so a round's CPU seconds are
exactly those of this process (``RUSAGE_SELF``) and of the loading processes it started and joined
(``RUSAGE_CHILDREN``); they include starting the processes. Forked (or spawned) loading processes
are this process's children, as they must be to be counted; the forkserver start method is refused.
The rounds alternate the two loaders, the order switching every round (:func:`utils.timing.paired_clocks`).
"""
from __future__ import annotations

import copy
import resource
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from utils.timing import paired_clocks, ratio_spread, spread_text
from utils.errors import ConfigError

NAMES = ("ours", "timm")


def cpu_seconds() -> np.ndarray:
    """User and system CPU seconds so far of this process and of its finished children (the loading
    processes of the loaders that ended): ``[this process, children]``."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return np.array([u.ru_utime + u.ru_stime for u in usage])


def loader_opts(opts: Any, images: Path, workers: int, batch_size: Optional[int] = None) -> Any:
    """A copy of ``opts`` whose training set is ``images``, loaded by ``workers`` processes started
    afresh each epoch, in batches of the configured size (or ``batch_size``, the sampler's base)."""
    opts = copy.copy(opts)
    setattr(opts, "dataset.root_train", str(images))
    setattr(opts, "dataset.workers", int(workers))
    setattr(opts, "dataset.persistent_workers", False)
    if batch_size is not None:
        setattr(opts, "dataset.train_batch_size0", int(batch_size))
    return opts


def build_loaders(opts: Any, count: int) -> Dict[str, DataLoader]:
    """This project's training DataLoader over the first ``count`` files of ``dataset.root_train``,
    and timm's over the same files in the same batches."""
    from timm.data.loader import fast_collate

    from data import build_dataset, create_train_loader
    from engine.sample_benchmark import TimmPipeline

    if int(getattr(opts, "dataset.workers")) > 0 and torch.multiprocessing.get_start_method() == "forkserver":
        raise ConfigError("the DataLoader benchmark counts the CPU time of its loading processes as that of this "
                          "process's children, which processes of the forkserver start method are not")
    dataset = build_dataset(opts, is_training=True)
    dataset.samples = dataset.samples[:count]
    ours = create_train_loader(opts, dataset)
    timm = DataLoader(TimmPipeline(opts, dataset.samples), batch_sampler=ours.batch_sampler,
                      num_workers=ours.num_workers, collate_fn=fast_collate, pin_memory=ours.pin_memory,
                      generator=torch.Generator())
    return {"ours": ours, "timm": timm}


def _images(batch: Any) -> int:
    """The images of a batch of either loader (this project's dict, timm's ``(images, targets)``)."""
    return len(batch["image"] if isinstance(batch, dict) else batch[0])


def _epoch(loader: DataLoader, counted: List[int]) -> Callable[[], None]:
    def run() -> None:
        counted.append(sum(_images(batch) for batch in loader))
    return run


def compare(opts: Any, count: int, rounds: int, warmup: int = 1) -> Dict[str, Any]:
    """Paired, interleaved epochs of both loaders (see the module's docstring).

    Args:
        opts: the options of :func:`loader_opts` (training set, loading processes).
        count: the files the loaders read (the first of the training set; each epoch reads them all).
        rounds: timed rounds (one epoch of each loader).
        warmup: untimed rounds first.

    Returns:
        images per round and loader, loading processes, batches, images per CPU-second and per
        wall-second (medians), the CPU seconds of a round split between this process and the
        loading processes (medians), and this project's rates over timm's (``cpu_ratio``,
        ``wall_ratio``: median, IQR, range of the per-round ratios).
    """
    loaders = build_loaders(opts, count)
    counted: Dict[str, List[int]] = {name: [] for name in NAMES}
    # no lead-in run: a round is an epoch over every file, with loading processes of its own
    wall, cpu = paired_clocks({name: _epoch(loaders[name], counted[name]) for name in NAMES}, warmup, rounds,
                              cpu_seconds, lead_in=0)
    images = {name: counted[name][warmup:] for name in NAMES}
    per_cpu = {name: [n / max(float(np.sum(s)), 1e-9) for n, s in zip(images[name], cpu[name])] for name in NAMES}
    per_wall = {name: [n / s for n, s in zip(images[name], wall[name])] for name in NAMES}
    return {"images": {name: images[name][-1] for name in NAMES}, "workers": loaders["ours"].num_workers,
            "rounds": rounds, "batches": len(loaders["ours"].batch_sampler),
            "images_per_cpu_second": {name: float(np.median(per_cpu[name])) for name in NAMES},
            "images_per_wall_second": {name: float(np.median(per_wall[name])) for name in NAMES},
            "cpu_seconds": {name: {"main": float(np.median([s[0] for s in cpu[name]])),
                                   "workers": float(np.median([s[1] for s in cpu[name]]))} for name in NAMES},
            "cpu_ratio": ratio_spread(per_cpu["ours"], per_cpu["timm"]).rounded(),
            "wall_ratio": ratio_spread(per_wall["ours"], per_wall["timm"]).rounded()}


def report(result: Dict[str, Any]) -> List[str]:
    """The lines of :func:`compare`'s result."""
    cpu, wall, seconds = result["images_per_cpu_second"], result["images_per_wall_second"], result["cpu_seconds"]
    split = "; ".join(f"{name} {seconds[name]['main']:.3f} main + {seconds[name]['workers']:.3f} loading processes"
                      for name in NAMES)
    return [f"  DataLoader: {result['images']['ours']} images in {result['batches']} batches, {result['workers']} "
            f"loading processes started each round, {result['rounds']} rounds",
            f"    images per CPU-second (this process and its loading processes): ours {cpu['ours']:.1f}, "
            f"timm {cpu['timm']:.1f} (medians)",
            f"    images per wall-second: ours {wall['ours']:.1f}, timm {wall['timm']:.1f} (medians)",
            f"    CPU seconds a round: {split} (medians)",
            "    ours / timm per CPU-second: " + spread_text(result["cpu_ratio"]),
            "    ours / timm per wall-second: " + spread_text(result["wall_ratio"])]
