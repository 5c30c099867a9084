"""DeepLabV3: metrics, masks, the PASCAL pipeline, the reference models, eval_seg.py and training."""
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import (check_against_manifest, golden_input, golden_model, relative_error,
                      training_opts)
from cvnets import get_model
from data.datasets import PascalVOCDataset, read_mask
from data.demo.segmentation import write_segmentation_set
from metrics.confusion import confusion_matrix, segmentation_scores
from utils.errors import DataError

SEG_CONFIG = "config/segmentation/demo/deeplabv3_parcnet_digits.yaml"


def test_scores_of_a_hand_made_confusion_matrix():
    # rows: ground truth, columns: prediction; class 3 is absent from both
    matrix = torch.tensor([[50, 10, 0, 0],
                           [5, 30, 5, 0],
                           [0, 0, 0, 0],
                           [0, 0, 0, 0]])
    scores = segmentation_scores(matrix)
    iou = [50 / (60 + 55 - 50), 30 / (40 + 40 - 30), 0 / (0 + 5 - 0)]  # class 2: predicted, never true
    assert scores["class_iou"][3] is None
    assert scores["mIoU"] == pytest.approx(100 * sum(iou) / 3)
    assert scores["mAcc"] == pytest.approx(100 * (50 / 60 + 30 / 40) / 2)  # only classes present in the truth
    assert scores["aAcc"] == pytest.approx(100 * 80 / 100)


def test_confusion_matrix_skips_the_ignore_index():
    target = torch.tensor([[0, 1, 255], [2, 2, 1]])
    prediction = torch.tensor([[0, 2, 1], [2, 1, 1]])
    matrix = confusion_matrix(prediction, target, 3)
    assert matrix.sum() == 5 and matrix[0, 0] == 1 and matrix[1, 2] == 1 and matrix[2, 1] == 1


def _sync_mean_iou(rank, init_file, world_size, predictions, targets, out):
    import torch.distributed as dist

    from metrics.confusion import MeanIoU

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        metric = MeanIoU()
        metric.n_classes, metric.state = 3, torch.zeros(9, dtype=torch.float64)
        logits = torch.nn.functional.one_hot(predictions[rank], 3).permute(0, 3, 1, 2).float()
        metric.update(logits, targets[rank], torch.tensor(0.0), 1)
        metric.sync()
        torch.save(metric.state, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_confusion_matrix_is_summed_across_ranks(tmp_path):
    generator = torch.Generator().manual_seed(0)
    predictions = torch.randint(0, 3, (2, 1, 6, 5), generator=generator)
    targets = torch.randint(0, 3, (2, 1, 6, 5), generator=generator)
    targets[0, 0, 0] = 255  # one ignored row on rank 0
    torch.multiprocessing.spawn(_sync_mean_iou, args=(str(tmp_path / "init"), 2, predictions, targets,
                                                      str(tmp_path / "state")), nprocs=2)
    whole = confusion_matrix(predictions.flatten(), targets.flatten(), 3).double().flatten()
    for rank in range(2):
        assert torch.equal(torch.load(tmp_path / f"state.{rank}"), whole)


def test_both_mask_encodings_read_as_indices(tmp_path):
    labels = np.array([[0, 1, 15], [20, 255, 3]], np.uint8)
    cv2.imwrite(str(tmp_path / "index.png"), labels)
    palette = Image.fromarray(labels, mode="P")
    palette.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)])
    palette.save(tmp_path / "palette.png")
    assert np.array_equal(read_mask(tmp_path / "index.png"), labels)
    assert np.array_equal(read_mask(tmp_path / "palette.png"), labels)
    # what a grayscale decode of the palette image gives instead (the reference's reading)
    assert not np.array_equal(cv2.imread(str(tmp_path / "palette.png"), cv2.IMREAD_GRAYSCALE), labels)


@pytest.fixture(scope="module")
def digits_voc(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits_voc")
    write_segmentation_set(root, n_train=48, n_val=12, size=64, min_side=20, max_side=36)
    return root


def test_pascal_pipeline(digits_voc):
    opts = training_opts(["--common.config-file", SEG_CONFIG, "--dataset.root-train", str(digits_voc),
                          "--dataset.root-val", str(digits_voc)])
    train, val = PascalVOCDataset(opts, is_training=True), PascalVOCDataset(opts, is_training=False)
    assert (len(train), len(val)) == (48, 12)
    sample = train[(48, 40, 0)]
    assert sample["image"].shape == (3, 48, 40) and sample["label"].shape == (48, 40)
    assert sample["label"].dtype == torch.int64 and set(sample["label"].unique().tolist()) <= set(range(11)) | {255}
    # validation masks are palette PNGs: their indices, not colours, come back
    raw = np.array(Image.open(val.pairs[0][1]))
    assert set(val[(64, 64, 0)]["label"].unique().tolist()) == set(np.unique(raw).tolist())


def test_pascal_missing_files_are_named(tmp_path):
    (tmp_path / "VOC2012" / "list").mkdir(parents=True)
    (tmp_path / "VOC2012" / "list" / "val.txt").write_text("JPEGImages/a.jpg SegmentationClass/a.png\n")
    opts = training_opts(["--common.config-file", SEG_CONFIG, "--dataset.root-val", str(tmp_path)])
    with pytest.raises(DataError, match=r"val.txt, line 1: file not found: .*JPEGImages/a.jpg"):
        PascalVOCDataset(opts, is_training=False)


def test_masks_with_labels_beyond_the_classes_are_reported_and_skipped(tmp_path, caplog):
    voc = tmp_path / "VOC2012"
    for folder in ("list", "JPEGImages", "SegmentationClass"):
        (voc / folder).mkdir(parents=True)
    for name, top in (("good", 10), ("bad", 30)):
        cv2.imwrite(str(voc / "JPEGImages" / f"{name}.jpg"), np.full((20, 20, 3), 100, np.uint8))
        mask = np.zeros((20, 20), np.uint8)
        mask[:5], mask[5:8] = top, 255
        cv2.imwrite(str(voc / "SegmentationClass" / f"{name}.png"), mask)
    (voc / "list" / "val.txt").write_text("JPEGImages/good.jpg SegmentationClass/good.png\n"
                                          "JPEGImages/bad.jpg SegmentationClass/bad.png\n")
    dataset = PascalVOCDataset(training_opts(["--common.config-file", SEG_CONFIG, "--dataset.root-val",
                                              str(tmp_path)]), is_training=False)
    assert set(dataset[(16, 16, 0)]["label"].unique().tolist()) == {0, 10, 255}
    assert dataset[(16, 16, 1)] is None
    assert "bad.png holds labels [30] outside 0..10 (model.segmentation.n_classes)" in caplog.text


def test_pascal_adds_the_coco_list_when_asked(digits_voc, tmp_path):
    coco = tmp_path / "coco_voc"
    (coco / "images").mkdir(parents=True)
    (coco / "masks").mkdir()
    cv2.imwrite(str(coco / "images" / "x.jpg"), np.full((40, 30, 3), 200, np.uint8))
    cv2.imwrite(str(coco / "masks" / "x.png"), np.full((40, 30), 7, np.uint8))
    (coco / "train_2017.txt").write_text("images/x.jpg masks/x.png\n")
    base = ["--common.config-file", SEG_CONFIG, "--dataset.root-train", str(digits_voc),
            "--dataset.pascal.use-coco-data"]
    train = PascalVOCDataset(training_opts(base + ["--dataset.pascal.coco-root-dir", str(coco)]), is_training=True)
    assert len(train) == 48 + 1 and train.pairs[-1] == (coco / "images" / "x.jpg", coco / "masks" / "x.png")
    assert set(train[(32, 32, 48)]["label"].unique().tolist()) <= {7, 255}
    with pytest.raises(DataError, match="needs dataset.pascal.coco_root_dir"):
        PascalVOCDataset(training_opts(base), is_training=True)
    with pytest.raises(DataError, match=r"list file not found: .*train_2017.txt"):
        PascalVOCDataset(training_opts(base + ["--dataset.pascal.coco-root-dir", str(tmp_path)]), is_training=True)


@pytest.mark.parametrize("name", ["deeplabv3_edgeformer_s", "deeplabv3_mobilevit_s"])
def test_deeplabv3_state_dict_and_counts_match_manifest(name):
    check_against_manifest(name)


def test_deeplabv3_edgeformer_golden_logits():
    model, golden = golden_model("deeplabv3_edgeformer_s")
    x = golden_input(golden, 512)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 21, 512, 512)
    assert relative_error(y[..., ::8, ::8], golden[512]["y"]) <= 1e-3


@pytest.mark.parametrize("output_stride", [8, 16])
def test_aux_head_and_head_learning_rate(output_stride):
    from optim import build_optimizer

    opts = training_opts(["--common.config-file", SEG_CONFIG, "--model.segmentation.use-aux-head",
                          "--model.segmentation.lr-multiplier", "10",
                          "--model.segmentation.output-stride", str(output_stride)])
    model = get_model(opts).eval()
    with torch.no_grad():
        main, aux = model(torch.rand(1, 3, 64, 64))
    # the auxiliary head reads the fourth stage, at the output stride
    side = 64 // output_stride
    assert main.shape == (1, 11, 64, 64) and aux.shape == (1, 11, side, side)
    groups = build_optimizer(model, opts).param_groups
    assert [g["lr_multiplier"] for g in groups] == [1.0, 10.0]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_level5_expansion_feeds_the_head():
    """With use_level5_exp the backbone keeps its 1x1 expansion and DeepLabV3's ASPP reads it; a
    backbone without one refuses the option in one line."""
    from utils.errors import ConfigError

    x = torch.rand(1, 3, 64, 64)
    model = get_model(training_opts(["--common.config-file", SEG_CONFIG, "--model.segmentation.use-level5-exp"]))
    exp = model.encoder.conv_1x1_exp.block.conv
    assert exp.out_channels == 640  # ParC-Net-XS: min(4 x 160, 960)
    assert model.seg_head.aspp.aspp_layer.convs[0].block.conv.in_channels == 640
    seen = []
    exp.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    with torch.no_grad():
        assert model.eval()(x).shape == (1, 11, 64, 64)
    assert seen == [(1, 640, 8, 8)]  # at the output stride 8 of the config
    plain = get_model(training_opts(["--common.config-file", SEG_CONFIG]))
    assert not any(k.startswith("encoder.conv_1x1_exp") for k in plain.state_dict())
    with pytest.raises(ConfigError, match=r"ResNet has no 1x1 expansion .* \(model.segmentation.use_level5_exp\)"):
        get_model(training_opts(["--common.config-file", SEG_CONFIG, "--model.segmentation.use-level5-exp",
                                 "--model.segmentation.output-stride", "32", "--model.classification.name",
                                 "resnet"]))


def test_short_segmentation_training_and_eval_seg(digits_voc, tmp_path):
    import eval_seg
    from engine.training import train

    common = ["--common.config-file", SEG_CONFIG, "--dataset.root-train", str(digits_voc), "--dataset.root-val",
              str(digits_voc), "--common.results-loc", str(tmp_path), "--common.run-label", "seg",
              "--sampler.bs.crop-size-width", "64", "--sampler.bs.crop-size-height", "64", "--dataset.workers", "0",
              "--image-augmentation.random-resize.min-size", "56", "--image-augmentation.random-resize.max-size", "80"]
    exp = train(training_opts(common + ["--scheduler.max-epochs", "3", "--dataset.train-batch-size0", "12"]))
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train"]["loss"] < history[0]["train"]["loss"]
    assert 0.0 <= history[-1]["val"]["iou"] <= 100.0
    eval_seg.main(common + ["--model.segmentation.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.segmentation.mode", "validation_set", "--evaluation.segmentation.save-masks",
                            "--evaluation.segmentation.apply-color-map",
                            "--evaluation.segmentation.save-overlay-rgb-pred"])
    metrics = json.loads((exp / "eval_metrics.json").read_text())
    assert metrics["num_images"] == 12 and {"mIoU", "mAcc", "aAcc"} <= set(metrics)
    masks = sorted((exp / "predictions_no_cmap").glob("*.png"))
    assert len(masks) == 12 and cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED).shape == (64, 64)
    assert len(list((exp / "predictions_cmap").glob("*.png"))) == 12
    assert len(list((exp / "predictions_overlay").glob("*.png"))) == 12
    eval_seg.main(common + ["--model.segmentation.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--common.run-label", "single", "--evaluation.segmentation.mode", "single_image",
                            "--evaluation.segmentation.path",
                            str(digits_voc / "VOC2012" / "JPEGImages" / "val_00001.jpg")])
    assert (tmp_path / "single" / "predictions_cmap" / "val_00001.png").is_file()
