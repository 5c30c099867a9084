import cv2
import numpy as np
import pytest
import torch

from conftest import training_opts
from data import collate_samples
from data.datasets import ImageNetDataset, read_image
from data.transforms import (CenterCrop, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Resize, ToTensor,
                             augmentation_transforms)
from engine.loop_helpers import BatchInputs
from utils.errors import DataError


def sample(h, w):
    return {"image": np.random.randint(0, 255, (h, w, 3), dtype=np.uint8)}


def test_resize_sets_the_shorter_side():
    opts = training_opts([])
    assert Resize(opts, 64)(sample(100, 50))["image"].shape == (128, 64, 3)
    assert Resize(opts, 64)(sample(50, 101))["image"].shape == (64, 129, 3)
    assert Resize(opts, (30, 40))(sample(50, 101))["image"].shape == (30, 40, 3)


def test_validation_rule_resize_then_centre_crop():
    image = np.zeros((120, 90, 3), np.uint8)
    image[60, 45] = 255  # the centre pixel stays at the centre
    data = CenterCrop(None, 64)(Resize(training_opts([]), 64 + 32)({"image": image}))
    assert data["image"].shape == (64, 64, 3)
    ys, xs = np.nonzero(data["image"][..., 0])
    assert abs(ys.mean() - 32) < 2 and abs(xs.mean() - 32) < 2


def test_random_resized_crop_output_size():
    transform = RandomResizedCrop(training_opts([]), (48, 40))
    for _ in range(20):
        assert transform(sample(90, 70))["image"].shape == (48, 40, 3)


def test_flip_keeps_image_mask_and_boxes_aligned():
    opts = training_opts(["--image-augmentation.random-horizontal-flip.p", "1.0"])
    image = np.zeros((10, 20, 3), np.uint8)
    image[2:5, 1:4] = 255
    mask = (image[..., 0] > 0).astype(np.uint8)
    boxes = np.array([[1.0, 2.0, 4.0, 5.0]], np.float32)
    out = RandomHorizontalFlip(opts)({"image": image, "mask": mask, "box_coordinates": boxes})
    assert np.array_equal(out["box_coordinates"], [[16.0, 2.0, 19.0, 5.0]])
    ys, xs = np.nonzero(out["mask"])
    assert xs.min() == 16 and xs.max() == 18 and np.array_equal(out["mask"], out["image"][..., 0] > 0)


def test_random_crop_keeps_image_and_mask_aligned():
    opts = training_opts(["--image-augmentation.random-crop.mask-fill", "255"])
    image = np.random.randint(0, 255, (30, 20, 3), np.uint8)
    mask = image[..., 1].copy()
    for _ in range(10):
        out = RandomCrop(opts, (16, 24))({"image": image.copy(), "mask": mask.copy()})
        assert out["image"].shape == (16, 24, 3)
        inside = out["mask"] != 255
        assert np.array_equal(out["image"][..., 1][inside], out["mask"][inside])


def test_to_tensor_keeps_bgr_and_scales():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0] = 255  # blue in OpenCV's order
    tensor = ToTensor(training_opts([]))({"image": image})["image"]
    assert tensor.shape == (3, 2, 2) and tensor[0].eq(1).all() and tensor[1:].eq(0).all()


def test_augmentations_follow_the_config():
    chain = augmentation_transforms(training_opts(["--image-augmentation.random-horizontal-flip.enable",
                                                   "--image-augmentation.random-gamma-correction.enable"]))
    assert [type(t).__name__ for t in chain] == ["RandomGammaCorrection", "RandomHorizontalFlip"]
    both = augmentation_transforms(training_opts(["--image-augmentation.random-horizontal-flip.enable",
                                                  "--image-augmentation.random-vertical-flip.enable"]))
    assert [type(t).__name__ for t in both] == ["RandomFlip"]


def test_mixed_image_formats_decode_to_bgr(tmp_path):
    bgr = np.random.randint(0, 255, (8, 9, 3), np.uint8)
    gray = bgr[..., 0]
    bgra = np.dstack([bgr, np.full((8, 9), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    cv2.imwrite(str(tmp_path / "photo.jpg"), bgr)
    assert np.array_equal(read_image(tmp_path / "gray.png"), np.dstack([gray] * 3))
    assert np.array_equal(read_image(tmp_path / "rgba.png"), bgr)
    assert read_image(tmp_path / "photo.jpg").shape == (8, 9, 3)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match="cannot read image .*broken.jpg: not a readable image"):
        read_image(tmp_path / "broken.jpg")


def make_folder(root, corrupt=None):
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            value = 40 if label == "cat" else 200
            cv2.imwrite(str(root / label / f"{i}.png"), np.full((12, 12, 3), value, np.uint8))
    if corrupt:
        (root / "dog" / corrupt).write_bytes(b"garbage")


def test_corrupt_images_are_skipped_without_shifting_others(tmp_path, capsys):
    make_folder(tmp_path, corrupt="1.png")
    opts = training_opts(["--dataset.root-val", str(tmp_path)])
    dataset = ImageNetDataset(opts, is_training=False)
    assert dataset.classes == ["cat", "dog"] and len(dataset) == 6
    items = [dataset[(8, 8, i)] for i in range(6)]
    assert items[4] is None  # dog/1.png
    assert "skipping sample 4: cannot read image" in capsys.readouterr().out
    batch = collate_samples(items)
    assert batch["label"].tolist() == [0, 0, 0, 1, 1]
    assert batch["sample_id"].tolist() == [0, 1, 2, 3, 5]
    images = BatchInputs(opts)(batch, torch.device("cpu"))  # the model inputs of the uint8 batch
    assert torch.allclose(images[3:].mean(), torch.tensor(200 / 255))
    assert collate_samples([None, None]) is None


def test_missing_or_empty_dataset_folders(tmp_path):
    with pytest.raises(DataError, match=r"dataset.root_train: dataset folder not found: .*nowhere"):
        ImageNetDataset(training_opts(["--dataset.root-train", str(tmp_path / "nowhere")]))
    with pytest.raises(DataError, match=r"dataset.root_train is not set"):
        ImageNetDataset(training_opts([]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"dataset.root_train: .*empty"):
        ImageNetDataset(training_opts(["--dataset.root-train", str(tmp_path / "empty")]))
