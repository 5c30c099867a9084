"""Photometric transforms: gamma, blur, JPEG artefacts, noise and SSD's photometric distortion."""
from __future__ import annotations

import argparse
import random
from typing import Any

import cv2
import numpy as np

from data.transforms.base import TRANSFORM_REGISTRY, Sample, check_range
from utils.errors import ConfigError
from utils.opts import add_options


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).astype(np.uint8)


@TRANSFORM_REGISTRY.register("random_gamma_correction")
class RandomGammaCorrection:
    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        key = "image_augmentation.random_gamma_correction"
        self.gamma = check_range(getattr(opts, f"{key}.gamma"), f"{key}.gamma", 0.0)
        self.p = float(getattr(opts, f"{key}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random gamma correction")
        add_options(group, "--image-augmentation.random-gamma-correction", [
            ("enable", False, "random gamma correction"),
            ("gamma", [0.5, 1.5], "range of gamma", dict(nargs=2)),
            ("p", 0.5, "probability of a correction"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if random.random() < self.p:
            gamma = random.uniform(*self.gamma)
            table = (((np.arange(256) / 255.0) ** gamma) * 255).astype(np.uint8)
            data["image"] = cv2.LUT(data["image"], table)
        return data

    def __repr__(self) -> str:
        return f"RandomGammaCorrection(gamma={self.gamma}, p={self.p})"


BLUR_TYPES = ("gauss", "median", "average", "any", "none")


@TRANSFORM_REGISTRY.register("random_blur")
class RandomBlur:
    """Gaussian, median or box blur with odd kernels drawn from ``kernel_size``."""

    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        key = "image_augmentation.random_blur"
        self.kernel_range = tuple(int(k) for k in check_range(getattr(opts, f"{key}.kernel_size"),
                                                              f"{key}.kernel_size", 1))
        self.kind = getattr(opts, f"{key}.kernel_type")
        if self.kind not in BLUR_TYPES:
            raise ConfigError(f"{key}.kernel_type: choose one of {', '.join(BLUR_TYPES)}, got {self.kind!r}")
        self.p = float(getattr(opts, f"{key}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random blur")
        add_options(group, "--image-augmentation.random-blur", [
            ("enable", False, "random blurring"),
            ("kernel-size", [3, 7], "range of kernel sizes (made odd)", dict(nargs=2)),
            ("kernel-type", "any", "blur filter", dict(choices=BLUR_TYPES)),
            ("p", 0.5, "probability of a blur"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if self.kind == "none" or random.random() > self.p:
            return data
        kx = random.randint(*self.kernel_range) // 2 * 2 + 1
        ky = random.randint(*self.kernel_range) // 2 * 2 + 1
        kind = random.choice(BLUR_TYPES[:3]) if self.kind == "any" else self.kind
        img = data["image"]
        if kind == "gauss":
            img = cv2.GaussianBlur(img, (kx, ky), sigmaX=0)
        elif kind == "median":
            img = cv2.medianBlur(img, kx if random.random() < 0.5 else ky)
        else:
            img = cv2.blur(img, (kx, ky))
        data["image"] = img
        return data

    def __repr__(self) -> str:
        return f"RandomBlur(kernel_range={self.kernel_range}, type={self.kind}, p={self.p})"


@TRANSFORM_REGISTRY.register("random_jpeg_compress")
class RandomJPEGCompress:
    draws = ("python",)

    def __init__(self, opts: Any) -> None:
        key = "image_augmentation.random_jpeg_compress"
        self.quality = check_range(getattr(opts, f"{key}.q_factor"), f"{key}.q_factor", 0, 100)
        self.p = float(getattr(opts, f"{key}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random JPEG compression")
        add_options(group, "--image-augmentation.random-jpeg-compress", [
            ("enable", False, "random JPEG compression"),
            ("q-factor", [5, 25], "range of JPEG quality", dict(nargs=2)),
            ("p", 0.5, "probability of a compression"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if random.random() < self.p:
            quality = int(random.uniform(*self.quality))
            ok, encoded = cv2.imencode(".jpg", data["image"], [int(cv2.IMWRITE_JPEG_QUALITY), quality])
            if ok:
                data["image"] = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        return data

    def __repr__(self) -> str:
        return f"RandomJPEGCompress(quality={self.quality}, p={self.p})"


@TRANSFORM_REGISTRY.register("random_gauss_noise")
class RandomGaussianNoise:
    draws = ("python", "numpy")

    def __init__(self, opts: Any) -> None:
        key = "image_augmentation.random_gauss_noise"
        self.sigma = check_range(getattr(opts, f"{key}.sigma"), f"{key}.sigma", 0.0)
        self.p = float(getattr(opts, f"{key}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random Gaussian noise")
        add_options(group, "--image-augmentation.random-gauss-noise", [
            ("enable", False, "random Gaussian noise"),
            ("sigma", [0.03, 0.1], "range of the noise std (fraction of 255)", dict(nargs=2)),
            ("p", 0.5, "probability of adding noise"),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        if random.random() < self.p:
            std = random.uniform(*self.sigma)
            img = data["image"]
            data["image"] = _to_uint8(img + np.random.normal(0.0, std, img.shape) * 255)
        return data

    def __repr__(self) -> str:
        return f"RandomGaussianNoise(sigma={self.sigma}, p={self.p})"


@TRANSFORM_REGISTRY.register("photo_metric_distort")
class PhotometricDistort:
    """SSD's photometric distortion: random contrast and brightness, saturation and hue (in HSV),
    contrast again if it was not applied first, and a random channel permutation; each with
    probability ``p``."""

    draws = ("python", "numpy")

    def __init__(self, opts: Any) -> None:
        key = "image_augmentation.photo_metric_distort"
        self.alpha = check_range((getattr(opts, f"{key}.alpha_min"), getattr(opts, f"{key}.alpha_max")),
                                 f"{key}.alpha_min/max", 0.0)
        self.beta = check_range((getattr(opts, f"{key}.beta_min"), getattr(opts, f"{key}.beta_max")),
                                f"{key}.beta_min/max", -0.5, 0.5)
        self.gamma = check_range((getattr(opts, f"{key}.gamma_min"), getattr(opts, f"{key}.gamma_max")),
                                 f"{key}.gamma_min/max", 0.0)
        self.delta = check_range((getattr(opts, f"{key}.delta_min"), getattr(opts, f"{key}.delta_max")),
                                 f"{key}.delta_min/max", -1.0, 1.0)
        self.p = float(getattr(opts, f"{key}.p"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Photometric distortion")
        factors = [(f"{letter}-{end}", default, f"{end} of the {what} factor")
                   for letter, what, low, high in (("alpha", "contrast", 0.5, 1.5), ("beta", "brightness", -0.2, 0.2),
                                                   ("gamma", "saturation", 0.5, 1.5), ("delta", "hue", -0.05, 0.05))
                   for end, default in (("min", low), ("max", high))]
        add_options(group, "--image-augmentation.photo-metric-distort", [
            ("enable", False, "photometric distortion"), *factors, ("p", 0.5, "probability of each distortion")])
        return parser

    def __call__(self, data: Sample) -> Sample:
        draws = np.random.rand(6)
        image = data["image"].astype(np.float32)
        alpha = random.uniform(*self.alpha) if draws[0] < self.p else 1.0
        image *= alpha
        image += random.uniform(*self.beta) * 255 if draws[1] < self.p else 0.0
        hsv = cv2.cvtColor(_to_uint8(image), cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 1] *= random.uniform(*self.gamma) if draws[2] < self.p else 1.0
        hsv[..., 0] += int(random.uniform(*self.delta) * 255) if draws[3] < self.p else 0.0
        image = cv2.cvtColor(_to_uint8(hsv), cv2.COLOR_HSV2BGR)
        if alpha == 1.0 and draws[4] < self.p:
            image = _to_uint8(image.astype(np.float32) * random.uniform(*self.alpha))
        if draws[5] < self.p:
            image = image[..., np.random.permutation(image.shape[-1])]
        data["image"] = np.ascontiguousarray(image)
        return data

    def __repr__(self) -> str:
        return f"PhotometricDistort(p={self.p})"
