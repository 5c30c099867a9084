"""The image modes of eval_det.py and eval_seg.py on a folder holding a file whose name is not UTF-8
and a hidden file: the outputs keep the file's own name, the messages and predictions.json escape
its bytes, hidden files are not images, and every file written is listed at the end."""
import json
import os

import cv2
import numpy as np
import pytest

import eval_det
import eval_seg

CONFIGS = {"detection": ("config/detection/demo/ssd_parcnet_digits.yaml", eval_det),
           "segmentation": ("config/segmentation/demo/deeplabv3_parcnet_digits.yaml", eval_seg)}


def picture_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    picture = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    with open(os.path.join(os.fsencode(folder), b"digit\xff.png"), "wb") as handle:
        handle.write(cv2.imencode(".png", picture)[1].tobytes())
    (folder / "._digit.png").write_bytes(b"resource fork, not an image")
    return folder


@pytest.mark.parametrize("task", list(CONFIGS))
def test_image_folder_with_a_name_that_is_not_utf8(task, tmp_path, capsys):
    config, script = CONFIGS[task]
    folder = picture_folder(tmp_path)
    script.main(["--common.config-file", config, "--common.results-loc", str(tmp_path / "results"),
                 "--common.run-label", "run", f"--evaluation.{task}.mode", "image_folder",
                 f"--evaluation.{task}.path", str(folder)])  # random weights: the outputs are what is tested
    run = tmp_path / "results" / "run"
    subfolder = "detection_results" if task == "detection" else "predictions_cmap"
    written = os.path.join(os.fsencode(run / subfolder), b"digit\xff" + (b".jpg" if task == "detection" else b".png"))
    assert cv2.imdecode(np.fromfile(written, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (40, 56)
    assert sorted(os.listdir(os.fsencode(run / subfolder))) == [os.path.basename(written)]  # not the hidden file
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{folder}/digit\\xff.png: ") for line in out)
    listed = [f"  {run}/{subfolder}/digit\\xff.{'jpg' if task == 'detection' else 'png'}"]
    if task == "detection":
        saved = json.loads((run / "predictions.json").read_bytes().decode("utf-8"))
        assert [entry["image"] for entry in saved] == [f"{folder}/digit\\xff.png"]
        listed.append(f"  {run / 'predictions.json'}")
    assert out[-len(listed) - 1:] == ["files written:", *listed]
