"""The model input convention: OpenCV BGR in [0, 1] by default (ParC-Net, MobileViT), timm's RGB
normalised with bicubic resizing for the ParC ConvNets, checked against timm's evaluation transform
on real photographs (tests/fixtures/photos)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FIXTURES, ROOT, load_manifest, manifest_weights, training_opts
from data import collate_samples
from data.datasets import read_image
from data.transforms import CenterCrop, Compose, Resize, ToTensor, image_to_tensor
from engine.loop_helpers import BatchInputs
from utils.io import atomic_save
from utils.errors import ConfigError

PHOTOS = FIXTURES / "photos"
RESNET_CONFIG = "config/classification/parc_convnets/parc_resnet50.yaml"
# the ParC-Net convention, set on the command line over a ParC ConvNets config
PARCNET_CONVENTION = ["--image-augmentation.to-tensor.channel-order", "bgr",
                      "--image-augmentation.to-tensor.mean-std-normalization.enable", "false",
                      "--image-augmentation.resize.interpolation", "bilinear"]


def photo_files():
    return sorted(PHOTOS.glob("*.jpg"))


def timm_eval_transform():
    """timm's standard evaluation transform: bicubic 256, centre crop 224, ImageNet normalisation."""
    from timm.data import create_transform

    return create_transform(224, is_training=False, interpolation="bicubic", crop_pct=0.875)


def test_default_convention_is_opencv_bgr_in_unit_range():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    assert torch.equal(image_to_tensor(image, training_opts([])), expected)


def test_rgb_normalised_convention_by_hand():
    image = np.array([[[10, 20, 30]]], dtype=np.uint8)  # B, G, R
    tensor = image_to_tensor(image, training_opts(["--common.config-file", RESNET_CONFIG]))
    expected = [(30 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (10 / 255 - 0.406) / 0.225]
    assert tensor.flatten().tolist() == pytest.approx(expected, rel=1e-6)


def test_normalisation_needs_three_means_and_stds():
    opts = training_opts(["--image-augmentation.to-tensor.mean-std-normalization.enable"])
    with pytest.raises(ConfigError, match="mean_std_normalization.mean needs 3 values"):
        ToTensor(opts)
    opts = training_opts(["--image-augmentation.to-tensor.mean-std-normalization.enable",
                          "--image-augmentation.to-tensor.mean-std-normalization.mean", "0.5", "0.5", "0.5",
                          "--image-augmentation.to-tensor.mean-std-normalization.std", "0.2", "0", "0.2"])
    with pytest.raises(ConfigError, match="std must be positive"):
        ToTensor(opts)


@pytest.mark.parametrize("config", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "config").rglob("*.yaml")))
def test_each_model_family_keeps_its_convention(config):
    opts = training_opts(["--common.config-file", config])
    convnet = "parc_convnets" in config
    assert getattr(opts, "image_augmentation.to_tensor.channel_order") == ("rgb" if convnet else "bgr")
    assert getattr(opts, "image_augmentation.to_tensor.mean_std_normalization.enable") == convnet
    if "classification/parc_convnets" in config:  # timm's bicubic; mmdet and mmseg resize bilinearly
        assert getattr(opts, "image_augmentation.resize.interpolation") == "bicubic"
        assert getattr(opts, "image_augmentation.random_resized_crop.interpolation") == "bicubic"


def test_bicubic_resize_is_pils_filter():
    image = np.random.default_rng(1).integers(0, 256, (97, 131, 3), dtype=np.uint8)
    opts = training_opts(["--image-augmentation.resize.interpolation", "bicubic"])
    ours = Resize(opts, (40, 50))({"image": image})["image"]
    assert np.array_equal(ours, np.asarray(Image.fromarray(image).resize((50, 40), Image.Resampling.BICUBIC)))
    cubic = Resize(training_opts(["--image-augmentation.resize.interpolation", "cubic"]), (40, 50))
    assert not np.array_equal(cubic({"image": image})["image"], ours)  # OpenCV's does not antialias


def test_validation_inputs_are_timms_evaluation_inputs(tmp_path):
    """The dataset's validation inputs equal timm's, except that a centre crop whose offset is a
    half pixel starts half a pixel earlier here (floor, as OpenCV-based cvnets; torchvision rounds
    half to even): those equal timm's resized picture cropped at our offset."""
    from data.datasets import ImageNetDataset

    for index, path in enumerate(photo_files()):
        (tmp_path / f"{index:02d}").mkdir()
        (tmp_path / f"{index:02d}" / path.name).write_bytes(path.read_bytes())
    opts = training_opts(["--common.config-file", RESNET_CONFIG, "--dataset.root-val", str(tmp_path)])
    dataset = ImageNetDataset(opts, is_training=False)
    to_inputs = BatchInputs(opts)  # the dataset's uint8 images become inputs on the device
    resize, _, to_tensor, normalize = timm_eval_transform().transforms
    identical = 0
    for index, path in enumerate(photo_files()):
        ours = to_inputs(collate_samples([dataset[(224, 224, index)]]), torch.device("cpu"))[0]
        resized = resize(Image.open(path).convert("RGB"))
        top, left = (resized.height - 224) // 2, (resized.width - 224) // 2
        expected = normalize(to_tensor(resized.crop((left, top, left + 224, top + 224))))
        assert torch.allclose(ours, expected, atol=1e-6), path.name
        identical += torch.allclose(ours, timm_eval_transform()(Image.open(path).convert("RGB")), atol=1e-6)
    assert identical == len(photo_files()) - 2  # coffee.jpg and rocket.jpg have half-pixel offsets


def fit_photo_head(model, inputs):
    """Make ``model`` (ParC-ResNet50) confident: a ridge-regression classifier on its pooled
    features of ``inputs`` (one per photo) that sends photo ``i`` to class ``i``. Returns the
    features."""
    pooled = {}
    handle = model.fc.register_forward_hook(lambda module, args, out: pooled.setdefault("x", args[0]))
    with torch.no_grad():
        model(inputs)
    handle.remove()
    features = pooled["x"].double()
    mean = features.mean(0, keepdim=True)
    centred = features - mean
    gram = centred @ centred.T
    n = len(inputs)
    coef = torch.linalg.solve(gram + 0.01 * gram.trace() / n * torch.eye(n, dtype=gram.dtype),
                              10 * torch.eye(n, dtype=gram.dtype))
    head = (centred.T @ coef).T
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.weight[:n] = head.float()
        model.fc.bias.fill_(-1e4)
        model.fc.bias[:n] = -(head @ mean[0]).float()
    return pooled["x"]


@pytest.mark.slow
def test_eval_cls_predicts_as_timms_evaluation_transform_on_photos(tmp_path):
    """eval_cls.py with the ParC-ResNet50 config on real photos predicts the class that timm's
    evaluation transform gives, on every photo. The model is ParC-ResNet50 with the reference's
    deterministic weights and a head fitted to timm's inputs of the photos (confident outputs: a
    softmax of at least 0.9 for each); with the ParC-Net input convention most predictions change,
    so the comparison can fail."""
    import eval_cls
    from cvnets import get_model

    files = photo_files()
    model = get_model(training_opts(["--common.config-file", RESNET_CONFIG])).eval()
    model.load_state_dict(manifest_weights(load_manifest("parc_resnet50")))
    transform = timm_eval_transform()
    theirs = torch.stack([transform(Image.open(p).convert("RGB")) for p in files])
    features = fit_photo_head(model, theirs)
    with torch.no_grad():
        timm_probs = model.fc(features).softmax(1)
    assert (timm_probs.max(1).values > 0.9).all()
    timm_classes = timm_probs.argmax(1).tolist()
    assert timm_classes == list(range(len(files)))
    atomic_save(model.state_dict(), tmp_path / "parc_resnet50.pt")

    args = ["--common.config-file", RESNET_CONFIG, "--model.classification.pretrained", str(tmp_path / "parc_resnet50.pt"),
            "--evaluation.classification.mode", "image_folder", "--evaluation.classification.path", str(PHOTOS),
            "--common.results-loc", str(tmp_path), "--common.run-label", "eval", "--dataset.root-val", "",
            "--dataset.root-train", ""]
    eval_cls.main(args)
    predictions = json.loads((tmp_path / "eval" / "predictions.json").read_text())
    ours = {Path(p["image"]).name: p["top_k"][0]["class_index"] for p in predictions}
    assert ours == {p.name: c for p, c in zip(files, timm_classes)}

    parcnet = training_opts(["--common.config-file", RESNET_CONFIG, *PARCNET_CONVENTION])
    other = Compose([Resize(parcnet, 256), CenterCrop(parcnet, 224), ToTensor(parcnet)])
    with torch.no_grad():
        wrong = model(torch.stack([other({"image": read_image(p)})["image"] for p in files])).argmax(1)
    assert int((wrong != torch.tensor(timm_classes)).sum()) >= len(files) // 2
