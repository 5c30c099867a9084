import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

import eval_cls
from conftest import ROOT, training_opts
from cvnets import get_model
from data.datasets import read_image
from data.transforms import CenterCrop, Resize, ToTensor
from helpers_training import DEMO_CONFIG, write_small_digits
from utils.io import atomic_save


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = write_small_digits(root / "data", per_class_train=1, per_class_val=4)
    opts = training_opts(["--common.config-file", DEMO_CONFIG])
    torch.manual_seed(0)
    model = get_model(opts).eval()
    state = model.state_dict()
    atomic_save(state, root / "released.pt")
    atomic_save({"epoch": 3, "model_state_dict": state}, root / "checkpoint.pt")
    atomic_save({f"module.{k}": v for k, v in state.items()}, root / "ddp.pt")
    return root, data, model


def base_args(root, data, weights):
    """The tests evaluate into one run folder, each replacing the results of the one before."""
    return ["--common.config-file", DEMO_CONFIG, "--dataset.root-val", str(data / "validation"),
            "--common.results-loc", str(root / "results"), "--common.run-label", "eval",
            "--model.classification.pretrained", str(root / weights), "--dataset.workers", "0",
            "--evaluation.overwrite"]


def expected_predictions(model, files):
    opts = training_opts([])
    transform = lambda p: ToTensor(opts)(CenterCrop(None, 48)(Resize(opts, 80)({"image": read_image(p)})))
    batch = torch.stack([transform(p)["image"] for p in files])
    with torch.no_grad():
        return model(batch)


@pytest.mark.parametrize("weights", ["released.pt", "checkpoint.pt", "ddp.pt"])
def test_validation_set_metrics(setup, weights):
    root, data, model = setup
    eval_cls.main(base_args(root, data, weights))
    metrics = json.loads((root / "results" / "eval" / "eval_metrics.json").read_text())
    files = sorted((data / "validation").rglob("*.png"), key=lambda p: (p.parent.name, p.name))
    labels = torch.tensor([int(p.parent.name) for p in files])
    logits = expected_predictions(model, files)
    assert metrics["num_samples"] == 40
    assert metrics["top1"] == pytest.approx(100.0 * float((logits.argmax(1) == labels).float().mean()))
    top5 = (logits.topk(5, dim=1).indices == labels[:, None]).any(1).float().mean()
    assert metrics["top5"] == pytest.approx(100.0 * float(top5))
    assert metrics["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-5)


def test_image_folder_prints_top5(setup, capsys):
    root, data, model = setup
    folder = data / "validation" / "3"
    eval_cls.main(base_args(root, data, "released.pt") + ["--evaluation.classification.mode", "image_folder",
                                                          "--evaluation.classification.path", str(folder)])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith(str(folder))]
    files = sorted(folder.glob("*.png"))
    assert len(lines) == len(files)
    probs = expected_predictions(model, files).softmax(1)
    best = int(probs[0].argmax())
    assert lines[0].split(": ", 1)[1].startswith(f"{best} ({float(probs[0, best]):.3f})")
    saved = json.loads((root / "results" / "eval" / "predictions.json").read_text())
    assert len(saved) == len(files) and len(saved[0]["top_k"]) == 5


def test_mismatching_weights_fail_with_the_first_keys(setup, tmp_path):
    root, data, _ = setup
    state = torch.load(root / "released.pt", weights_only=True)
    state.pop("classifier.fc.bias")
    state["conv_1.block.conv.weight"] = torch.zeros(1)
    atomic_save(state, tmp_path / "bad.pt")
    args = base_args(root, data, "released.pt")
    args[args.index("--model.classification.pretrained") + 1] = str(tmp_path / "bad.pt")
    result = subprocess.run([sys.executable, "eval_cls.py", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "missing keys: classifier.fc.bias" in message[0]
    assert "conv_1.block.conv.weight (checkpoint (1,), model (16, 3, 3, 3))" in message[0]


def test_image_mode_needs_a_path(setup):
    from utils.errors import DataError

    root, data, _ = setup
    with pytest.raises(DataError, match="evaluation.classification.path is required in the single_image mode"):
        eval_cls.main(base_args(root, data, "released.pt") + ["--evaluation.classification.mode", "single_image"])


def test_image_folder_with_a_name_that_is_not_utf8_and_a_hidden_file(setup, tmp_path, capsys):
    """The predictions name such a file with its bytes escaped, hidden files (macOS's ``._*``) are
    not images, and every file written is listed at the end."""
    root, data, _ = setup
    folder = tmp_path / "images"
    folder.mkdir()
    source = sorted((data / "validation" / "3").glob("*.png"))[0]
    shutil.copyfile(source, os.path.join(os.fsencode(folder), b"digit\xff.png"))
    shutil.copyfile(source, folder / "plain.png")
    (folder / "._plain.png").write_bytes(b"resource fork, not an image")
    args = base_args(root, data, "released.pt")
    args[args.index("--common.run-label") + 1] = "odd_names"
    eval_cls.main(args + ["--evaluation.classification.mode", "image_folder",
                          "--evaluation.classification.path", str(folder)])
    out = capsys.readouterr().out.splitlines()
    predictions = root / "results" / "odd_names" / "predictions.json"
    saved = json.loads(predictions.read_bytes().decode("utf-8"))
    assert [entry["image"] for entry in saved] == [f"{folder}/digit\\xff.png", f"{folder}/plain.png"]
    assert saved[0]["top_k"] == saved[1]["top_k"]  # the same picture
    assert any(line.startswith(f"{folder}/digit\\xff.png: ") for line in out)
    assert not any("._plain" in line for line in out)
    assert out[-2:] == ["files written:", f"  {predictions}"]
