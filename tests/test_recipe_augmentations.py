"""The ConvNeXt recipe's augmentations: RandAugment (timm's policy), random erasing, MixUp and
CutMix (torchvision), soft targets through the loss and the top-k metrics."""
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from conftest import training_opts
from data.transforms import BatchMixing, RandAugment, RandomErase, check_classification_only, erase_batch
from loss_fn import build_loss
from metrics import Statistics, topk_correct
from utils.errors import ConfigError

RESNET_CONFIG = "config/classification/parc_convnets/parc_resnet50.yaml"
RA = "--image-augmentation.rand-augment"


@pytest.fixture(autouse=True)
def seeded():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def rand_augment(*args, only=None):
    transform = RandAugment(training_opts(["--common.config-file", RESNET_CONFIG, *args]), 32)
    if only is not None:
        transform.transform.ops = [op for op in transform.transform.ops if op.name == only]
    return transform


def test_rand_augment_is_the_recipes_timm_policy():
    from timm.data.auto_augment import _RAND_INCREASING_TRANSFORMS

    transform = rand_augment()
    assert transform.policy == "rand-m9-n2-mstd0.5-p0.5-inc1"  # timm's rand-m9-mstd0.5-inc1 (n2, p0.5 default)
    policy = transform.transform
    assert policy.num_layers == 2 and [op.name for op in policy.ops] == _RAND_INCREASING_TRANSFORMS
    for op in policy.ops:
        assert (op.prob, op.magnitude, op.magnitude_std) == (0.5, 9, 0.5)
        # timm fills with the normalisation mean (in RGB, 0-255) and resizes bicubic, as the recipe passes
        assert op.kwargs == {"fillcolor": (124, 116, 104), "resample": Image.Resampling.BICUBIC}


def augmented(transform, image):
    """``transform`` of the BGR ``image``, back in BGR (RandAugment hands on an RGB PIL image)."""
    return np.asarray(transform({"image": image})["image"])[..., ::-1]


def noise_image(size=32):
    """Colour noise in [40, 200]: every op of the policy changes it."""
    return np.random.randint(40, 200, (size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_rand_augment_applies_each_drawn_op_with_probability_p(p):
    transform = rand_augment(f"{RA}.p", str(p))
    draws = 600
    unchanged = 0
    for _ in range(draws):
        image = noise_image()
        unchanged += np.array_equal(augmented(transform, image.copy()), image)
    # an image is left as it was when neither of the two drawn ops is applied
    assert abs(unchanged / draws - (1 - p) ** 2) < 0.06


def test_rand_augment_magnitude_is_drawn_around_m_with_mstd():
    # BrightnessIncreasing scales by 1 +- 0.9 * m / 10: the factor reads the magnitude back
    transform = rand_augment(f"{RA}.p", "1", f"{RA}.num-ops", "1", only="BrightnessIncreasing")
    grey = np.full((4, 4, 3), 100, np.uint8)
    levels = np.array([abs(augmented(transform, grey.copy())[0, 0, 0] / 100 - 1) / 0.09
                       for _ in range(500)])
    assert abs(levels.mean() - 9) < 0.1 and abs(levels.std() - 0.5) < 0.1
    fixed = rand_augment(f"{RA}.p", "1", f"{RA}.num-ops", "1", f"{RA}.magnitude", "5", f"{RA}.magnitude-std", "0",
                         only="BrightnessIncreasing")
    assert {int(augmented(fixed, grey.copy())[0, 0, 0]) for _ in range(40)} == {55, 145}


def test_rand_augment_colour_ops_see_rgb():
    transform = rand_augment(f"{RA}.p", "1", f"{RA}.num-ops", "1", f"{RA}.magnitude-std", "0",
                             only="ColorIncreasing")
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 250, 60, 10  # mostly blue
    out = augmented(transform, bgr.copy())

    def saturate(rgb, factor):
        return np.asarray(ImageEnhance.Color(Image.fromarray(rgb)).enhance(factor))

    rgb = np.ascontiguousarray(bgr[..., ::-1])
    expected = [saturate(rgb, f)[..., ::-1] for f in (1 - 0.81, 1 + 0.81)]
    assert any(np.array_equal(out, e) for e in expected)
    as_if_rgb = [saturate(bgr, f) for f in (1 - 0.81, 1 + 0.81)]  # BGR handed over as if it were RGB
    assert not any(np.array_equal(out, e) for e in as_if_rgb)


def erased(transform, image):
    """``image`` (3 x H x W float) erased as the training step does: the sample's rectangle drawn by
    ``transform`` (in a loading process), the fill on the device."""
    erase = transform({"image": image})["erase"]
    return erase_batch(image[None].clone(), {key: value[None] for key, value in erase.items()})[0]


def test_random_erase_probability_area_and_pixel_noise():
    erase = RandomErase(training_opts(["--common.config-file", RESNET_CONFIG]))
    draws, erased_count, areas, values = 800, 0, [], []
    for _ in range(draws):
        out = erased(erase, torch.zeros(3, 40, 40))
        hit = out.ne(0).any(0)
        if hit.any():
            erased_count += 1
            rows, cols = hit.any(1).nonzero(), hit.any(0).nonzero()
            height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
            assert int(hit.sum()) == height * width  # one rectangle
            areas.append(height * width / 1600)
            values.append(out[:, hit])
    assert abs(erased_count / draws - 0.25) < 0.05
    assert 0.015 <= min(areas) and max(areas) <= 0.36  # timm's 0.02-1/3 of the area, rounded sides
    noise = torch.cat([v.flatten() for v in values])
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1) < 0.05
    const = RandomErase(training_opts(["--image-augmentation.random-erase.p", "1"]))
    out = erased(const, torch.ones(3, 40, 40))
    assert out.eq(0).any() and set(out.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("mode", ["const", "pixel"])
def test_random_erase_in_two_halves_is_torchvisions_transform_for_the_same_seed(mode):
    from torchvision.transforms import v2

    erase = RandomErase(training_opts(["--image-augmentation.random-erase.p", "0.5",
                                       "--image-augmentation.random-erase.mode", mode]))
    reference = v2.RandomErasing(p=0.5, scale=(0.02, 1 / 3), ratio=(0.3, 1 / 0.3),
                                 value="random" if mode == "pixel" else 0.0)
    image = torch.rand(3, 37, 53)
    changed = 0
    for seed in range(60):
        torch.manual_seed(seed)
        expected = reference(image.clone())
        torch.manual_seed(seed)
        got = erased(erase, image)
        assert torch.equal(got, expected)
        changed += not torch.equal(got, image)
    assert 15 < changed < 45


def mixing(*args, n_classes=8):
    return BatchMixing(training_opts(list(args)), n_classes)


def constant_batch(n=8, side=16):
    """Sample ``i`` is filled with the value ``i + 1`` and labelled ``i``."""
    values = torch.arange(1, n + 1, dtype=torch.float32)
    return values.view(n, 1, 1, 1).expand(n, 3, side, side).clone(), torch.arange(n)


def test_mixup_targets_sum_to_one_and_weigh_the_mixed_images():
    mix = mixing("--image-augmentation.mixup.enable", "--image-augmentation.mixup.alpha", "0.8")
    images, labels = constant_batch()
    out, targets = mix(images, labels)
    assert targets.shape == (8, 8) and torch.allclose(targets.sum(1), torch.ones(8))
    for i in range(8):
        partner = (i - 1) % 8
        weight = float((out[i, 0, 0, 0] - (partner + 1)) / (i - partner))  # the share of sample i
        assert torch.allclose(out[i], torch.full_like(out[i], float(out[i, 0, 0, 0])))
        assert targets[i, i] == pytest.approx(weight, abs=1e-5)
        assert targets[i, partner] == pytest.approx(1 - weight, abs=1e-5)


def test_cutmix_targets_are_the_pasted_areas():
    mix = mixing("--image-augmentation.cutmix.enable")
    for _ in range(20):
        images, labels = constant_batch()
        out, targets = mix(images, labels)
        assert torch.allclose(targets.sum(1), torch.ones(8))
        for i in range(8):
            partner = (i - 1) % 8
            pasted = out[i, 0].eq(partner + 1)
            assert bool((pasted | out[i, 0].eq(i + 1)).all())
            assert float(targets[i, partner]) == pytest.approx(float(pasted.float().mean()), abs=1e-6)
            if pasted.any():
                rows, cols = pasted.any(1).nonzero(), pasted.any(0).nonzero()
                assert int(pasted.sum()) == int((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))


def test_mixing_weights_follow_beta_alpha():
    mix = mixing("--image-augmentation.mixup.enable", "--image-augmentation.mixup.alpha", "0.8")
    images, labels = constant_batch(n=2, side=2)
    weights = torch.tensor([float(mix(images, labels)[1][0, 0]) for _ in range(3000)])
    # Beta(0.8, 0.8): mean 1/2, variance 1 / (4 (2 alpha + 1)) = 0.0962 (alpha 1 would give 0.0833)
    assert abs(float(weights.mean()) - 0.5) < 0.02 and abs(float(weights.var()) - 0.0962) < 0.006


def test_switch_probability_and_per_transform_probability():
    both = ["--image-augmentation.mixup.enable", "--image-augmentation.cutmix.enable"]
    mix = mixing(*both, "--image-augmentation.cutmix.switch-prob", "0.3")
    images, labels = constant_batch()
    cut = 0
    for _ in range(1000):
        out, _ = mix(images, labels)
        cut += bool(torch.isin(out, images).all())  # CutMix only moves pixels, MixUp blends them
    assert abs(cut / 1000 - 0.3) < 0.05
    sometimes = mixing(*both, "--image-augmentation.mixup.p", "0.5", "--image-augmentation.cutmix.p", "0.5")
    unmixed = sum(sometimes(images, labels)[1].dim() == 1 for _ in range(1000))
    assert abs(unmixed / 1000 - 0.5) < 0.05


def test_soft_targets_flow_through_the_loss_as_timms_smoothed_targets():
    opts = training_opts(["--common.config-file", RESNET_CONFIG])
    criterion = build_loss(opts).train()
    logits = torch.randn(6, 10)
    targets = torch.softmax(torch.randn(6, 10), 1)
    smoothed = 0.9 * targets + 0.1 / 10  # timm's mixup_target with label smoothing 0.1
    expected = -(smoothed * logits.log_softmax(1)).sum(1).mean()
    assert float(criterion(logits, targets)) == pytest.approx(float(expected), rel=1e-6)
    labels = torch.tensor([0, 3, 9, 1, 1, 2])
    one_hot = torch.nn.functional.one_hot(labels, 10).float()
    assert float(criterion(logits, one_hot)) == pytest.approx(float(criterion(logits, labels)), rel=1e-6)
    criterion.eval()  # validation: plain cross-entropy
    assert float(criterion(logits, labels)) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-6)


def test_topk_metrics_read_soft_targets_by_their_largest_class():
    logits = torch.tensor([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]])
    soft = torch.tensor([[0.3, 0.7, 0.0], [0.1, 0.0, 0.9]])
    assert topk_correct(logits, soft, 1) == 0 and topk_correct(logits, soft, 2) == 2
    stats = Statistics(["top1", "top5"])
    stats.update(logits, soft, torch.tensor(0.0), 2)
    assert stats.values() == {"top1": 0.0, "top5": 100.0}


@pytest.mark.parametrize("name", ["rand-augment", "random-erase", "mixup", "cutmix"])
def test_recipe_augmentations_are_for_classification_only(name):
    opts = training_opts(["--common.config-file", "config/detection/edgeformer/ssd_edgeformer_s.yaml",
                          f"--image-augmentation.{name}.enable"])
    with pytest.raises(ConfigError, match=f"image_augmentation.{name.replace('-', '_')}.enable is for "
                                          "classification only"):
        check_classification_only(opts)


@pytest.mark.slow
def test_parc_convnext_recipe_with_all_four_augmentations_learns_the_digits(tmp_path, capsys):
    """The ParC-ConvNeXt-XT recipe config as it is (RandAugment, random erasing, MixUp, CutMix,
    label smoothing, RGB normalised input), shrunk to 8 epochs of 300 digits at 48 pixels (which
    needs the resized instance kernels): the clean validation loss falls below chance's."""
    import json
    import math

    from engine.training import train
    from helpers_training import write_small_digits

    data = write_small_digits(tmp_path / "data", per_class_train=30, per_class_val=10)
    opts = training_opts([
        "--common.config-file", "config/classification/parc_convnets/parc_convnext_xt.yaml",
        "--dataset.root-train", str(data / "training"), "--dataset.root-val", str(data / "validation"),
        "--common.results-loc", str(tmp_path), "--common.run-label", "run", "--common.auto-resume", "false",
        "--common.mixed-precision", "false", "--common.k-best-checkpoints", "1", "--ema.enable", "false",
        "--dataset.workers", "0", "--dataset.persistent-workers", "false", "--dataset.pin-memory", "false",
        "--dataset.train-batch-size0", "25", "--dataset.val-batch-size0", "100",
        "--sampler.bs.crop-size-width", "48", "--sampler.bs.crop-size-height", "48",
        "--image-augmentation.random-resized-crop.scale", "0.5", "1.0",
        "--model.classification.n-classes", "10", "--model.classification.parc.instance-kernel",
        "interpolation_bilinear", "--scheduler.max-epochs", "8", "--scheduler.warmup-iterations", "5",
        "--scheduler.warmup-init-lr", "1e-4", "--scheduler.cosine.max-lr", "3e-3", "--scheduler.cosine.min-lr", "1e-5"])
    assert all(getattr(opts, f"image_augmentation.{name}.enable") for name in ("rand_augment", "random_erase",
                                                                                "mixup", "cutmix"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of 25 small pictures: a second thread mostly waits, and spins on a busy machine
    try:
        exp = train(opts)
    finally:
        torch.set_num_threads(threads)
    assert "Training batches: BatchMixing(mixup(alpha=0.8, p=1.0), cutmix(alpha=1.0, p=1.0)" in capsys.readouterr().out
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    first, last = history[0]["val"], history[-1]["val"]
    assert last["loss"] < min(math.log(10) - 0.05, first["loss"] - 0.15)
    assert last["top1"] > 15.0  # chance is 10
