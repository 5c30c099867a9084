"""UperNet on the ParC ConvNets, the ADE20K dataset, mIoU from eval_seg.py by hand."""
import json

import cv2
import numpy as np
import pytest
import torch

from conftest import named_models, training_opts
from helpers_training import assert_benchmark_profiles
from cvnets import get_model
from utils.zoo import zoo_entry
from data.datasets import ADE20KDataset
from utils.errors import DataError

DEMO_CONFIG = "config/segmentation/demo/upernet_parcnet_digits.yaml"
SEG_CONFIGS = named_models("segmentation", "upernet")


def test_upernet_outputs_auxiliary_head_and_head_learning_rate():
    from optim import build_optimizer

    opts = training_opts(["--common.config-file", "config/segmentation/parc_convnets/upernet_parc_mobilenetv2.yaml",
                          "--model.classification.mobilenetv2.width-mult", "0.5", "--model.segmentation.upernet.channels",
                          "32", "--model.segmentation.upernet.aux-channels", "16", "--model.normalization.name",
                          "batch_norm", "--model.segmentation.lr-multiplier", "10"])
    model = get_model(opts)
    assert model.auxiliary_head.convs[0].in_channels == 48  # the third stage: 96 channels at width 0.5
    x = torch.rand(2, 3, 64, 96)
    main, aux = model.train()(x)
    assert main.shape == aux.shape == (2, 150, 64, 96)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 150, 64, 96)  # no auxiliary output in evaluation
    groups = build_optimizer(model, opts).param_groups
    assert [g["lr_multiplier"] for g in groups] == [1.0, 10.0, 10.0]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_sync_batch_norm_reaches_the_backbone():
    model = get_model(training_opts(["--common.config-file", "config/segmentation/parc_convnets/upernet_resnet50.yaml"]))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert len(norms) == 53 + 13  # ResNet-50's and the heads' (PPM 4, bottlenecks 2, pyramid 3 + 3, auxiliary 1)


def write_ade20k(root, split, labels):
    """``labels``: one annotation per image; every image's pixel (y, x) has grey value 20 * prediction."""
    images, annotations = root / "images" / split, root / "annotations" / split
    images.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    for index, (annotation, prediction) in enumerate(labels):
        name = f"ADE_{split}_{index:08d}"
        cv2.imwrite(str(images / f"{name}.png"), np.repeat((20 * prediction)[..., None], 3, axis=2).astype(np.uint8))
        cv2.imwrite(str(annotations / f"{name}.png"), annotation.astype(np.uint8))


def test_ade20k_layout_and_reduce_zero_label(tmp_path):
    annotation = np.array([[0, 1, 2, 150], [255, 3, 3, 0]] * 8, np.uint8).repeat(8, axis=1)
    write_ade20k(tmp_path, "training", [(annotation, np.zeros_like(annotation))])
    args = ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(tmp_path),
            "--model.segmentation.n-classes", "150"]
    dataset = ADE20KDataset(training_opts(args + ["--image-augmentation.random-resize.enable", "false",
                                                  "--image-augmentation.random-crop.enable", "false"]),
                            is_training=True)
    label = dataset[(16, 32, 0)]["label"]
    assert label[:2, ::8].tolist() == [[255, 0, 1, 149], [255, 2, 2, 255]]
    (tmp_path / "images" / "training" / "ADE_extra.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="ADE_extra.jpg has no annotation"):
        ADE20KDataset(training_opts(args), is_training=True)
    with pytest.raises(DataError, match="expected the ADEChallengeData2016 layout"):
        ADE20KDataset(training_opts(args + ["--dataset.root-val", str(tmp_path)]), is_training=False)


class GreyLevelSegmenter(torch.nn.Module):
    """Predicts at each pixel the class its grey level encodes (20 per class), as logits."""

    n_classes = 4

    def forward(self, x):
        classes = torch.round(x[:, 0] * 255 / 20).long()
        return torch.nn.functional.one_hot(classes, self.n_classes).permute(0, 3, 1, 2).float()


def test_eval_seg_miou_on_ade20k_equals_a_hand_computation(tmp_path):
    from engine.eval_segmentation import evaluate_validation_set
    from engine.run_folder import RunFolder
    from options import get_eval_arguments
    from utils.runtime import setup_runtime

    # annotations: ADE20K labels (0 ignored, k -> class k - 1); predictions: classes 0..3
    truth_a = np.zeros((32, 32), np.int64)
    truth_a[:, :16], truth_a[:, 16:] = 1, 2  # classes 0 | 1
    truth_a[:8] = 0  # ignored rows
    pred_a = np.zeros((32, 32), np.int64)
    pred_a[:, 12:] = 1  # 4 columns of class 0 predicted as 1
    pred_a[:8] = 3  # predicted class 3 where the truth is ignored: not counted
    truth_b = np.full((32, 32), 3)  # class 2
    pred_b = np.full((32, 32), 2)
    pred_b[:, :8] = 0  # 8 columns of class 2 predicted as 0
    write_ade20k(tmp_path, "validation", [(truth_a, pred_a), (truth_b, pred_b)])
    opts = get_eval_arguments(["--common.config-file", DEMO_CONFIG, "--dataset.root-val", str(tmp_path),
                               "--model.segmentation.n-classes", "4", "--dataset.workers", "0"])
    scores = evaluate_validation_set(opts, GreyLevelSegmenter(), setup_runtime(opts), RunFolder(tmp_path / "out"), [])
    # counted pixels: image a rows 8..31 (24 rows), image b all 32 rows
    tp = [24 * 12, 24 * 16, 32 * 24, 0]  # true positives of classes 0..3
    gt = [24 * 16, 24 * 16, 32 * 32, 0]
    predicted = [24 * 12 + 32 * 8, 24 * 20, 32 * 24, 0]
    iou = [tp[c] / (gt[c] + predicted[c] - tp[c]) for c in range(3)]  # class 3 never true nor predicted
    assert scores["mIoU"] == pytest.approx(100 * sum(iou) / 3)
    assert scores["mAcc"] == pytest.approx(100 * (12 / 16 + 16 / 16 + 24 / 32) / 3)
    assert scores["aAcc"] == pytest.approx(100 * sum(tp) / sum(gt))
    assert scores["class_iou"][3] is None and scores["num_images"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", SEG_CONFIGS)
def test_segmentation_configs_build_and_profile(name, capsys):
    assert_benchmark_profiles(str(zoo_entry(name).config_path), ["--benchmark.input-size", "64"], capsys)


@pytest.mark.slow
def test_short_upernet_training_and_eval_seg(tmp_path):
    import eval_seg
    from data.demo.ade20k import write_ade20k_set
    from engine.training import train

    write_ade20k_set(tmp_path / "ade", n_train=24, n_val=6, size=64, min_side=20, max_side=36)
    root = str(tmp_path / "ade" / "ADEChallengeData2016")
    common = ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", root, "--dataset.root-val", root,
              "--common.results-loc", str(tmp_path), "--common.run-label", "upernet", "--dataset.workers", "0",
              "--sampler.bs.crop-size-width", "64", "--sampler.bs.crop-size-height", "64",
              "--image-augmentation.random-resize.min-size", "56", "--image-augmentation.random-resize.max-size", "80"]
    exp = train(training_opts(common + ["--scheduler.max-epochs", "3", "--dataset.train-batch-size0", "8"]))
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train"]["loss"] < history[0]["train"]["loss"]
    eval_seg.main(common + ["--model.segmentation.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.segmentation.mode", "validation_set"])
    metrics = json.loads((exp / "eval_metrics.json").read_text())
    assert metrics["num_images"] == 6 and len(metrics["class_iou"]) == 11
