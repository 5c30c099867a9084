"""Images per CPU-second of a recipe's training sample path, paired with timm's equivalent pipeline.

    python -m engine.loader_benchmark                       # both recipes, generated JPEGs
    python -m engine.loader_benchmark --recipe parcnet_s --images /data/imagenet/train --count 256

Both pipelines turn the same files, at the same crop sizes (those the recipe's sampler draws for
them), into uint8 batches: this project's dataset (decode, seeded augmentations, uint8 tensor,
random erasing's rectangle) and collate; timm's ``create_transform(..., use_prefetcher=True)`` with
the recipe's augmentations (PIL decode, uint8 tensor; its prefetcher normalises and erases on the
device, as this project's training step does) and ``fast_collate``. They run one thread each, in
alternation within one process (the order switching every round); a round's ratio is this
project's images per CPU-second over timm's, reported as median, interquartile range and range.
An instrumented pass splits each pipeline's time per image by stage.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

RECIPES = {"parcnet_s": "config/classification/edgeformer/edgeformer_s.yaml",
           "parc_convnext_xt": "config/classification/parc_convnets/parc_convnext_xt.yaml"}
STAGES = ("decode", "geometric", "photometric", "to-tensor", "collate")
Item = Tuple[int, int, int, int]  # crop height, crop width, sample index, sample seed


def write_jpegs(folder: Path, count: int, size: Tuple[int, int] = (500, 375), quality: int = 90) -> Path:
    """``count`` photo-like JPEGs of ``size`` (width, height) in two class folders of ``folder``:
    smooth random colour fields with fine noise (a photograph's JPEG size and decoding work)."""
    rng = np.random.default_rng(0)
    width, height = size
    for index in range(count):
        coarse = rng.integers(0, 256, (max(2, height // 40), max(2, width // 40), 3), dtype=np.uint8)
        image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
        target = folder / str(index % 2) / f"{index:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return folder


class OurPipeline:
    """This project's training sample path: the recipe's dataset and ``collate_samples``."""

    name = "ours"

    def __init__(self, opts: Any) -> None:
        from data import collate_samples
        from data.datasets import ImageNetDataset

        self.dataset, self.collate = ImageNetDataset(opts, is_training=True), collate_samples

    def batch(self, items: Sequence[Item]) -> Any:
        return self.collate([self.dataset[item] for item in items])

    def staged(self, items: Sequence[Item], clock: "StageClock") -> None:
        from data.datasets import read_image
        from utils.random_state import seeded_draws

        samples = []
        for h, w, index, seed in items:
            chain = self.dataset.transforms((h, w))
            with seeded_draws(seed, chain.draws):
                data = clock.run("decode", lambda: {"image": read_image(self.dataset.samples[index][0])})
                for transform in chain.transforms:
                    data = clock.run(_our_stage(transform), lambda: transform(data))
            samples.append(data)
        clock.run("collate", lambda: self.collate(samples))


class TimmPipeline:
    """timm's equivalent: ``create_transform`` with the recipe's augmentations (prefetcher layout)
    on PIL-decoded RGB images, and ``fast_collate``."""

    name = "timm"

    def __init__(self, opts: Any) -> None:
        from timm.data.loader import fast_collate

        self.opts, self.collate, self.transforms = opts, fast_collate, {}
        self.files = OurPipeline(opts).dataset.samples

    def transform(self, size: Tuple[int, int]) -> Any:
        if size not in self.transforms:
            self.transforms[size] = timm_transform(self.opts, size)
        return self.transforms[size]

    def decode(self, index: int) -> Any:
        from PIL import Image

        with Image.open(self.files[index][0]) as image:
            return image.convert("RGB")

    def batch(self, items: Sequence[Item]) -> Any:
        return self.collate([(self.transform((h, w))(self.decode(index)), 0) for h, w, index, _ in items])

    def staged(self, items: Sequence[Item], clock: "StageClock") -> None:
        samples = []
        for h, w, index, _ in items:
            image = clock.run("decode", lambda: self.decode(index))
            for transform in self.transform((h, w)).transforms:
                image = clock.run(_timm_stage(transform), lambda: transform(image))
            samples.append((image, 0))
        clock.run("collate", lambda: self.collate(samples))


def timm_transform(opts: Any, size: Tuple[int, int]) -> Any:
    """timm's training transform with the recipe's crop, flip and RandAugment (prefetcher layout)."""
    from timm.data import create_transform

    from data.transforms import RandAugment

    key = "image_augmentation"
    enabled = lambda name: bool(getattr(opts, f"{key}.{name}.enable"))  # noqa: E731
    rand_augment = RandAugment(opts, size).policy if enabled("rand_augment") else None
    return create_transform(
        (3, *size), is_training=True, use_prefetcher=True, color_jitter=None, auto_augment=rand_augment,
        scale=tuple(getattr(opts, f"{key}.random_resized_crop.scale")),
        ratio=tuple(getattr(opts, f"{key}.random_resized_crop.aspect_ratio")),
        hflip=float(getattr(opts, f"{key}.random_horizontal_flip.p")) if enabled("random_horizontal_flip") else 0.0,
        interpolation=getattr(opts, f"{key}.random_resized_crop.interpolation"))


def _our_stage(transform: Any) -> str:
    module = type(transform).__module__.rsplit(".", 1)[-1]
    return {"geometric": "geometric", "tensor": "to-tensor"}.get(module, "photometric")


def _timm_stage(transform: Any) -> str:
    name = type(transform).__name__
    if "Crop" in name or "Flip" in name or "Resize" in name:
        return "geometric"
    return "to-tensor" if "Tensor" in name or "Numpy" in name or "Normalize" in name else "photometric"


class StageClock:
    """CPU seconds of this thread per stage."""

    def __init__(self) -> None:
        self.seconds = {stage: 0.0 for stage in STAGES}

    def run(self, stage: str, work: Callable[[], Any]) -> Any:
        started = time.thread_time()
        result = work()
        self.seconds[stage] += time.thread_time() - started
        return result


def sampler_items(opts: Any, n_files: int, count: int, batch: int = 32) -> List[List[Item]]:
    """``count`` samples (of ``n_files``, in turn) at the crop sizes of the recipe's sampler, each
    size with its share of an epoch's images (its batch size: the sampler draws sizes uniformly per
    batch), with the sampler's per-sample seeds; in batches of at most ``batch`` of one size."""
    from data.samplers import build_sampler
    from utils.random_state import sample_seeds

    sampler = build_sampler(opts, n_files, is_training=True)
    pairs = getattr(sampler, "pairs", [(sampler.crop_h, sampler.crop_w, sampler.batch_size)])
    weights = np.array([size for _, _, size in pairs], dtype=np.float64)
    shares = np.floor(count * weights / weights.sum()).astype(int)
    shares[np.argsort(-weights)[:count - shares.sum()]] += 1  # the remainder to the largest shares
    indices = [i % n_files for i in range(count)]
    seeds = sample_seeds(sampler.seed, 0, range(count))
    items = [(h, w) for (h, w, _), share in zip(pairs, shares) for _ in range(share)]
    items = [(h, w, index, seed) for (h, w), index, seed in zip(items, indices, seeds)]
    return _by_size(items, batch)


def _by_size(items: List[Item], batch: int) -> List[List[Item]]:
    """``items`` (grouped by crop size) in batches of at most ``batch``, each of one size."""
    batches: List[List[Item]] = []
    for item in items:
        if not batches or batches[-1][0][:2] != item[:2] or len(batches[-1]) == batch:
            batches.append([])
        batches[-1].append(item)
    return batches


def images_per_cpu_second(pipeline: Any, batches: List[List[Item]]) -> float:
    started = time.thread_time()
    for items in batches:
        pipeline.batch(items)
    return sum(len(items) for items in batches) / max(time.thread_time() - started, 1e-9)


def compare(opts: Any, count: int, rounds: int) -> Dict[str, Any]:
    """Paired, interleaved rounds of both pipelines on the recipe's first ``count`` samples, and the
    stage breakdown (ms per image)."""
    ours, timm = OurPipeline(opts), TimmPipeline(opts)
    batches = sampler_items(opts, len(ours.dataset), count)
    for pipeline in (ours, timm):  # build the per-size transforms, warm the caches
        images_per_cpu_second(pipeline, batches[:1])
    rates: Dict[str, List[float]] = {"ours": [], "timm": []}
    for round_ in range(rounds):
        for pipeline in ((ours, timm) if round_ % 2 == 0 else (timm, ours)):
            rates[pipeline.name].append(images_per_cpu_second(pipeline, batches))
    ratios = np.array(rates["ours"]) / np.array(rates["timm"])
    stages = {}
    for pipeline in (ours, timm):
        clock = StageClock()
        for items in batches:
            pipeline.staged(items, clock)
        stages[pipeline.name] = {stage: 1000 * s / count for stage, s in clock.seconds.items()}
    quartiles = np.percentile(ratios, [25, 50, 75])
    return {"images": count, "rounds": rounds, "sizes": sorted({item[:2] for b in batches for item in b}),
            "images_per_cpu_second": {name: float(np.median(v)) for name, v in rates.items()},
            "ratio": {"median": float(quartiles[1]), "iqr": [float(quartiles[0]), float(quartiles[2])],
                      "range": [float(ratios.min()), float(ratios.max())]},
            "stage_ms_per_image": stages}


def report(recipe: str, result: Dict[str, Any]) -> str:
    rate, ratio = result["images_per_cpu_second"], result["ratio"]
    lines = [f"{recipe}: {result['images']} images, crop sizes {result['sizes']}, {result['rounds']} rounds, "
             f"one thread",
             f"  images per CPU-second: ours {rate['ours']:.1f}, timm {rate['timm']:.1f} (medians)",
             f"  ours / timm: median {ratio['median']:.2f}, IQR {ratio['iqr'][0]:.2f}-{ratio['iqr'][1]:.2f}, "
             f"range {ratio['range'][0]:.2f}-{ratio['range'][1]:.2f}",
             f"  {'ms per image':14s}{'ours':>8s}{'timm':>8s}"]
    for stage in STAGES:
        lines.append(f"  {stage:14s}{result['stage_ms_per_image']['ours'][stage]:8.3f}"
                     f"{result['stage_ms_per_image']['timm'][stage]:8.3f}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Run the comparison for the chosen recipes, print the report (or JSON); returns the results.

    Args:
        argv: command-line arguments (see ``--help``); ``None``: ``sys.argv``.

    Returns:
        the result of each recipe (:func:`compare`).
    """
    from options import get_training_arguments

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), action="append", help="(default: all)")
    parser.add_argument("--images", type=Path, help="an image folder with class folders (default: generated JPEGs)")
    parser.add_argument("--count", type=int, default=64, help="samples per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--generated-size", type=int, nargs=2, default=(500, 375), metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            images = args.images or write_jpegs(Path(scratch), args.count, tuple(args.generated_size))
            for recipe in args.recipe or sorted(RECIPES):
                opts = get_training_arguments(["--common.config-file", RECIPES[recipe], "--dataset.root-train",
                                               str(images), "--dataset.workers", "0"])
                results[recipe] = compare(opts, args.count, args.rounds)
                if not args.json:
                    print(report(recipe, results[recipe]), flush=True)
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
