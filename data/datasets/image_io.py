"""Reading image and mask files, whatever their names: the bytes are read by Python (any path the
file system allows) and decoded in memory; a file that decodes only partly is unreadable."""
from __future__ import annotations

import io
import os
import re
import sys
from typing import List, Union

import cv2
import numpy as np

from data.datasets.decoder_output import decoder_output
from utils.errors import DataError
from utils.io import shown

PathLike = Union[str, bytes, os.PathLike]

# decoder messages that say pixels were lost or made up (libjpeg fills what it could not read with grey)
_LOST_DATA = ("Corrupt JPEG data", "Premature end of JPEG file")

# what OpenCV's log puts before a decoder's words: "[ WARN:0@1.2] global grfmt_png.cpp:793 function "
_OPENCV_LOG_PREFIX = re.compile(r"^\[ ?[A-Z]+:\d+@[\d.]+\] global \S+ \S+ ")

# file signatures, to say which data did not decode
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))

# what a mask must be, for the messages that refuse one
MASK_RULE = ("a mask must hold one class index per pixel: a single-channel 8-bit image (grey or palette, "
             "modes L and P) or a 16-bit one whose values fit in 0..255, not colours")


def read_bytes(path: PathLike, kind: str) -> bytes:
    """The content of the ``kind`` ("image", "mask") file ``path``; a :class:`DataError` naming
    it when it cannot be read or is empty."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataError(f"cannot read {kind} {shown(path)}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"cannot read {kind} {shown(path)}: it is a folder") from None
    except OSError as exc:
        raise DataError(f"cannot read {kind} {shown(path)}: {exc.strerror or exc}") from None
    if not data:
        raise DataError(f"cannot read {kind} {shown(path)}: the file is empty")
    return data


def read_image(path: PathLike) -> np.ndarray:
    """Decode an image as the released models were trained: OpenCV, 3 channels in BGR order
    (grayscale replicated, alpha dropped, EXIF orientation applied), uint8.

    Args:
        path: the file; any name the file system allows (``str`` with escaped bytes, ``bytes``, ``Path``).
    Returns:
        H x W x 3 uint8 array.
    Raises:
        DataError: naming the file, when it cannot be read, is not an image OpenCV decodes, claims
            more pixels than OpenCV accepts, or decodes only partly (truncated or corrupt data).
    """
    data = np.frombuffer(read_bytes(path, "image"), np.uint8)
    output: List[str] = []
    try:
        with decoder_output(output):
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV's limit
        reason = str(exc).strip().splitlines()[-1].split("error: ")[-1]
        raise DataError(f"cannot read image {shown(path)}: OpenCV refused it ({reason})") from None
    messages = [_OPENCV_LOG_PREFIX.sub("", line) for line in output]
    if image is None:
        kind = next((name for signature, name in _SIGNATURES if data[:len(signature)].tobytes() == signature), None)
        said = "; ".join(messages) or (f"its {kind} data is truncated or corrupt" if kind else "")
        said = f" ({said})" if said else ""
        raise DataError(f"cannot read image {shown(path)}: not a readable image{said}")
    lost = [line for line in messages if line.startswith(_LOST_DATA)]
    if lost:
        raise DataError(f"cannot read image {shown(path)}: it decodes only partly, the file is truncated or "
                        f"corrupt ({'; '.join(lost)})")
    for line in messages:  # notices about metadata (colour profiles, versions): the pixels are whole
        if sys.stderr is not None:
            print(f"{shown(path)}: {line}", file=sys.stderr)
    return image


def read_mask(path: PathLike) -> np.ndarray:
    """The class indices of a mask file, as stored.

    Args:
        path: the file; any name the file system allows.
    Returns:
        H x W uint8 array: the pixel values of an 8-bit grey image (mode L), the palette indices of
        a palette image (mode P), or the values of a 16-bit image when they all fit in 0..255.
    Raises:
        DataError: naming the file, when it cannot be read or decoded (truncated files included), or
            holds colours or anything else than class indices (see :data:`MASK_RULE`).
    """
    from PIL import Image

    data = read_bytes(path, "mask")
    try:
        with Image.open(io.BytesIO(data)) as mask:
            mode = mask.mode
            values = np.array(mask) if mode in ("L", "P", "I;16", "I;16B", "I;16L", "I") else None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read mask {shown(path)}: {exc}") from None
    if values is None:
        raise DataError(f"cannot use mask {shown(path)}: an image of mode {mode}; {MASK_RULE}")
    if values.dtype != np.uint8:
        if values.size and (values.min() < 0 or values.max() > 255):
            raise DataError(f"cannot use mask {shown(path)}: it holds values up to {int(values.max())}; {MASK_RULE}")
        values = values.astype(np.uint8)
    return values
