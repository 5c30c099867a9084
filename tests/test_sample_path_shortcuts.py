"""The classification training sample path's shortcuts give the pixels and draws of the long way:
the crop handed to PIL in one unpacking, the crop kept as an RGB PIL image through the flips and
RandAugment, its planes packed by PIL, random erasing's probability test in Python."""
import random

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import training_opts
from data.transforms import (RandomErase, RandomFlip, RandomHorizontalFlip, RandomVerticalFlip, build_transform,
                             classification_training_transforms)
from data.transforms.base import pil_rgb_crop
from data.transforms.tensor import InputConvention

CONVNEXT = "config/classification/parc_convnets/parc_convnext_xt.yaml"
EDGEFORMER = "config/classification/edgeformer/edgeformer_s.yaml"


def photo(height, width, seed=0):
    """A smooth colour field with noise: bicubic resizing rounds differently at every pixel."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)


def rgb_pil(bgr):
    return Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))


def test_one_unpacking_crop_is_the_crop_in_rgb():
    image = photo(61, 83)
    rng = np.random.default_rng(1)
    boxes = [(0, 0, 61, 83), (60, 82, 1, 1), (0, 82, 61, 1), (60, 0, 1, 83), (13, 40, 48, 43)]  # corners, edges
    boxes += [(int(t), int(l), int(rng.integers(1, 62 - t)), int(rng.integers(1, 84 - l)))
              for t, l in zip(rng.integers(0, 61, 40), rng.integers(0, 83, 40))]
    for top, left, height, width in boxes:
        crop = pil_rgb_crop(image, top, left, height, width)
        assert crop.mode == "RGB" and crop.size == (width, height)
        assert np.array_equal(np.asarray(crop), image[top:top + height, left:left + width, ::-1])
    view = image[5:, 7:]  # a view that is not contiguous: cropped as it reads
    assert np.array_equal(np.asarray(pil_rgb_crop(view, 3, 2, 10, 11)), view[3:13, 2:13, ::-1])
    with pytest.raises(ValueError, match="expected an H x W x 3 uint8 image"):
        pil_rgb_crop(image[..., 0], 0, 0, 2, 2)


def crop_pair(*args):
    """The random resized crop of a config, handing over a PIL image and not."""
    opts = training_opts(["--common.config-file", CONVNEXT, *args])
    handing, returning = (build_transform("random_resized_crop", opts, (40, 48)) for _ in range(2))
    handing.hands_over_pil = True
    return handing, returning


@pytest.mark.parametrize("shape", [(120, 90), (30, 26)])  # shrinking and, mostly, enlarging crops
def test_crop_handed_over_as_pil_has_the_pixels_of_the_array_crop(shape):
    handing, returning = crop_pair()
    image = photo(*shape, seed=shape[0])
    for seed in range(40):
        random.seed(seed)
        handed = handing({"image": image})["image"]
        random.seed(seed)
        returned = returning({"image": image})["image"]
        assert isinstance(handed, Image.Image) and handed.mode == "RGB" and isinstance(returned, np.ndarray)
        assert np.array_equal(np.asarray(handed), returned[..., ::-1])


def test_crop_with_a_mask_stays_arrays():
    handing, _ = crop_pair()
    sample = handing({"image": photo(50, 60), "mask": np.zeros((50, 60), np.uint8)})
    assert isinstance(sample["image"], np.ndarray) and sample["image"].shape == (40, 48, 3)
    assert sample["mask"].shape == (40, 48)


@pytest.mark.parametrize("flip", [RandomHorizontalFlip, RandomVerticalFlip, RandomFlip])
def test_flips_of_pil_images_are_the_flips_of_arrays(flip):
    opts = training_opts(["--common.config-file", CONVNEXT, "--image-augmentation.random-horizontal-flip.p", "1",
                          "--image-augmentation.random-vertical-flip.p", "1"])
    transform, image = flip(opts), photo(9, 14)
    for seed in range(12):
        random.seed(seed)
        flipped = transform({"image": rgb_pil(image)})["image"]
        random.seed(seed)
        expected = transform({"image": image.copy()})["image"]
        assert isinstance(flipped, Image.Image) and np.array_equal(np.asarray(flipped), expected[..., ::-1])


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_planes_packed_by_pil_are_the_transposed_pixels(order):
    image = photo(17, 23)
    tensor = InputConvention(order).to_uint8(rgb_pil(image))
    assert tensor.dtype == torch.uint8 and tensor.shape == (3, 17, 23) and tensor.is_contiguous()
    assert torch.equal(tensor, InputConvention(order).to_uint8(image))  # the array path: BGR in, transposed
    expected = image[..., ::-1] if order == "rgb" else image
    assert np.array_equal(tensor.numpy(), expected.transpose(2, 0, 1))


def chains(config, *args):
    opts = training_opts(["--common.config-file", config, *args])
    made = [classification_training_transforms(opts, build_transform("random_resized_crop", opts, (32, 32)),
                                               (32, 32)) for _ in range(2)]
    return made[0], made[1]


def test_recipe_chain_keeps_a_pil_image_from_the_crop_to_the_tensor_with_the_same_samples():
    fast, slow = chains(CONVNEXT, "--image-augmentation.random-erase.mode", "const")
    assert fast.transforms[0].hands_over_pil
    slow.transforms[0].hands_over_pil = False  # the long way: arrays until RandAugment
    image = photo(75, 100)
    for seed in range(60):
        outputs = []
        for chain in (fast, slow):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            outputs.append(chain({"image": image.copy()}))
        assert torch.equal(outputs[0]["image"], outputs[1]["image"])
        assert torch.equal(outputs[0]["erase"]["box"], outputs[1]["erase"]["box"])


@pytest.mark.parametrize("args", [
    ("--image-augmentation.random-resized-crop.interpolation", "bilinear"),  # resized by OpenCV: arrays
    ("--image-augmentation.random-rotate.enable", "true"),  # a transform of arrays after the crop
])
def test_no_pil_hand_over_where_the_crop_is_not_resized_by_pil_or_an_array_transform_follows(args):
    chain, _ = chains(CONVNEXT, *args)
    assert not chain.transforms[0].hands_over_pil
    sample = chain({"image": photo(50, 60)})
    assert sample["image"].dtype == torch.uint8 and sample["image"].shape == (3, 32, 32)


def test_bgr_models_get_planes_in_bgr_from_a_handed_over_crop():
    fast, slow = chains(EDGEFORMER, "--image-augmentation.random-resized-crop.interpolation", "bicubic")
    assert fast.transforms[0].hands_over_pil and InputConvention.from_opts(
        training_opts(["--common.config-file", EDGEFORMER])).channel_order == "bgr"
    slow.transforms[0].hands_over_pil = False
    image = photo(40, 50)
    for seed in range(10):
        random.seed(seed)
        fast_image = fast({"image": image.copy()})["image"]
        random.seed(seed)
        assert torch.equal(fast_image, slow({"image": image.copy()})["image"])


@pytest.mark.parametrize("p", [0.25, 0.1, 0.7, 0.3, 1 / 3, 0.9999999])
def test_erasing_probability_test_in_python_is_torchvisions_float32_test(p):
    """torchvision tests ``torch.rand(1) < p``: p rounded to float32. The draws next to p decide."""
    transform = RandomErase(training_opts(["--common.config-file", CONVNEXT, "--image-augmentation.random-erase.p",
                                           str(p)]))
    nearest = np.float32(p)
    draws = [nearest, np.nextafter(nearest, np.float32(0)), np.nextafter(nearest, np.float32(1)), np.float32(0)]
    for draw in draws:
        assert (float(draw) < transform.threshold) == bool(torch.tensor([draw]) < p), (p, draw)
