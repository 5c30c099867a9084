"""Images per CPU-second of a config's training sample path, paired with timm's equivalent, in one
thread (part of ``python -m engine.loader_benchmark``).

Both pipelines turn the same files, at the same crop sizes (those the config's sampler draws for
them), into uint8 batches: this project's dataset (decode, seeded augmentations, uint8 tensor,
random erasing's rectangle) and collate; timm's ``create_transform(..., use_prefetcher=True)`` with
the config's augmentations (PIL decode, uint8 tensor; its prefetcher normalises and erases on the
device, as this project's training step does) and ``fast_collate``. They run one thread each, in
alternation within one process (the order switching every round, :func:`utils.timing.paired_clocks`);
a round's ratio is this project's images per CPU-second over timm's, reported as median,
interquartile range and range. An instrumented pass splits each pipeline's time per image by stage.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from utils.timing import paired_clocks, ratio_spread, spread_text

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
    """This project's training sample path: the config's dataset and ``collate_samples``."""

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
    """timm's equivalent: ``create_transform`` with the config's augmentations (prefetcher layout)
    on PIL-decoded RGB images, and ``fast_collate``; a dataset of ``(image, label)`` addressed by
    the batch samplers' items.

    Args:
        opts: the options (augmentations).
        samples: ``(path, label)`` of the files (a dataset's ``samples``).
    """

    name = "timm"

    def __init__(self, opts: Any, samples: Sequence[Tuple[str, int]]) -> None:
        from timm.data.loader import fast_collate

        self.opts, self.collate, self.transforms, self.files = opts, fast_collate, {}, list(samples)

    def transform(self, size: Tuple[int, int]) -> Any:
        if size not in self.transforms:
            self.transforms[size] = timm_transform(self.opts, size)
        return self.transforms[size]

    def decode(self, index: int) -> Any:
        from PIL import Image

        with Image.open(self.files[index][0]) as image:
            return image.convert("RGB")

    def __getitem__(self, item: Item) -> Tuple[Any, int]:
        h, w, index, _ = item
        return self.transform((h, w))(self.decode(index)), self.files[index][1]

    def batch(self, items: Sequence[Item]) -> Any:
        return self.collate([self[item] for item in items])

    def staged(self, items: Sequence[Item], clock: "StageClock") -> None:
        samples = []
        for h, w, index, _ in items:
            image = clock.run("decode", lambda: self.decode(index))
            for transform in self.transform((h, w)).transforms:
                image = clock.run(_timm_stage(transform), lambda: transform(image))
            samples.append((image, self.files[index][1]))
        clock.run("collate", lambda: self.collate(samples))


def timm_transform(opts: Any, size: Tuple[int, int]) -> Any:
    """timm's training transform with the config's crop, flip and RandAugment (prefetcher layout)."""
    from timm.data import create_transform

    from data.transforms import RandAugment
    from data.transforms.rand_augment import zero_bit_posterize

    key = "image_augmentation"
    enabled = lambda name: bool(getattr(opts, f"{key}.{name}.enable"))  # noqa: E731
    rand_augment = RandAugment(opts, size).policy if enabled("rand_augment") else None
    transform = create_transform(
        (3, *size), is_training=True, use_prefetcher=True, color_jitter=None, auto_augment=rand_augment,
        scale=tuple(getattr(opts, f"{key}.random_resized_crop.scale")),
        ratio=tuple(getattr(opts, f"{key}.random_resized_crop.aspect_ratio")),
        hflip=float(getattr(opts, f"{key}.random_horizontal_flip.p")) if enabled("random_horizontal_flip") else 0.0,
        interpolation=getattr(opts, f"{key}.random_resized_crop.interpolation"))
    for step in transform.transforms:  # posterize keeping 0 bits, as this project's RandAugment does
        if hasattr(step, "ops"):
            zero_bit_posterize(step)
    return transform


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
    """``count`` samples (of ``n_files``, in turn) at the crop sizes of the config's sampler, each
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


def _batches(pipeline: Any, batches: List[List[Item]]) -> Callable[[], None]:
    def run() -> None:
        for items in batches:
            pipeline.batch(items)
    return run


def compare(opts: Any, count: int, rounds: int) -> Dict[str, Any]:
    """Paired, interleaved rounds of both pipelines on the first ``count`` samples of the config's
    training set (``dataset.root_train``), in one thread, and the stage breakdown (ms per image).

    Args:
        opts: the options.
        count: samples per round (the files in turn).
        rounds: timed rounds.

    Returns:
        images, rounds, the crop sizes, images per CPU-second of each pipeline (medians), the
        ratio ours / timm (``ratio``: median, IQR, range of the per-round ratios) and
        ``stage_ms_per_image`` of each pipeline.
    """
    ours = OurPipeline(opts)
    timm = TimmPipeline(opts, ours.dataset.samples)
    batches = sampler_items(opts, len(ours.dataset), count)
    for pipeline in (ours, timm):  # build the per-size transforms, warm the caches
        _batches(pipeline, batches[:1])()
    # no lead-in run: a round decodes every file, what the other pipeline left in the caches hardly counts
    _, cpu = paired_clocks({p.name: _batches(p, batches) for p in (ours, timm)}, 0, rounds, time.thread_time,
                           lead_in=0)
    rates = {name: [count / max(s, 1e-9) for s in seconds] for name, seconds in cpu.items()}
    stages = {}
    for pipeline in (ours, timm):
        clock = StageClock()
        for items in batches:
            pipeline.staged(items, clock)
        stages[pipeline.name] = {stage: 1000 * s / count for stage, s in clock.seconds.items()}
    return {"images": count, "rounds": rounds, "sizes": sorted({item[:2] for b in batches for item in b}),
            "images_per_cpu_second": {name: float(np.median(v)) for name, v in rates.items()},
            "ratio": ratio_spread(rates["ours"], rates["timm"]).rounded(), "stage_ms_per_image": stages}


def report(result: Dict[str, Any]) -> List[str]:
    """The lines of :func:`compare`'s result."""
    rate = result["images_per_cpu_second"]
    lines = [f"  sample path: {result['images']} images, crop sizes {result['sizes']}, {result['rounds']} rounds, "
             f"one thread",
             f"    images per CPU-second: ours {rate['ours']:.1f}, timm {rate['timm']:.1f} (medians)",
             f"    ours / timm: {spread_text(result['ratio'])}",
             f"    {'ms per image':14s}{'ours':>8s}{'timm':>8s}"]
    for stage in STAGES:
        lines.append(f"    {stage:14s}{result['stage_ms_per_image']['ours'][stage]:8.3f}"
                     f"{result['stage_ms_per_image']['timm'][stage]:8.3f}")
    return lines
