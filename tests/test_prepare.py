"""Dataset preparation (python -m data.prepare) on tiny synthetic inputs, read back by the datasets."""
import json
import tarfile

import cv2
import numpy as np
import pytest
import scipy.io
from PIL import Image

from conftest import training_opts
from data.datasets import COCODetection, ImageNetDataset, PascalVOCDataset, read_mask
from data.prepare.coco_voc import prepare_coco_voc
from data.prepare.imagenet_val import labels_from_devkit, labels_from_solution, prepare_imagenet_val
from data.prepare.sbd import prepare_sbd
from utils.drawing import color_palette
from utils.entry import run_entry
from utils.errors import DataError

WNIDS = {1: "n01440764", 2: "n01443537", 3: "n01484850"}
TRUTH = [3, 1, 2, 3, 1, 2]


def write_image(path, height=8, width=8, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))


@pytest.fixture
def imagenet_inputs(tmp_path):
    for number in range(1, len(TRUTH) + 1):
        write_image(tmp_path / "val" / f"ILSVRC2012_val_{number:08d}.JPEG", value=number * 30)
    devkit = tmp_path / "ILSVRC2012_devkit_t12"
    (devkit / "data").mkdir(parents=True)
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "wordnet_height", "num_train_images"]
    synsets = np.zeros((4, 1), dtype=[(f, object) for f in fields])
    for row, (synset_id, wnid, children) in enumerate([(1, WNIDS[1], 0), (2, WNIDS[2], 0), (3, WNIDS[3], 0),
                                                       (4, "n00000004", 3)]):
        synsets[row, 0] = (synset_id, wnid, "words", "gloss", children, 0, 1300)
    scipy.io.savemat(devkit / "data" / "meta.mat", {"synsets": synsets})
    (devkit / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{t}\n" for t in TRUTH))
    with tarfile.open(tmp_path / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as archive:
        archive.add(devkit, arcname="ILSVRC2012_devkit_t12")
    rows = [f"ILSVRC2012_val_{n:08d},{WNIDS[t]} 1 2 30 40 {WNIDS[t]} 5 6 7 8" for n, t in enumerate(TRUTH, start=1)]
    (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(reversed(rows)) + "\n")
    return tmp_path


def check_imagenet_folders(out):
    dataset = ImageNetDataset(training_opts(["--dataset.root-val", str(out)]), is_training=False)
    assert dataset.classes == [WNIDS[1], WNIDS[2], WNIDS[3]]
    labels = {p.split("/")[-1]: target for p, target in dataset.samples}
    assert labels == {f"ILSVRC2012_val_{n:08d}.JPEG": t - 1 for n, t in enumerate(TRUTH, start=1)}


@pytest.mark.parametrize("source", ["devkit folder", "devkit archive", "solution csv"])
def test_imagenet_validation_into_class_folders(imagenet_inputs, source):
    root = imagenet_inputs
    labels = {"devkit folder": lambda: labels_from_devkit(root / "ILSVRC2012_devkit_t12"),
              "devkit archive": lambda: labels_from_devkit(root / "ILSVRC2012_devkit_t12.tar.gz"),
              "solution csv": lambda: labels_from_solution(root / "LOC_val_solution.csv")}[source]()
    assert prepare_imagenet_val(root / "val", root / "out", labels) == len(TRUTH)
    check_imagenet_folders(root / "out")
    assert len(list((root / "val").iterdir())) == len(TRUTH)  # copied, not moved


def test_imagenet_command_line(imagenet_inputs, capsys):
    from data.prepare.__main__ import main

    root = imagenet_inputs
    args = ["imagenet-val", "--images", str(root / "val"), "--solution", str(root / "LOC_val_solution.csv"),
            "--out", str(root / "out"), "--method", "move"]
    assert run_entry(lambda: main(args)) == 0
    check_imagenet_folders(root / "out")
    assert not list((root / "val").iterdir())
    (root / "out" / WNIDS[3] / "ILSVRC2012_val_00000001.JPEG").unlink()
    capsys.readouterr()
    assert run_entry(lambda: main(args)) == 2
    assert capsys.readouterr().err.strip() == (f"error: 1 labelled images are not in {root / 'val'}, the first "
                                               f"ILSVRC2012_val_00000001.JPEG")


def write_voc_mask(path, mask):
    picture = Image.fromarray(mask.astype(np.uint8), mode="P")
    picture.putpalette(np.array(color_palette(256), np.uint8)[:, ::-1].flatten().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)


def square_mask(label, border=False):
    mask = np.zeros((12, 16), np.uint8)
    mask[2:8, 3:10] = label
    if border:
        mask[1, 2:11] = 255
    return mask


@pytest.fixture
def voc_with_sbd(tmp_path):
    """VOC: b in train, d in val (with their own masks); SBD: a, b, d in train, c in val."""
    voc, sbd = tmp_path / "VOCdevkit" / "VOC2012", tmp_path / "benchmark_RELEASE" / "dataset"
    for image_id in "abcd":
        write_image(voc / "JPEGImages" / f"{image_id}.jpg", 12, 16)
    write_voc_mask(voc / "SegmentationClass" / "b.png", square_mask(15, border=True))
    write_voc_mask(voc / "SegmentationClass" / "d.png", square_mask(12, border=True))
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("b\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("d\n")
    (sbd / "cls").mkdir(parents=True)
    for image_id, label in zip("abcd", (7, 8, 9, 10)):
        scipy.io.savemat(sbd / "cls" / f"{image_id}.mat", {"GTcls": {
            "Segmentation": square_mask(label), "Boundaries": np.zeros(1), "CategoriesPresent": label}})
    (sbd / "train.txt").write_text("a\nb\nd\n")
    (sbd / "val.txt").write_text("c\n")
    return tmp_path


def pascal(root, training, extra=()):
    args = ["--dataset.root-train", str(root), "--dataset.root-val", str(root), "--dataset.name", "pascal",
            "--dataset.category", "segmentation", "--model.segmentation.n-classes", "21", *extra]
    return PascalVOCDataset(training_opts(args), is_training=training)


def test_sbd_masks_and_aug_lists(voc_with_sbd):
    root = voc_with_sbd / "VOCdevkit"
    assert prepare_sbd(voc_with_sbd / "benchmark_RELEASE" / "dataset", root) == {"train_aug": 3, "val": 1}
    voc = root / "VOC2012"
    assert (voc / "list" / "train_aug.txt").read_text().splitlines()[0] == \
        "JPEGImages/a.jpg SegmentationClassAug/a.png"
    train, val = pascal(root, True), pascal(root, False)
    assert [image.stem for image, _ in train.pairs] == ["a", "b", "c"]
    assert [image.stem for image, _ in val.pairs] == ["d"]
    masks = {image.stem: read_mask(mask) for image, mask in train.pairs + val.pairs}
    assert (masks["a"] == square_mask(7)).all() and (masks["c"] == square_mask(9)).all()  # from SBD
    assert (masks["b"] == square_mask(15, border=True)).all()  # VOC's own, with its void border
    assert (masks["d"] == square_mask(12, border=True)).all()
    assert train.get_sample(0, (8, 8))["label"].shape == (8, 8)


def polygon(x1, y1, x2, y2):
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def test_coco_in_voc_classes(voc_with_sbd):
    coco = voc_with_sbd / "COCO"
    images = [(1, 260, 300), (2, 260, 300), (3, 200, 200)]
    for image_id, height, width in images:
        write_image(coco / "train2017" / f"{image_id:012d}.jpg", height, width, value=image_id * 50)
    annotations = [(1, 1, polygon(10, 10, 110, 110)), (1, 18, polygon(60, 60, 160, 160)),
                   (1, 25, polygon(200, 20, 280, 100)), (2, 25, polygon(10, 10, 50, 50)),
                   (3, 1, polygon(10, 10, 50, 50))]
    (coco / "annotations").mkdir()
    (coco / "annotations" / "instances_train2017.json").write_text(json.dumps({
        "images": [{"id": i, "height": h, "width": w, "file_name": f"{i:012d}.jpg"} for i, h, w in images],
        "annotations": [{"id": n, "image_id": i, "category_id": c, "segmentation": s, "iscrowd": 0, "area": 1.0,
                         "bbox": [0, 0, 1, 1]} for n, (i, c, s) in enumerate(annotations, start=1)],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 25, "name": "giraffe"}]}))
    assert prepare_coco_voc(coco, voc_with_sbd / "coco_voc") == 1  # 2: no VOC class; 3: too small
    assert (voc_with_sbd / "coco_voc" / "train_2017.txt").read_text() == \
        "rgb_train/000000000001.jpg annot_train/000000000001.png\n"
    prepare_sbd(voc_with_sbd / "benchmark_RELEASE" / "dataset", voc_with_sbd / "VOCdevkit")
    train = pascal(voc_with_sbd / "VOCdevkit", True, ["--dataset.pascal.use-coco-data", "--dataset.pascal.coco-root-dir",
                                                       str(voc_with_sbd / "coco_voc")])
    image, mask_path = train.pairs[-1]
    mask = read_mask(mask_path)
    assert mask.shape == (260, 300) and cv2.imread(str(image)).shape == (260, 300, 3)
    assert mask[30, 30] == 15 and mask[100, 100] == 15 and mask[150, 150] == 12  # the first instance keeps overlaps
    assert mask[60, 240] == 0 and mask[200, 20] == 0  # giraffe and nothing: background
    assert set(np.unique(mask)) == {0, 12, 15}


def test_coco_detection_reads_the_official_layout(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps({
        "images": [{"id": 1, "height": 20, "width": 30, "file_name": "a.jpg"}], "annotations": [],
        "categories": [{"id": 1, "name": "person"}]}))
    opts = training_opts(["--dataset.root-val", str(tmp_path), "--dataset.name", "coco",
                          "--dataset.category", "detection"])
    with pytest.raises(DataError) as error:
        COCODetection(opts, is_training=False)
    assert f"looked for {tmp_path / 'images' / 'val2017'}/ and {tmp_path / 'val2017'}/" in str(error.value)
    write_image(tmp_path / "val2017" / "a.jpg", 20, 30)
    dataset = COCODetection(opts, is_training=False)
    assert dataset.image_path(0) == tmp_path / "val2017" / "a.jpg"


def test_sbd_run_again_stops_in_one_line_unless_overwrite(voc_with_sbd, capsys):
    from data.prepare.__main__ import main

    args = ["sbd", "--sbd", str(voc_with_sbd / "benchmark_RELEASE" / "dataset"), "--voc",
            str(voc_with_sbd / "VOCdevkit")]
    assert run_entry(lambda: main(args)) == 0
    voc = voc_with_sbd / "VOCdevkit" / "VOC2012"
    masks = voc / "SegmentationClassAug"
    (masks / "a.png").write_bytes(b"the user's mask")
    capsys.readouterr()
    assert run_entry(lambda: main(args)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {masks}, {voc / 'list' / 'train_aug.txt'}, {voc / 'list' / 'val.txt'} exist: pass --overwrite to "
        f"replace them"]
    assert (masks / "a.png").read_bytes() == b"the user's mask"
    assert run_entry(lambda: main(args + ["--overwrite"])) == 0
    assert (read_mask(masks / "a.png") == square_mask(7)).all()


def test_coco_voc_by_move_run_again_keeps_the_moved_images(voc_with_sbd, capsys):
    from data.prepare.__main__ import main

    coco, out = voc_with_sbd / "COCO", voc_with_sbd / "coco_voc"
    write_image(coco / "train2017" / "000000000001.jpg", 260, 300)
    (coco / "annotations").mkdir()
    (coco / "annotations" / "instances_train2017.json").write_text(json.dumps({
        "images": [{"id": 1, "height": 260, "width": 300, "file_name": "000000000001.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": polygon(10, 10, 110, 110),
                         "iscrowd": 0, "area": 1.0, "bbox": [0, 0, 1, 1]}],
        "categories": [{"id": 1, "name": "person"}]}))
    args = ["coco-voc", "--coco", str(coco), "--out", str(out), "--method", "move"]
    assert run_entry(lambda: main(args)) == 0
    listed = (out / "train_2017.txt").read_text()
    capsys.readouterr()
    assert run_entry(lambda: main(args)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out / 'annot_train'}, {out / 'train_2017.txt'} exist: pass --overwrite to replace them"]
    assert run_entry(lambda: main(args + ["--overwrite"])) == 0  # the image was moved by the first run
    assert (out / "train_2017.txt").read_text() == listed
    assert cv2.imread(str(out / "rgb_train" / "000000000001.jpg")).shape == (260, 300, 3)
