"""A small digits folder and options for fast training runs in tests."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import List

import cv2
import numpy as np
import torch

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


def tiny_args(data: Path, results: Path, label: str, epochs: int = 2, extra: List[str] = ()) -> List[str]:
    """The demo config on a tiny folder (:func:`write_small_digits` with 6 + 2 images per class) at
    24 pixels, on the CPU, logging every step: a run of two epochs takes seconds."""
    return ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(data / "training"),
            "--dataset.root-val", str(data / "validation"), "--common.results-loc", str(results),
            "--common.run-label", label, "--scheduler.max-epochs", str(epochs), "--dataset.workers", "0",
            "--sampler.name", "batch_sampler", "--sampler.bs.crop-size-width", "24",
            "--sampler.bs.crop-size-height", "24", "--dataset.train-batch-size0", "10",
            "--dataset.val-batch-size0", "20", "--common.log-freq", "1", "--scheduler.warmup-iterations", "2",
            "--common.device", "cpu", *extra]


def wait_for_line(path: Path, text: str, process: "subprocess.Popen", timeout: float = 300) -> None:
    """Wait until ``path`` holds ``text`` (the process must keep running meanwhile)."""
    deadline = time.time() + timeout
    while not (path.is_file() and text in path.read_text(errors="replace")):
        assert process.poll() is None, f"the process ended (code {process.returncode}) before logging {text!r}"
        assert time.time() < deadline, f"{text!r} did not appear in {path}"
        time.sleep(0.05)


def max_weight_difference(first: Path, second: Path) -> float:
    a, b = (torch.load(p, map_location="cpu", weights_only=True) for p in (first, second))
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)


def assert_benchmark_profiles(config: str, extra: List[str], capsys) -> None:
    """``main_benchmark.py`` profiles ``config`` and counts exactly the parameters of the model it builds."""
    import json

    import main_benchmark
    from conftest import training_opts
    from cvnets import get_model

    main_benchmark.main(["--common.config-file", config, *extra])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model = get_model(training_opts(["--common.config-file", config]))
    assert result["params"] == sum(p.numel() for p in model.parameters()) and result["macs"] > 0
