"""main_export.py: every format and both ONNX exporters, checked in their runtimes against PyTorch."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

import main_export
from deploy import export
from conftest import ROOT
from utils.entry import run_entry
from utils.errors import ConfigError, ExportError, OutputExistsError

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
    assert not list(tmp_path.iterdir())  # nothing that looks like an export, no temporary file
    assert run_entry(lambda: main_export.main(args)) == 2
    assert "error: parity check failed" in capsys.readouterr().err


def test_missing_output_is_a_config_error():
    assert run_entry(lambda: main_export.main(["--common.config-file", PARC_S])) == 2


DEMO = "config/classification/demo/parcnet_digits.yaml"


def demo_export_args(output, *extra):
    return ["--common.config-file", DEMO, "--export.output", str(output), "--export.input-size", "32",
            "--export.onnx-exporter", "legacy", *extra]


def contents(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_exporting_twice_to_one_path_stops_in_one_line_and_keeps_the_first_export(tmp_path):
    main_export.main(demo_export_args(tmp_path / "m.onnx"))
    first = contents(tmp_path)
    assert list(first) == ["m.onnx", "m.onnx.json"]
    again = subprocess.run([sys.executable, "main_export.py", *demo_export_args(tmp_path / "m.onnx")], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.splitlines() == [f"error: {tmp_path / 'm.onnx'}, {tmp_path / 'm.onnx.json'} exist: pass "
                                         f"--export.overwrite to replace them"]
    assert contents(tmp_path) == first


@pytest.mark.parametrize("existing", ["m.onnx", "m.onnx.json"])
def test_an_existing_export_or_sidecar_stops_the_export_before_the_model_is_built(tmp_path, monkeypatch, existing):
    (tmp_path / existing).write_bytes(b"the user's file")

    def no_model(opts):
        raise AssertionError("the model was built")

    monkeypatch.setattr("deploy.export_command.get_model", no_model)
    with pytest.raises(OutputExistsError, match=f"^{tmp_path / existing} exists: pass --export.overwrite to "
                                                f"replace it$"):
        main_export.main(demo_export_args(tmp_path / "m.onnx"))
    assert contents(tmp_path) == {existing: b"the user's file"}


def test_export_overwrite_replaces_the_export_and_its_sidecar(tmp_path, capsys):
    main_export.main(demo_export_args(tmp_path / "m.onnx"))
    first = contents(tmp_path)
    main_export.main(demo_export_args(tmp_path / "m.onnx", "--export.input-size", "64", "--export.overwrite"))
    second = contents(tmp_path)
    assert list(second) == ["m.onnx", "m.onnx.json"] and second != first
    assert json.loads(second["m.onnx.json"])["input_size"] == [64, 64]
    outputs = export.load_runner(tmp_path / "m.onnx", "onnx")(np.random.rand(1, 3, 64, 64).astype(np.float32))
    assert outputs[0].shape == (1, 10)
    assert capsys.readouterr().out.splitlines()[-2:] == [f"  {tmp_path / 'm.onnx'}", f"  {tmp_path / 'm.onnx.json'}"]


def test_a_failed_overwrite_keeps_the_earlier_export(tmp_path, monkeypatch):
    main_export.main(demo_export_args(tmp_path / "m.onnx"))
    first = contents(tmp_path)
    monkeypatch.setattr("deploy.parity.check_parity.__defaults__", (0.0,))  # a tolerance of 0: the check fails
    with pytest.raises(ExportError, match="parity check failed: the exported model differs .* more than 0$"):
        main_export.main(demo_export_args(tmp_path / "m.onnx", "--export.overwrite"))
    assert contents(tmp_path) == first


def test_an_export_does_not_replace_a_folder(tmp_path):
    (tmp_path / "m.onnx").mkdir()
    (tmp_path / "m.onnx" / "kept.txt").write_text("kept")
    with pytest.raises(ConfigError, match=f"export.output: {tmp_path / 'm.onnx'} is a folder"):
        main_export.main(demo_export_args(tmp_path / "m.onnx", "--export.overwrite"))
    assert (tmp_path / "m.onnx" / "kept.txt").read_text() == "kept"
