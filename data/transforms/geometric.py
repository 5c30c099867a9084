"""Geometric transforms: resizing, cropping, flipping, rotation, translation, zoom-out."""
from __future__ import annotations

import argparse
import math
import random
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from data.transforms.base import (INTERPOLATIONS, PIL_BICUBIC, RESIZE_INTERPOLATIONS, TRANSFORM_REGISTRY, Sample, Size,
                                  crop_sample, cv2_interpolation, pair, pil_rgb_crop, resize_interpolation,
                                  resize_sample)
from utils.errors import ConfigError
from utils.opts import add_options


@TRANSFORM_REGISTRY.register("resize")
class Resize:
    """Resize to ``size``: an ``(h, w)`` pair, or an int for the shorter side (aspect ratio kept)."""

    draws = ()

    def __init__(self, opts: Any, size: Size) -> None:
        self.size = size if isinstance(size, int) else pair(size)
        name = getattr(opts, "image_augmentation.resize.interpolation")
        self.interpolation = resize_interpolation(name, "image_augmentation.resize.interpolation")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Resize")
        add_options(group, "--image-augmentation.resize", [
            ("interpolation", "bilinear", "interpolation of fixed resizing (bicubic: PIL's antialiased filter, as "
             "timm uses; cubic: OpenCV's)", dict(choices=list(RESIZE_INTERPOLATIONS))),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        return resize_sample(data, self.size, self.interpolation)

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


@TRANSFORM_REGISTRY.register("center_crop")
class CenterCrop:
    draws = ()

    def __init__(self, opts: Any, size: Size) -> None:
        self.height, self.width = pair(size)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Centre crop (classification evaluation)")
        add_options(group, "--image-augmentation.center-crop", [
            ("margin", 32, "evaluation resizes the shorter side to the crop size plus this many pixels, then keeps "
             "the central crop (32: the reference's rule, 224 of 256 pixels at ImageNet sizes; 0: the whole image)"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        h, w = data["image"].shape[:2]
        return crop_sample(data, (h - self.height) // 2, (w - self.width) // 2, self.height, self.width)

    def __repr__(self) -> str:
        return f"CenterCrop(size=({self.height}, {self.width}))"


@TRANSFORM_REGISTRY.register("random_resized_crop")
class RandomResizedCrop:
    """Crop a random area (``scale``) and aspect ratio, then resize to ``size``.

    With PIL's bicubic filter the crop is resized as a PIL image; when :attr:`hands_over_pil` is set
    (by a chain whose later transforms all take one, see
    :func:`data.transforms.classification_training_transforms`), the result stays an RGB PIL image
    for them instead of coming back to a BGR array: the pixels are the same, the copies fewer.
    """

    draws = ("python",)

    def __init__(self, opts: Any, size: Size) -> None:
        self.size = pair(size)
        self.scale = tuple(getattr(opts, "image_augmentation.random_resized_crop.scale"))
        ratio = tuple(getattr(opts, "image_augmentation.random_resized_crop.aspect_ratio"))
        if len(self.scale) != 2 or not 0.0 <= self.scale[0] < self.scale[1]:
            raise ConfigError(f"image_augmentation.random_resized_crop.scale must be (low, high) with "
                              f"0 <= low < high, got {self.scale}")
        if len(ratio) != 2 or not 0.0 < ratio[0] < ratio[1]:
            raise ConfigError(f"image_augmentation.random_resized_crop.aspect_ratio must be (low, high) with "
                              f"0 < low < high, got {ratio}")
        self.ratio = (round(ratio[0], 3), round(ratio[1], 3))
        name = getattr(opts, "image_augmentation.random_resized_crop.interpolation")
        self.interpolation = resize_interpolation(name, "image_augmentation.random_resized_crop.interpolation")
        self.hands_over_pil = False

    @property
    def can_hand_over_pil(self) -> bool:
        """Whether the crop can come out as an RGB PIL image (it is resized by PIL)."""
        return self.interpolation == PIL_BICUBIC

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random resized crop")
        add_options(group, "--image-augmentation.random-resized-crop", [
            ("enable", False, "random resized crop"),
            ("interpolation", "bilinear", "interpolation of the resize", dict(choices=list(RESIZE_INTERPOLATIONS))),
            ("scale", [0.08, 1.0], "range of the cropped area, as a fraction of the image", dict(nargs=2)),
            ("aspect-ratio", [3 / 4, 4 / 3], "range of the crop's aspect ratio", dict(nargs=2)),
        ])
        return parser

    def get_params(self, height: int, width: int) -> Tuple[int, int, int, int]:
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = random.uniform(*self.scale) * area
            aspect = math.exp(random.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return random.randint(0, height - h), random.randint(0, width - w), h, w
        # fall back to a central crop of the allowed aspect ratio
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, data: Sample) -> Sample:
        top, left, h, w = self.get_params(*data["image"].shape[:2])
        if self.hands_over_pil and data.get("mask") is None:
            from PIL import Image

            crop = pil_rgb_crop(data["image"], top, left, h, w)
            data["image"] = crop.resize(self.size[::-1], Image.Resampling.BICUBIC)
            return data
        return resize_sample(crop_sample(data, top, left, h, w), self.size, self.interpolation)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


@TRANSFORM_REGISTRY.register("random_crop")
class RandomCrop:
    """Crop ``size`` at a random place; smaller inputs are first padded (mask with ``mask_fill``) or,
    with ``resize_if_needed``, resized up keeping their aspect ratio."""

    draws = ("python",)

    def __init__(self, opts: Any, size: Size) -> None:
        self.height, self.width = pair(size)
        self.mask_fill = int(getattr(opts, "image_augmentation.random_crop.mask_fill"))
        self.resize_if_needed = bool(getattr(opts, "image_augmentation.random_crop.resize_if_needed"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random crop")
        add_options(group, "--image-augmentation.random-crop", [
            ("enable", False, "random cropping"),
            ("mask-fill", 255, "mask value of padded pixels"),
            ("resize-if-needed", False, "resize small inputs up instead of padding them"),
        ])
        return parser

    def _pad(self, data: Sample) -> Sample:
        h, w = data["image"].shape[:2]
        pad_h, pad_w = max(0, self.height - h), max(0, self.width - w)
        if pad_h or pad_w:
            data["image"] = cv2.copyMakeBorder(data["image"], 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
            if data.get("mask") is not None:
                data["mask"] = cv2.copyMakeBorder(data["mask"], 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                                  value=self.mask_fill)
        return data

    def _resize(self, data: Sample) -> Sample:
        h, w = data["image"].shape[:2]
        return resize_sample(data, min(max(h, self.height), max(w, self.width)), cv2.INTER_LINEAR)

    def __call__(self, data: Sample) -> Sample:
        data = self._resize(data) if self.resize_if_needed else self._pad(data)
        h, w = data["image"].shape[:2]
        if (h, w) == (self.height, self.width):
            return data
        top, left = random.randint(0, h - self.height), random.randint(0, w - self.width)
        return crop_sample(data, top, left, self.height, self.width)

    def __repr__(self) -> str:
        return f"RandomCrop(size=({self.height}, {self.width}), resize_if_needed={self.resize_if_needed})"


@TRANSFORM_REGISTRY.register("random_resize")
class RandomResize:
    """Resize the shorter side to a random size in ``[min_size, max_size]``."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        self.min_size = int(getattr(opts, "image_augmentation.random_resize.min_size"))
        self.max_size = int(getattr(opts, "image_augmentation.random_resize.max_size"))
        if not 0 < self.min_size <= self.max_size:
            raise ConfigError(f"image_augmentation.random_resize needs 0 < min_size <= max_size, "
                              f"got {self.min_size} and {self.max_size}")
        name = getattr(opts, "image_augmentation.random_resize.interpolation")
        self.interpolation = resize_interpolation(name, "image_augmentation.random_resize.interpolation")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random resize")
        add_options(group, "--image-augmentation.random-resize", [
            ("enable", False, "random resizing"),
            ("min-size", 256, "smallest shorter side"),
            ("max-size", 1024, "largest shorter side"),
            ("interpolation", "bilinear", "interpolation", dict(choices=list(RESIZE_INTERPOLATIONS))),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        return resize_sample(data, random.randint(self.min_size, self.max_size), self.interpolation)

    def __repr__(self) -> str:
        return f"RandomResize(min_size={self.min_size}, max_size={self.max_size})"


@TRANSFORM_REGISTRY.register("random_scale")
class RandomScale:
    """Scale both sides by a random factor in ``[min_scale, max_scale]``."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        self.min_scale = float(getattr(opts, "image_augmentation.random_scale.min_scale"))
        self.max_scale = float(getattr(opts, "image_augmentation.random_scale.max_scale"))
        name = getattr(opts, "image_augmentation.random_scale.interpolation")
        self.interpolation = resize_interpolation(name, "image_augmentation.random_scale.interpolation")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random scale")
        add_options(group, "--image-augmentation.random-scale", [
            ("enable", False, "random scaling"),
            ("min-scale", 0.5, "min factor"),
            ("max-scale", 2.0, "max factor"),
            ("interpolation", "bilinear", "interpolation", dict(choices=list(RESIZE_INTERPOLATIONS))),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        scale = random.uniform(self.min_scale, self.max_scale)
        h, w = data["image"].shape[:2]
        return resize_sample(data, (int(h * scale), int(w * scale)), self.interpolation)

    def __repr__(self) -> str:
        return f"RandomScale(min_scale={self.min_scale}, max_scale={self.max_scale})"


def _flip(data: Sample, horizontal: bool) -> Sample:
    if not isinstance(data["image"], np.ndarray):  # an RGB PIL image: a classification sample, image alone
        from PIL import Image

        axis = Image.Transpose.FLIP_LEFT_RIGHT if horizontal else Image.Transpose.FLIP_TOP_BOTTOM
        data["image"] = data["image"].transpose(axis)
        return data
    code = 1 if horizontal else 0
    img = cv2.flip(data["image"], code)
    data["image"] = img
    if data.get("mask") is not None:
        data["mask"] = cv2.flip(data["mask"], code)
    instances = data.get("instance_masks")  # N x H x W
    if instances is not None:
        data["instance_masks"] = np.ascontiguousarray(instances[:, :, ::-1] if horizontal else instances[:, ::-1])
    boxes = data.get("box_coordinates")
    if boxes is not None:
        boxes = boxes.copy()
        if horizontal:
            boxes[:, [0, 2]] = img.shape[1] - boxes[:, [2, 0]]
        else:
            boxes[:, [1, 3]] = img.shape[0] - boxes[:, [3, 1]]
        data["box_coordinates"] = boxes
    return data


class _RandomAxisFlip:
    """Flip along one axis with probability ``image_augmentation.<name>.p``."""

    name = ""
    horizontal = True
    draws = ("python",)
    takes_pil = True  # an RGB PIL image is flipped as one

    def __init__(self, opts: Any) -> None:
        self.p = float(getattr(opts, f"image_augmentation.{self.name}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        option = "--image-augmentation." + cls.name.replace("_", "-")
        axis = "horizontal" if cls.horizontal else "vertical"
        group = parser.add_argument_group(f"Random {axis} flip")
        add_options(group, option, [("enable", False, f"random {axis} flips"), ("p", 0.5, "probability of a flip")])
        return parser

    def __call__(self, data: Sample) -> Sample:
        return _flip(data, horizontal=self.horizontal) if random.random() < self.p else data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


@TRANSFORM_REGISTRY.register("random_horizontal_flip")
class RandomHorizontalFlip(_RandomAxisFlip):
    name, horizontal = "random_horizontal_flip", True


@TRANSFORM_REGISTRY.register("random_vertical_flip")
class RandomVerticalFlip(_RandomAxisFlip):
    name, horizontal = "random_vertical_flip", False


@TRANSFORM_REGISTRY.register("random_flip")
class RandomFlip:
    """With equal chances: a vertical flip, a horizontal flip, or none."""

    draws = ("python",)
    takes_pil = True  # an RGB PIL image is flipped as one

    def __init__(self, opts: Any) -> None:
        pass

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random flip")
        add_options(group, "--image-augmentation.random-flip", [
            ("enable", False, "random horizontal or vertical flips"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        choice = random.choice((0, 1, 2))
        return data if choice == 2 else _flip(data, horizontal=choice == 1)

    def __repr__(self) -> str:
        return "RandomFlip()"


@TRANSFORM_REGISTRY.register("random_rotate")
class RandomRotate:
    """Rotate by an angle drawn from ``(-angle, angle)`` with probability ``p``."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        self.angle = float(getattr(opts, "image_augmentation.random_rotate.angle"))
        self.fill_mask = int(getattr(opts, "image_augmentation.random_rotate.fill_mask"))
        self.p = float(getattr(opts, "image_augmentation.random_rotate.p"))
        name = getattr(opts, "image_augmentation.random_rotate.interpolation")
        self.interpolation = cv2_interpolation(name, "image_augmentation.random_rotate.interpolation")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random rotation")
        add_options(group, "--image-augmentation.random-rotate", [
            ("enable", False, "random rotations"),
            ("angle", 10.0, "largest angle in degrees"),
            ("fill-mask", 255, "mask value of pixels rotated in from outside"),
            ("interpolation", "bilinear", "interpolation", dict(choices=list(INTERPOLATIONS))),
            ("p", 0.5, "probability of a rotation"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if random.random() > self.p:
            return data
        h, w = data["image"].shape[:2]
        matrix = cv2.getRotationMatrix2D(center=(w / 2, h / 2), angle=random.uniform(-self.angle, self.angle),
                                         scale=1)
        data["image"] = cv2.warpAffine(data["image"], matrix, (w, h), flags=self.interpolation, borderValue=0)
        if data.get("mask") is not None:
            data["mask"] = cv2.warpAffine(data["mask"], matrix, (w, h), flags=cv2.INTER_NEAREST,
                                          borderValue=self.fill_mask)
        return data

    def __repr__(self) -> str:
        return f"RandomRotate(angle={self.angle}, p={self.p})"


@TRANSFORM_REGISTRY.register("random_translate")
class RandomTranslate:
    """Shift the content by up to ``factor`` of each side, towards the bottom-right or the top-left."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        self.factor = float(getattr(opts, "image_augmentation.random_translate.factor"))
        if not 0.0 < self.factor < 0.5:
            raise ConfigError(f"image_augmentation.random_translate.factor must be in (0, 0.5), got {self.factor}")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random translation")
        add_options(group, "--image-augmentation.random-translate", [
            ("enable", False, "random translations"),
            ("factor", 0.2, "largest shift as a fraction of the side"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        h, w = data["image"].shape[:2]
        th = int(math.ceil(random.uniform(0, self.factor) * h))
        tw = int(math.ceil(random.uniform(0, self.factor) * w))
        forward = random.random() <= 0.5
        for key in ("image", "mask"):
            src = data.get(key)
            if src is None:
                continue
            out = np.zeros_like(src)
            if forward:
                out[th:, tw:] = src[:h - th, :w - tw]
            else:
                out[:h - th, :w - tw] = src[th:, tw:]
            data[key] = out
        return data

    def __repr__(self) -> str:
        return f"RandomTranslate(factor={self.factor})"


@TRANSFORM_REGISTRY.register("random_zoom_out")
class RandomZoomOut:
    """Place the image at a random spot of a mid-grey canvas ``ratio`` times larger (``ratio`` drawn
    from ``side_range``), moving the boxes with it; applied with probability ``p``."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        self.side_range = tuple(getattr(opts, "image_augmentation.random_zoom_out.side_range"))
        self.p = float(getattr(opts, "image_augmentation.random_zoom_out.p"))
        if len(self.side_range) != 2 or not 1.0 <= self.side_range[0] <= self.side_range[1]:
            raise ConfigError(f"image_augmentation.random_zoom_out.side_range must be (low, high) with "
                              f"1 <= low <= high, got {self.side_range}")
        self.fill = 128

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random zoom out")
        add_options(group, "--image-augmentation.random-zoom-out", [
            ("enable", False, "random zoom out (detection)"),
            ("side-range", [1.0, 4.0], "range of the canvas side relative to the image", dict(nargs=2)),
            ("p", 0.5, "probability of a zoom out"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if random.random() > self.p:
            return data
        img = data["image"]
        h, w, c = img.shape
        ratio = random.uniform(*self.side_range)
        left = int(random.uniform(0, w * ratio - w))
        top = int(random.uniform(0, h * ratio - h))
        canvas = np.full((int(h * ratio), int(w * ratio), c), self.fill, dtype=img.dtype)
        canvas[top:top + h, left:left + w] = img
        data["image"] = canvas
        boxes = data.get("box_coordinates")
        if boxes is not None:
            boxes = boxes.copy()
            boxes[:, :2] += (left, top)
            boxes[:, 2:] += (left, top)
            data["box_coordinates"] = boxes
        return data

    def __repr__(self) -> str:
        return f"RandomZoomOut(side_range={self.side_range}, p={self.p})"


def _box_iou(boxes: np.ndarray, rect: np.ndarray) -> np.ndarray:
    lt = np.maximum(boxes[:, :2], rect[:2])
    rb = np.minimum(boxes[:, 2:], rect[2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area_boxes = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_rect = (rect[2] - rect[0]) * (rect[3] - rect[1])
    return inter / (area_boxes + area_rect - inter)


@TRANSFORM_REGISTRY.register("ssd_cropping")
class SSDCropping:
    """SSD's random crop: pick a minimum IoU (or no crop), then try crops of 0.3-1 of each side and
    aspect 0.5-2 until one overlaps a box by that IoU and contains some box centres; keep those
    boxes, clipped to the crop."""

    draws = ("python",)
    min_ious = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)

    def __init__(self, opts: Any, trials: int = 40, max_rounds: int = 50) -> None:
        self.trials, self.max_rounds = trials, max_rounds

    def _try_crop(self, data: Sample, min_iou: float) -> Optional[Sample]:
        image, boxes, labels = data["image"], data["box_coordinates"], data["box_labels"]
        height, width = image.shape[:2]
        for _ in range(self.trials):
            w = random.uniform(0.3 * width, width)
            h = random.uniform(0.3 * height, height)
            if not 0.5 <= h / w <= 2.0:
                continue
            left, top = random.uniform(0, width - w), random.uniform(0, height - h)
            rect = np.array([int(left), int(top), int(left + w), int(top + h)])
            if _box_iou(boxes, rect).max() < min_iou:
                continue
            centers = (boxes[:, :2] + boxes[:, 2:]) * 0.5
            keep = ((rect[0] < centers[:, 0]) & (rect[1] < centers[:, 1]) &
                    (rect[2] > centers[:, 0]) & (rect[3] > centers[:, 1]))
            if not keep.any():
                continue
            kept = boxes[keep].copy()
            kept[:, :2] = np.maximum(kept[:, :2], rect[:2]) - rect[:2]
            kept[:, 2:] = np.minimum(kept[:, 2:], rect[2:]) - rect[:2]
            data["image"] = image[rect[1]:rect[3], rect[0]:rect[2]]
            data["box_coordinates"], data["box_labels"] = kept, labels[keep]
            return data
        return None

    def __call__(self, data: Sample) -> Sample:
        boxes = data.get("box_coordinates")
        if boxes is None or len(boxes) == 0:
            return data
        for _ in range(self.max_rounds):
            min_iou = random.choice(self.min_ious)
            if min_iou == 0.0:
                return data
            cropped = self._try_crop(data, min_iou)
            if cropped is not None:
                return cropped
        return data

    def __repr__(self) -> str:
        return f"SSDCropping(trials={self.trials})"


@TRANSFORM_REGISTRY.register("box_percent_coords")
class BoxPercentCoords:
    """Express box coordinates as fractions of the image width and height."""

    draws = ()

    def __init__(self, opts: Any) -> None:
        pass

    def __call__(self, data: Sample) -> Sample:
        boxes = data.get("box_coordinates")
        if boxes is not None:
            h, w = data["image"].shape[:2]
            boxes = boxes.astype(np.float32, copy=True)
            boxes[:, 0::2] /= w
            boxes[:, 1::2] /= h
            data["box_coordinates"] = boxes
        return data

    def __repr__(self) -> str:
        return "BoxPercentCoords()"

