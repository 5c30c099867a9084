"""A small digits folder and options for fast training runs in tests."""
from __future__ import annotations

from pathlib import Path
from typing import List

import cv2
import numpy as np

from data.demo.digits import centred_digit, load_digits

DEMO_CONFIG = "config/classification/demo/parcnet_digits.yaml"


def write_small_digits(root: Path, per_class_train: int, per_class_val: int, size: int = 32) -> Path:
    images, labels = load_digits()
    for label in range(10):
        members = np.flatnonzero(labels == label)
        for split, chosen in (("training", members[:per_class_train]),
                              ("validation", members[per_class_train:per_class_train + per_class_val])):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for index in chosen:
                cv2.imwrite(str(folder / f"{index:04d}.png"), centred_digit(images[index], size, size // 2))
    return root


def fast_args(data: Path, results: Path, epochs: int, extra: List[str] = ()) -> List[str]:
    """The demo config on a small folder at 48 pixels (validation: resize to 80, keep the central 48,
    which hold the whole digit)."""
    return ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(data / "training"),
            "--dataset.root-val", str(data / "validation"), "--common.results-loc", str(results),
            "--common.run-label", "run", "--scheduler.max-epochs", str(epochs), "--dataset.workers", "0",
            "--sampler.name", "batch_sampler", "--sampler.bs.crop-size-width", "48",
            "--sampler.bs.crop-size-height", "48", "--dataset.train-batch-size0", "25",
            "--dataset.val-batch-size0", "50", "--common.log-freq", "5", "--scheduler.warmup-iterations", "5",
            *extra]
