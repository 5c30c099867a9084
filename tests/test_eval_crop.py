"""The evaluation crop of classification: the reference's margin by default, the whole image for
small inputs (the digits demo)."""
import numpy as np
import pytest
import torch

from conftest import training_opts
from data.transforms.presets import classification_eval_transform
from helpers_training import DEMO_CONFIG
from utils.errors import ConfigError


def framed_image() -> np.ndarray:
    """64 x 64, black with a white frame 4 pixels wide."""
    image = np.full((64, 64, 3), 255, np.uint8)
    image[4:-4, 4:-4] = 0
    return image


def evaluated(margin: int) -> torch.Tensor:
    opts = training_opts(["--common.config-file", DEMO_CONFIG, "--image-augmentation.center-crop.margin", str(margin)])
    return classification_eval_transform(opts, 48)({"image": framed_image()})["image"]


def test_the_reference_margin_is_the_default_and_cuts_the_border():
    assert getattr(training_opts([]), "image_augmentation.center_crop.margin") == 32
    cut = evaluated(32)  # resized to 80 x 80 (frame 5 pixels), the central 48 x 48 kept: no frame
    assert cut.shape == (3, 48, 48) and cut.max() == 0


def test_margin_zero_keeps_the_whole_image():
    whole = evaluated(0)  # resized to 48 x 48: the frame is 3 pixels wide
    assert whole.shape == (3, 48, 48)
    assert torch.all(whole[:, :2] == 1) and torch.all(whole[:, :, -2:] == 1) and torch.all(whole[:, 4:-4, 4:-4] == 0)


def test_the_demo_evaluates_the_whole_digit():
    assert getattr(training_opts(["--common.config-file", DEMO_CONFIG]), "image_augmentation.center_crop.margin") == 0


def test_a_negative_margin_is_refused_by_name():
    with pytest.raises(ConfigError, match="image_augmentation.center_crop.margin must be at least 0, got -4"):
        evaluated(-4)
