"""main_export.py: every format and both ONNX exporters, checked in their runtimes against PyTorch."""
import json

import numpy as np
import onnx
import pytest

import main_export
from deploy import export
from utils.entry import run_entry
from utils.errors import ExportError

PARC_S = "config/classification/edgeformer/edgeformer_s.yaml"


def run_export(tmp_path, config, fmt, *extra, name="model"):
    suffix = {"onnx": ".onnx", "torchscript": ".pt", "exported_program": ".pt2"}[fmt]
    output = tmp_path / f"{name}{suffix}"
    main_export.main(["--common.config-file", config, "--export.format", fmt, "--export.output", str(output), *extra])
    return output, json.loads(output.with_name(output.name + ".json").read_text())


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_parcnet_s_onnx_matches_pytorch_and_records_its_input(tmp_path, capsys, exporter):
    output, metadata = run_export(tmp_path, PARC_S, "onnx", "--export.input-size", "96", "128",
                                  "--export.onnx-exporter", exporter)
    assert "parity (onnxruntime vs PyTorch, batch 1)" in capsys.readouterr().out
    assert metadata["parity_max_relative_error"] <= 1e-4
    assert metadata["input_size"] == [96, 128] and metadata["config_file"].endswith(PARC_S)
    assert metadata["task"] == "classification" and metadata["fused"] is True
    props = {p.key: json.loads(p.value) for p in onnx.load(str(output)).metadata_props}
    assert props["input_size"] == [96, 128] and props["onnx_exporter"] == exporter
    assert [i.name for i in onnx.load(str(output)).graph.input] == ["image"]


@pytest.mark.slow
@pytest.mark.parametrize("config, size, outputs", [
    ("config/detection/edgeformer/ssd_edgeformer_s.yaml", "128", ["scores", "boxes"]),
    ("config/segmentation/edgeformer/deeplabv3_edgeformer_s.yaml", "64", ["logits"]),
    ("config/classification/parc_convnets/parc_resnet50.yaml", "224", ["logits"]),
])
def test_detection_segmentation_and_parc_convnet_onnx_match_pytorch(tmp_path, config, size, outputs):
    output, metadata = run_export(tmp_path, config, "onnx", "--export.input-size", size)
    assert metadata["parity_max_relative_error"] <= 1e-4
    assert [o.name for o in onnx.load(str(output)).graph.output] == outputs


def test_decoded_ssd_outputs_are_probabilities_and_boxes(tmp_path):
    output, _ = run_export(tmp_path, "config/detection/edgeformer/ssd_edgeformer_s.yaml", "onnx",
                           "--export.input-size", "128", "--export.onnx-exporter", "legacy")
    scores, boxes = export.load_runner(output, "onnx")(np.random.rand(1, 3, 128, 128).astype(np.float32))
    assert scores.shape[:2] == boxes.shape[:2] and boxes.shape[2] == 4 and scores.shape[2] == 81
    assert np.allclose(scores.sum(-1), 1.0, atol=1e-5)
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()


@pytest.mark.parametrize("fmt", ["torchscript", "exported_program"])
def test_torchscript_and_exported_program_with_a_dynamic_batch(tmp_path, capsys, fmt):
    output, metadata = run_export(tmp_path, "config/classification/edgeformer/edgeformer_xs.yaml", fmt,
                                  "--export.input-size", "64", "--export.dynamic-batch")
    assert metadata["input"]["shape"] == ["batch", 3, 64, 64]
    out = capsys.readouterr().out
    assert "parity at batch 3" in out
    assert out.splitlines()[-3:] == ["files written:", f"  {output}", f"  {output}.json"]  # listed at the end


def test_unfolded_export(tmp_path):
    _, metadata = run_export(tmp_path, "config/classification/edgeformer/edgeformer_xs.yaml", "onnx",
                             "--export.input-size", "64", "--export.onnx-exporter", "legacy",
                             "--inference.fuse", "false")
    assert metadata["fused"] is False and metadata["parity_max_relative_error"] <= 1e-4


def test_a_parity_failure_fails_the_command(tmp_path, monkeypatch, capsys):
    real = export.load_runner

    def perturbed(path, fmt, threads=0):
        run = real(path, fmt, threads)
        return lambda x: [out * 1.001 for out in run(x)]

    monkeypatch.setattr(export, "load_runner", perturbed)
    args = ["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml", "--export.output",
            str(tmp_path / "m.onnx"), "--export.input-size", "64", "--export.onnx-exporter", "legacy"]
    with pytest.raises(ExportError, match="parity check failed"):
        main_export.main(args)
    assert run_entry(lambda: main_export.main(args)) == 2
    assert "error: parity check failed" in capsys.readouterr().err


def test_missing_output_is_a_config_error():
    assert run_entry(lambda: main_export.main(["--common.config-file", PARC_S])) == 2
