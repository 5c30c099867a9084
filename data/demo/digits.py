"""The bundled UCI handwritten digits and the ImageNet-style folder made from them."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np

DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")


def load_digits(path: Path = DIGITS_FILE) -> Tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: ``N x 8 x 8`` uint8 images scaled to 0-255 and ``N`` labels 0-9."""
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    images = (table[:, :64].reshape(-1, 8, 8) * 255 // 16).astype(np.uint8)
    return images, table[:, 64].astype(np.int64)


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed, class-stratified split: the same ``val_fraction`` of every class goes to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(members) * val_fraction))
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return np.sort(np.array(train)), np.sort(np.array(val))


def centred_digit(image: np.ndarray, size: int, digit_size: int) -> np.ndarray:
    """A ``size`` x ``size`` black picture with the digit resized to ``digit_size`` in its centre."""
    picture = np.zeros((size, size), dtype=np.uint8)
    offset = (size - digit_size) // 2
    picture[offset:offset + digit_size, offset:offset + digit_size] = cv2.resize(
        image, (digit_size, digit_size), interpolation=cv2.INTER_LINEAR)
    return picture


def write_classification_folder(out: Path, size: int = 32, digit_size: int = 20, val_fraction: float = 0.2,
                                seed: int = 0) -> Tuple[int, int]:
    """Write ``out/{training,validation}/<digit>/<index>.png``: ``size`` x ``size`` grayscale PNGs
    with the digit in the centre (room for the evaluation's centre crop); returns the number of
    training and validation images."""
    images, labels = load_digits()
    train, val = split_indices(labels, val_fraction, seed)
    for split, indices in (("training", train), ("validation", val)):
        for index in indices:
            folder = out / split / str(labels[index])
            folder.mkdir(parents=True, exist_ok=True)
            picture = centred_digit(images[index], size, digit_size)
            if not cv2.imwrite(str(folder / f"{index:04d}.png"), picture):
                raise OSError(f"cannot write {folder / f'{index:04d}.png'}")
    return len(train), len(val)
