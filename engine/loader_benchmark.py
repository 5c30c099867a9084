"""This project's training data loading against timm's, paired, on the same files.

Two measurements: the sample path in one thread (:mod:`engine.sample_benchmark`) and the full
training DataLoader (:mod:`engine.dataloader_benchmark`).

    python -m engine.loader_benchmark                       # both recipes, generated JPEGs
    python -m engine.loader_benchmark --recipe parcnet_s --images /data/imagenet/train --count 256
    python -m engine.loader_benchmark --config config/classification/mobilevit/mobilevit_small.yaml \\
        --loader dataloader --workers 4

Any config whose training set is an ImageNet-style classification folder (``dataset.name``
imagenet: a folder per class) can be measured; ``--recipe`` names two of them. The sample path runs
with one torch and OpenCV thread; the DataLoader with this process's thread settings, as training
runs. ``main_benchmark.py --benchmark.loader FOLDER`` runs both for its config.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

import cv2
import torch

from utils.errors import ConfigError

RECIPES = {"parcnet_s": "config/classification/edgeformer/edgeformer_s.yaml",
           "parc_convnext_xt": "config/classification/parc_convnets/parc_convnext_xt.yaml"}
MEASUREMENTS = {"sample": ("sample",), "dataloader": ("dataloader",), "both": ("sample", "dataloader")}
GENERATED = "generated"  # benchmark.loader: generated JPEGs instead of a folder


def check_classification(opts: Any) -> None:
    """Refuse (one line) a config whose training set is not an ImageNet-style classification folder."""
    from data.datasets import ImageNetDataset
    from data.datasets.registry import DATASET_REGISTRY

    category, name = getattr(opts, "dataset.category"), getattr(opts, "dataset.name")
    if category != "classification" or not issubclass(DATASET_REGISTRY.get(name), ImageNetDataset):
        raise ConfigError(f"{getattr(opts, 'common.config_file')}: the loader benchmark measures ImageNet-style "
                          f"classification folders (dataset.name imagenet), not dataset.category {category} with "
                          f"dataset.name {name}")


@contextmanager
def one_thread() -> Iterator[None]:
    """torch and OpenCV on one thread within the block."""
    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])


def measure(opts: Any, images: Path, count: int, rounds: int, workers: int, which: str = "both",
            batch_size: Optional[int] = None) -> Dict[str, Any]:
    """The paired measurements of a config's data loading against timm's.

    Args:
        opts: the config's options.
        images: an image folder with a folder per class.
        count: images per round (the first files of ``images``).
        rounds: timed rounds of each measurement.
        workers: loading processes of the DataLoaders.
        which: ``sample``, ``dataloader`` or ``both``.
        batch_size: the sampler's base batch size (default: the config's ``dataset.train_batch_size0``).

    Returns:
        ``{"sample": ..., "dataloader": ...}`` as asked: the results of
        :func:`engine.sample_benchmark.compare` and :func:`engine.dataloader_benchmark.compare`.
    """
    from engine import dataloader_benchmark, sample_benchmark

    check_classification(opts)
    opts = dataloader_benchmark.loader_opts(opts, images, workers, batch_size)
    result = {}
    if "sample" in MEASUREMENTS[which]:
        with one_thread():
            result["sample"] = sample_benchmark.compare(opts, count, rounds)
    if "dataloader" in MEASUREMENTS[which]:
        result["dataloader"] = dataloader_benchmark.compare(opts, count, rounds)
    return result


def report(name: str, result: Dict[str, Any]) -> str:
    """The lines of :func:`measure`'s result for the config ``name``."""
    from engine import dataloader_benchmark, sample_benchmark

    lines = [f"{name}: this project's training data loading against timm's, paired"]
    if "sample" in result:
        lines += sample_benchmark.report(result["sample"])
    if "dataloader" in result:
        lines += dataloader_benchmark.report(result["dataloader"])
    return "\n".join(lines)


def benchmark_command(opts: Any) -> Dict[str, Any]:
    """``main_benchmark.py --benchmark.loader FOLDER`` (or ``generated``): both measurements of the
    config's data loading against timm's (:func:`measure`), ``benchmark.loader_images`` images per
    round, ``benchmark.repeats`` rounds, ``dataset.workers`` loading processes; prints the report.

    Args:
        opts: ``main_benchmark.py``'s options.

    Returns:
        ``{"config": its name, "loader": the result of measure}``.
    """
    from engine.sample_benchmark import write_jpegs

    check_classification(opts)
    folder, count = getattr(opts, "benchmark.loader"), int(getattr(opts, "benchmark.loader_images"))
    if count < 1:
        raise ConfigError(f"benchmark.loader_images must be at least 1, got {count}")
    name = Path(getattr(opts, "common.config_file")).stem
    with tempfile.TemporaryDirectory() as scratch:
        images = write_jpegs(Path(scratch), count) if folder == GENERATED else Path(folder)
        if not images.is_dir():
            raise ConfigError(f"benchmark.loader: {folder} is not a folder (an image folder with a folder per "
                              f"class, or {GENERATED})")
        result = measure(opts, images, count, int(getattr(opts, "benchmark.repeats")),
                         int(getattr(opts, "dataset.workers")))
    print(report(name, result), flush=True)
    return {"config": name, "loader": result}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Measure the chosen configs, print the reports (or JSON); returns the results.

    Args:
        argv: command-line arguments (see ``--help``); ``None``: ``sys.argv``.

    Returns:
        the result of each config (:func:`measure`), by recipe name or config file.
    """
    from engine.sample_benchmark import write_jpegs
    from options import get_training_arguments

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), action="append", help="a named config")
    parser.add_argument("--config", action="append", help="a classification config (default, without --recipe: "
                                                          "every recipe)")
    parser.add_argument("--images", type=Path, help="an image folder with class folders (default: generated JPEGs)")
    parser.add_argument("--count", type=int, default=64, help="images per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loader", choices=sorted(MEASUREMENTS), default="both",
                        help="sample: the sample path in one thread; dataloader: the full training DataLoader")
    parser.add_argument("--workers", type=int, default=2, help="loading processes of the DataLoaders")
    parser.add_argument("--batch-size", type=int, help="the sampler's base batch size (default: the config's)")
    parser.add_argument("--generated-size", type=int, nargs=2, default=(500, 375), metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args(argv)
    configs = {**{recipe: RECIPES[recipe] for recipe in args.recipe or []}, **{c: c for c in args.config or []}}
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        images = args.images or write_jpegs(Path(scratch), args.count, tuple(args.generated_size))
        for name, config in (configs or dict(sorted(RECIPES.items()))).items():
            opts = get_training_arguments(["--common.config-file", config])
            results[name] = measure(opts, images, args.count, args.rounds, args.workers, args.loader, args.batch_size)
            if not args.json:
                print(report(name, results[name]), flush=True)
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    from utils.entry import run_entry

    raise SystemExit(run_entry(main))
