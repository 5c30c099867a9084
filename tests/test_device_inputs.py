"""Loading processes ship uint8 images; the training step and evaluate() scale, normalise and erase
them on the device. For every config the model sees what the float pipeline (a float tensor made in
the loading process, erased there by torchvision, every generator seeded per sample) gave."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FIXTURES, ROOT, training_opts
from data import collate_samples
from data.datasets import ImageNetDataset, read_image
from data.transforms import DeviceNormaliser, InputConvention, RandomErase, ToTensor, ToUint8Tensor
from data.transforms.presets import classification_eval_transform
from engine.loop_helpers import BatchInputs

CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "config").rglob("*.yaml"))
CLASSIFICATION = [c for c in CONFIGS if c.startswith("config/classification/")]
CPU = torch.device("cpu")


def by_hand(image: np.ndarray, opts) -> torch.Tensor:
    """The float input of a BGR uint8 image per the config's convention, computed in float64."""
    convention = InputConvention.from_opts(opts)
    pixels = image[..., ::-1] if convention.channel_order == "rgb" else image
    values = pixels.astype(np.float64) / 255
    if convention.mean is not None:
        values = (values - np.array(convention.mean)) / np.array(convention.std)
    return torch.from_numpy(values.transpose(2, 0, 1).copy())


@pytest.mark.parametrize("config", CONFIGS)
def test_uint8_images_normalised_on_the_device_are_the_float_inputs(config):
    opts = training_opts(["--common.config-file", config])
    image = np.random.default_rng(0).integers(0, 256, (13, 17, 3), dtype=np.uint8)
    expected = by_hand(image, opts)
    as_bytes = ToUint8Tensor(opts)({"image": image})["image"]
    from_pil = ToUint8Tensor(opts)({"image": Image.fromarray(image[..., ::-1].copy())})["image"]  # RGB PIL
    assert as_bytes.dtype == torch.uint8 and torch.equal(as_bytes, from_pil)
    batch = torch.stack([as_bytes, as_bytes])
    on_device = DeviceNormaliser(InputConvention.from_opts(opts))(batch)
    assert on_device.dtype == torch.float32
    assert float((on_device - expected).abs().max()) <= 1e-6
    assert float((ToTensor(opts)({"image": image})["image"] - expected).abs().max()) <= 1e-6


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """The fixture photos as a two-class image folder."""
    root = tmp_path_factory.mktemp("photos")
    for index, path in enumerate(sorted((FIXTURES / "photos").glob("*.jpg"))):
        folder = root / str(index % 2)
        folder.mkdir(exist_ok=True)
        (folder / path.name).write_bytes(path.read_bytes())
    return root


class _TorchvisionErasing:
    """Random erasing as the float pipeline did it: torchvision's transform of the float tensor."""

    def __init__(self, erase: RandomErase) -> None:
        from torchvision.transforms import v2

        self.erase = v2.RandomErasing(p=erase.p, scale=(0.02, 1 / 3), ratio=(0.3, 1 / 0.3),
                                      value="random" if erase.mode == "pixel" else 0.0)

    def __call__(self, data):
        data["image"] = self.erase(data["image"])
        return data


def float_pipeline(opts, chain):
    """``chain`` with the float tensor conversion and erasing of the loading process."""
    swapped = []
    for transform in chain.transforms:
        if isinstance(transform, ToUint8Tensor):
            transform = ToTensor(opts)
        elif isinstance(transform, RandomErase):
            transform = _TorchvisionErasing(transform)
        swapped.append(transform)
    return swapped


def float_sample(opts, transforms, path, seed):
    """One sample of the float pipeline, every generator seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    data = {"image": read_image(path)}
    for transform in transforms:
        data = transform(data)
    return data["image"]


@pytest.mark.parametrize("config", CLASSIFICATION)
def test_training_and_validation_batches_are_the_float_pipelines(config, photo_folder):
    extra = ["--image-augmentation.random-erase.p", "0.5"] if "parc_convnets" in config else []
    opts = training_opts(["--common.config-file", config, "--dataset.root-train", str(photo_folder),
                          "--dataset.root-val", str(photo_folder), *extra])
    size = (64, 80)
    training = ImageNetDataset(opts, is_training=True)
    reference = float_pipeline(opts, training.training_transforms(size))  # a chain of its own
    seeds = [(index, 1000 + 7 * index + round) for round in range(3) for index in range(len(training))]
    batch = collate_samples([training[(*size, index, seed)] for index, seed in seeds])
    assert batch["image"].dtype == torch.uint8
    inputs = BatchInputs(opts)(batch, CPU)
    for row, (index, seed) in enumerate(seeds):
        expected = float_sample(opts, reference, training.samples[index][0], seed)
        assert float((inputs[row] - expected).abs().max()) <= 1e-6, (index, seed)
    if getattr(opts, "image_augmentation.random_erase.enable"):  # the recipe's pixel mode: a state per erased image
        assert int(batch["erase"]["rng"].any(dim=1).sum()) > 0
    validation = ImageNetDataset(opts, is_training=False)
    inputs = BatchInputs(opts)(collate_samples([validation[(64, 64, i)] for i in range(len(validation))]), CPU)
    evaluation = classification_eval_transform(opts, 64)
    for row, (path, _) in enumerate(validation.samples):
        assert float((inputs[row] - evaluation({"image": read_image(path)})["image"]).abs().max()) <= 1e-6
