"""Writing images under any file name the file system allows: the picture is encoded in memory and
the bytes are written by Python, atomically (:func:`utils.io.write_bytes`)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from utils.errors import DataError
from utils.io import shown, write_bytes


def write_image(path: os.PathLike, image: np.ndarray) -> Path:
    """Write ``image`` (BGR, or one channel; uint8) in the format its name's suffix says.

    Args:
        path: the file; its suffix (``.jpg``, ``.png``, ...) picks OpenCV's encoder.
        image: the picture, as ``cv2.imwrite`` takes it.

    Returns:
        ``path`` as a :class:`Path`.
    """
    path = Path(path)
    encoded, data = cv2.imencode(path.suffix.lower(), image)
    if not encoded:
        raise DataError(f"cannot encode an image for {shown(path)}")
    return write_bytes(data.tobytes(), path)


def write_palette_png(path: os.PathLike, indices: np.ndarray, palette_rgb: Sequence[int]) -> Path:
    """Write ``indices`` (``H x W`` uint8) as a palette PNG whose colour ``i`` is ``palette_rgb[3i:3i+3]``."""
    picture = Image.fromarray(indices.astype(np.uint8), mode="P")
    picture.putpalette(list(palette_rgb))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return write_bytes(buffer.getvalue(), path)
