"""No command replaces a file silently: the evaluations, the benchmark's charts and the demo data
stop before any work when what they would write exists, in one line naming it and the option that
replaces it; with that option they replace it; staged writes leave nothing when the work fails."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import eval_cls
import eval_det
import eval_seg
import main_benchmark
from conftest import NO_TRAINING_SET, ROOT
from deploy.charts import chart_files
from engine.eval_outputs import evaluation_outputs
from engine.run_folder import RunFolder
from helpers_training import DEMO_CONFIG, write_small_digits
from options import get_eval_arguments
from utils.entry import run_entry
from utils.errors import ConfigError, OutputExistsError
from utils.outputs import replace_path, staged

SCRIPTS = {"classification": (DEMO_CONFIG, eval_cls),
           "detection": ("config/detection/demo/ssd_parcnet_digits.yaml", eval_det),
           "segmentation": ("config/segmentation/demo/deeplabv3_parcnet_digits.yaml", eval_seg)}


def listing(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}


def test_staged_files_reach_their_targets_only_when_the_work_ends_well(tmp_path):
    (tmp_path / "m.bin").write_text("earlier")
    targets = [tmp_path / "m.bin", tmp_path / "m.bin.json"]
    with pytest.raises(RuntimeError):
        with staged(targets) as (model, sidecar):
            model.write_text("new")
            sidecar.write_text("{}")
            raise RuntimeError("the check failed")
    assert listing(tmp_path) == {"m.bin": b"earlier"}
    with staged(targets) as (model, sidecar):
        model.write_text("new")
        sidecar.write_text("{}")
    assert listing(tmp_path) == {"m.bin": b"new", "m.bin.json": b"{}"}


def test_staging_where_no_folder_can_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(ConfigError, match=f"^cannot write {tmp_path / 'file' / 'm.bin'}: "):
        with staged([tmp_path / "file" / "m.bin"]):
            raise AssertionError("the block ran")


@pytest.mark.parametrize("earlier", ["folder", "file"])
def test_replace_path_puts_a_folder_in_place_of_a_folder_or_a_file(tmp_path, earlier):
    target = tmp_path / "set"
    if earlier == "folder":
        (target / "old").mkdir(parents=True)
        (target / "old" / "a.png").write_bytes(b"a")
    else:
        target.write_bytes(b"a file")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "b.png").write_bytes(b"b")
    replace_path(tmp_path / "new", target)
    assert listing(tmp_path) == {"set": None, "set/b.png": b"b"}


def eval_args(task, tmp_path, *extra):
    config, _ = SCRIPTS[task]
    return ["--common.config-file", config, "--common.results-loc", str(tmp_path / "results"),
            "--common.run-label", "run", "--dataset.workers", "0", *extra]


@pytest.mark.parametrize("task, options, outputs", [
    ("classification", [], ["eval_metrics.json"]),
    ("classification", ["--evaluation.classification.mode", "image_folder"], ["predictions.json"]),
    ("detection", [], ["eval_metrics.json", "detections.json", "segmentations.json"]),
    ("detection", ["--evaluation.detection.save-overlay-boxes"],
     ["eval_metrics.json", "detections.json", "segmentations.json", "validation_overlays"]),
    ("detection", ["--evaluation.detection.mode", "single_image"], ["predictions.json", "detection_results"]),
    ("segmentation", [], ["eval_metrics.json"]),
    ("segmentation", ["--evaluation.segmentation.save-masks", "--evaluation.segmentation.save-overlay-rgb-pred"],
     ["eval_metrics.json", "predictions_no_cmap", "predictions_overlay"]),
    ("segmentation", ["--evaluation.segmentation.mode", "image_folder"], ["predictions_cmap"]),
    ("segmentation", ["--evaluation.segmentation.mode", "image_folder", "--evaluation.segmentation.save-masks"],
     ["predictions_no_cmap"]),
])
def test_what_each_evaluation_mode_writes(tmp_path, task, options, outputs):
    opts = get_eval_arguments(eval_args(task, tmp_path, *options), task=task)
    run = RunFolder(tmp_path / "results" / "run")
    assert evaluation_outputs(opts, task, run) == [run.path / name for name in outputs]


@pytest.mark.parametrize("task, options, existing", [
    ("classification", [], "eval_metrics.json"),
    ("classification", ["--evaluation.classification.mode", "image_folder"], "predictions.json"),
    ("detection", [], "segmentations.json"),
    ("detection", ["--evaluation.detection.mode", "image_folder"], "detection_results"),
    ("segmentation", ["--evaluation.segmentation.save-overlay-rgb-pred"], "predictions_overlay"),
    ("segmentation", ["--evaluation.segmentation.mode", "single_image"], "predictions_cmap"),
])
def test_an_earlier_evaluation_stops_the_next_before_the_model_is_loaded(tmp_path, task, options, existing):
    run = tmp_path / "results" / "run"
    run.mkdir(parents=True)
    if existing.endswith(".json"):
        (run / existing).write_text("earlier results")
    else:
        (run / existing).mkdir()
        (run / existing / "a.png").write_bytes(b"earlier picture")
    before = listing(tmp_path)
    args = eval_args(task, tmp_path, *options, f"--evaluation.{task}.path", str(tmp_path),
                     f"--model.{task}.pretrained", str(tmp_path / "missing.pt"))  # loading it would fail
    with pytest.raises(OutputExistsError, match=f"^{run / existing} exists: pass --evaluation.overwrite to replace "
                                                f"it, or choose another --common.run-label$"):
        SCRIPTS[task][1].main(args)
    assert listing(tmp_path) == before


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("digits"), per_class_train=1, per_class_val=2)


def test_eval_cls_run_twice_stops_in_one_line_and_evaluation_overwrite_replaces(digits, tmp_path):
    args = eval_args("classification", tmp_path, "--dataset.root-val", str(digits / "validation"), *NO_TRAINING_SET)
    eval_cls.main(args)  # random weights: the files are what is tested
    metrics = tmp_path / "results" / "run" / "eval_metrics.json"
    metrics.write_text("earlier results")
    again = subprocess.run([sys.executable, "eval_cls.py", *args], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.splitlines() == [f"error: {metrics} exists: pass --evaluation.overwrite to replace it, or "
                                         f"choose another --common.run-label"]
    assert metrics.read_text() == "earlier results"
    eval_cls.main(args + ["--evaluation.overwrite"])
    assert json.loads(metrics.read_text())["num_samples"] == 20


def test_evaluation_overwrite_replaces_masks_of_the_same_name_and_keeps_the_others(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "scene.png"), np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8))
    masks = tmp_path / "results" / "run" / "predictions_cmap"
    masks.mkdir(parents=True)
    (masks / "scene.png").write_bytes(b"an earlier mask")
    (masks / "other.png").write_bytes(b"another image's mask")
    eval_seg.main(eval_args("segmentation", tmp_path, "--evaluation.segmentation.mode", "image_folder",
                            "--evaluation.segmentation.path", str(images), "--evaluation.overwrite"))
    assert cv2.imread(str(masks / "scene.png")).shape[:2] == (40, 56)
    assert (masks / "other.png").read_bytes() == b"another image's mask"
    assert capsys.readouterr().out.splitlines()[-2:] == ["files written:", f"  {masks / 'scene.png'}"]


def test_the_charts_a_benchmark_writes():
    from pathlib import Path

    folder = Path("charts")
    assert chart_files(["mobilevit_xs", "parcnet_xs"], folder) == [folder / "benchmark.json",
                                                                    folder / "classification.png"]
    assert chart_files(["parcnet_xs"], folder) == [folder / "benchmark.json"]  # no published result: no chart


def test_benchmark_plot_stops_before_measuring_when_its_files_exist(tmp_path, monkeypatch):
    for name in ("benchmark.json", "classification.png", "detection.png"):
        (tmp_path / name).write_bytes(b"earlier")

    def measure(*args):
        raise AssertionError("the models were measured")

    monkeypatch.setattr("deploy.charts.measure_models", measure)
    with pytest.raises(OutputExistsError, match=f"^{tmp_path / 'benchmark.json'}, {tmp_path / 'classification.png'} "
                                                f"exist: pass --benchmark.overwrite to replace them$"):
        main_benchmark.main(["--benchmark.plot", str(tmp_path), "--benchmark.plot-models", "mobilevit_xs"])
    assert listing(tmp_path) == {name: b"earlier" for name in ("benchmark.json", "classification.png",
                                                               "detection.png")}


def test_benchmark_overwrite_replaces_the_charts(tmp_path):
    (tmp_path / "benchmark.json").write_text("earlier")
    main_benchmark.main(["--benchmark.plot", str(tmp_path), "--benchmark.plot-models", "mobilevit_xs",
                         "--benchmark.input-size", "32", "--benchmark.warmup", "0", "--benchmark.repeats", "1",
                         "--benchmark.overwrite"])
    assert [row["model"] for row in json.loads((tmp_path / "benchmark.json").read_text())["models"]] == ["mobilevit_xs"]
    assert cv2.imread(str(tmp_path / "classification.png")) is not None


def prepare_demo(*args):
    from data.demo.prepare import main

    return run_entry(lambda: main(list(args)))


def test_demo_data_into_an_existing_folder_stops_in_one_line(tmp_path, capsys):
    out = tmp_path / "digits"
    out.mkdir()
    (out / "notes.txt").write_text("the user's notes")
    assert prepare_demo("--task", "classification", "--out", str(out)) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {out} exists: pass --overwrite to replace it"]
    assert listing(tmp_path) == {"digits": None, "digits/notes.txt": b"the user's notes"}


def test_an_interrupted_demo_data_set_leaves_the_earlier_one(tmp_path, monkeypatch):
    import data.demo.prepare

    out = tmp_path / "digits"
    out.mkdir()
    (out / "notes.txt").write_text("earlier set")

    def interrupted(folder, seed):
        (folder / "training" / "0").mkdir(parents=True)
        (folder / "training" / "0" / "0000.png").write_bytes(b"half a set")
        raise KeyboardInterrupt

    monkeypatch.setattr(data.demo.prepare, "write_classification_folder", interrupted)
    assert prepare_demo("--task", "classification", "--out", str(out), "--overwrite") == 130
    assert listing(tmp_path) == {"digits": None, "digits/notes.txt": b"earlier set"}


def test_demo_data_overwrite_replaces_the_set(tmp_path, capsys):
    out = tmp_path / "digits"
    out.mkdir()
    (out / "notes.txt").write_text("earlier set")
    assert prepare_demo("--task", "classification", "--out", str(out), "--overwrite") == 0
    assert sorted(path.name for path in out.iterdir()) == ["training", "validation"]
    assert len(list(out.rglob("*.png"))) == 1797
    assert capsys.readouterr().out == f"wrote 1438 training and 359 validation images to {out}\n"
