"""Deployment on edge devices: exported files evaluated with the PyTorch evaluation's metrics code,
INT8 quantization (onnxruntime, ExecuTorch) with its agreement and settings in the sidecar, the
ExecuTorch and Core ML formats, and the optional packages' one-line errors.

The INT8 agreement needs a model whose top-1 class means something: with random weights and fresh
batch-norm statistics ParC-Net-XS's features hardly depend on the image (their spread over images
is about 1e-9 of their size), so every image gets the same class and agreement is trivially 100 %.
Training it takes minutes, so the fixture gives the random backbone batch-norm statistics measured
on the digits, then fits the classifier to them on its frozen features (a linear probe): a second
of work, after which the predicted classes follow the digits and the logits have real margins.
"""
import json
import sys

import onnx
import pytest
import torch

import eval_cls
import main_export
from conftest import training_opts
from cvnets import get_model
from deploy import quantize
from deploy.layer_groups import group_of, onnx_stack
from helpers_training import DEMO_CONFIG, write_small_digits
from utils.entry import run_entry
from utils.errors import ConfigError
from utils.io import atomic_save


def linear_probe(model, images, labels, steps=300):
    """Measure ``model``'s batch-norm statistics on ``images``, then fit ``model.classifier.fc`` to
    ``labels`` on the frozen features of ``images``."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # the average over the images
    with torch.no_grad():
        model.train()(images)
    captured = {}
    handle = model.classifier.fc.register_forward_hook(lambda m, i, o: captured.update(x=i[0].detach()))
    with torch.no_grad():
        model.eval()(images)
    handle.remove()
    fc = model.classifier.fc
    optimizer = torch.optim.Adam(fc.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(fc(captured["x"]), labels).backward()
        optimizer.step()
    return model


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from deploy.calibration import calibration_images

    root = tmp_path_factory.mktemp("deploy")
    data = write_small_digits(root / "data", per_class_train=8, per_class_val=3)
    common = ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(data / "training"),
              "--dataset.root-val", str(data / "validation"), "--dataset.workers", "0"]
    opts = training_opts(common)
    torch.manual_seed(0)
    model = get_model(opts).eval()
    images = calibration_images(opts, 80, (48, 48))
    labels = torch.arange(10).repeat_interleave(8)  # the training folders, in order
    linear_probe(model, images, labels)
    with torch.no_grad():
        predicted = model(images).argmax(1)
    assert len(predicted.unique()) >= 8 and (predicted == labels).float().mean() >= 0.9  # a meaningful top-1
    atomic_save(model.state_dict(), root / "probe.pt")
    return root, data, common + ["--model.classification.pretrained", str(root / "probe.pt")]


def export_file(digits, name, *extra):
    root, _, common = digits
    output = root / name
    main_export.main(common + ["--export.output", str(output), *extra])
    return output, json.loads(output.with_name(output.name + ".json").read_text())


def evaluate(digits, label, *extra):
    root, _, common = digits
    eval_cls.main(common + ["--common.results-loc", str(root / "results"), "--common.run-label", label,
                            "--common.overwrite", *extra])
    return json.loads((root / "results" / label / "eval_metrics.json").read_text())


def test_eval_cls_of_an_onnx_export_gives_the_pytorch_metrics(digits, capsys):
    path, _ = export_file(digits, "float.onnx", "--export.onnx-exporter", "legacy")
    expected = evaluate(digits, "pytorch")
    got = evaluate(digits, "onnx", "--inference.model", str(path), "--inference.backend", "onnxruntime")
    assert f"evaluating {path} (onnx) on onnxruntime, input 48x48" in capsys.readouterr().out
    assert got["num_samples"] == expected["num_samples"] == 30
    assert got["top1"] == expected["top1"] and got["top5"] == expected["top5"]
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-4)


def test_int8_onnx_export_agrees_on_the_calibration_images(digits, capsys):
    path, metadata = export_file(digits, "int8.onnx", "--export.quantize", "int8",
                                 "--export.calibration-images", "60")
    out = capsys.readouterr().out
    record = metadata["quantization"]
    assert "int8 vs float32 on 60 calibration images: top-1 agreement" in out
    assert record["dtype"] == "int8" and record["format"] == "QDQ" and "per channel" in record["weights"]
    assert record["calibration_images"] == 60 and record["agreement"]["top1_agreement"] >= 97.0
    assert set(record["group_errors"]) == {"none", "parc", "se", "classifier"}
    for group in ("parc", "se", "classifier"):  # the rule the sidecar states, applied to what it measured
        kept = record["group_errors"][group] <= (1 - quantize.MIN_GAIN) * record["group_errors"]["none"]
        assert (group in record["kept_float32"]) == kept
    graph = onnx.load(str(path)).graph
    assert sum(n.op_type == "DequantizeLinear" for n in graph.node) > 50
    # the INT8 file is evaluated like any other, on the same metrics code
    metrics = evaluate(digits, "int8", "--inference.model", str(path), "--inference.backend", "onnxruntime")
    assert metrics["num_samples"] == 30
    # calibrated on the inputs the evaluation gives (the datasets' uint8 images, normalised): held-out accuracy kept
    assert metrics["top1"] >= evaluate(digits, "pytorch_reference")["top1"] - 10


def test_layer_groups_choice_keeps_what_measurably_helps():
    errors = {(): 1.0, ("parc",): 0.5, ("se",): 0.9, ("classifier",): 0.8}
    kept, measured = quantize.choose_float_groups(["parc", "se", "classifier"], lambda keep: errors[keep])
    assert kept == ["parc", "classifier"] and measured == {"none": 1.0, "parc": 0.5, "se": 0.9, "classifier": 0.8}
    kept, _ = quantize.choose_float_groups(["parc"], lambda keep: float("inf") if not keep else 0.1)
    assert kept == ["parc"]  # an all-INT8 model that cannot run keeps every group float32
    kept, _ = quantize.choose_float_groups(["se", "decoder"], lambda keep: 1.0)
    assert kept == ["decoder"]  # an SSD export's box decoding stays float32 whatever the measure says


def test_onnx_nodes_are_grouped_by_their_modules():
    namespace = (": cvnets.models.classification.parcnet.ParCNet/layer_3: torch.nn.modules.container.Sequential/"
                 "layer_3.1.spatial_global_rep.0: cvnets.modules.parc_fused.FusedParCBlock/bmm_2: aten.bmm.default")
    assert group_of(onnx_stack(namespace)) == "parc"
    se = namespace.replace("/bmm_2: aten.bmm.default", "/layer_3.1.spatial_global_rep.0.ca: "
                           "cvnets.modules.channel_attention.ChannelAttention/layer_3.1.spatial_global_rep.0.ca.fc.0: "
                           "torch.nn.modules.conv.Conv2d/conv2d: aten.conv2d.default")
    assert group_of(onnx_stack(se)) == "se"
    fc = ": cvnets.models.classification.parcnet.ParCNet/classifier.fc: torch.nn.modules.linear.Linear/linear: a"
    assert group_of(onnx_stack(fc)) == "classifier"
    ffn = namespace.replace("/bmm_2: aten.bmm.default", "/layer_3.1.spatial_global_rep.0.ffn.1: "
                            "torch.nn.modules.conv.Conv2d/conv2d: aten.conv2d.default")
    assert group_of(onnx_stack(ffn)) is None
    decoding = (": cvnets.models.detection.ssd.DecodedDetector/exp: aten.exp.default")
    assert group_of(onnx_stack(decoding)) == "decoder"
    head = (": cvnets.models.detection.ssd.DecodedDetector/detector: cvnets.models.detection.ssd.SingleShotDetector/"
            "detector.ssd_heads.0: cvnets.modules.ssd_head.SSDHead/cat: aten.cat.default")
    assert group_of(onnx_stack(head)) is None


@pytest.mark.parametrize("module, fmt, package", [("executorch", "executorch", "executorch"),
                                                  ("coremltools", "coreml", "coremltools")])
def test_a_missing_optional_package_is_one_line(digits, monkeypatch, capsys, module, fmt, package):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    root, _, common = digits
    suffix = {"executorch": "pte", "coreml": "mlpackage"}[fmt]
    args = common + ["--export.format", fmt, "--export.output", str(root / f"m.{suffix}")]
    assert run_entry(lambda: main_export.main(args)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: export.format {fmt} needs the optional {package} package (pip install {package}, or "
                   f"pip install -r requirements-deploy.txt); it is not installed"]


def test_bad_deployment_options_are_one_line_errors(digits, capsys):
    root, _, common = digits
    cases = [
        (["--inference.backend", "onnxruntime"], "inference.backend onnxruntime runs an exported file"),
        (["--inference.model", str(root / "none.onnx"), "--inference.backend", "onnxruntime"],
         "inference.model: no such file"),
    ]
    for extra, message in cases:
        assert run_entry(lambda: eval_cls.main(common + ["--common.results-loc", str(root / "r"), *extra])) == 2
        assert message in capsys.readouterr().err
    args = common + ["--export.format", "torchscript", "--export.quantize", "int8", "--export.output",
                     str(root / "m.pt")]
    with pytest.raises(ConfigError, match="export.quantize int8 is for the formats onnx, executorch, not torchscript"):
        main_export.main(args)


def test_a_deployed_ssd_gives_the_detectors_detections():
    """The exported decoder's outputs (here from the module main_export.py exports, run on arrays as
    a runtime runs it) through the project's NMS give the PyTorch detector's detections."""
    from deploy.deployed import DeployedDetector

    opts = training_opts(["--common.config-file", "config/detection/demo/ssd_parcnet_digits.yaml",
                          "--model.detection.ssd.conf-threshold", "0.02"])
    torch.manual_seed(0)
    detector = get_model(opts).eval()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    decoder = detector.deployable((64, 64)).eval()

    def run(array):
        with torch.no_grad():
            return [t.numpy() for t in decoder(torch.from_numpy(array))]

    metadata = {"task": "detection", "format": "onnx", "input_size": [64, 64], "outputs": ["scores", "boxes"],
                "input": {"shape": [1, 3, 64, 64]}}
    deployed = DeployedDetector(run, metadata, opts)
    expected, got = detector.predict(x), deployed.predict(x)
    assert deployed.n_classes == detector.n_classes and sum(len(d.labels) for d in expected) > 0
    for want, have in zip(expected, got):
        assert torch.equal(want.labels, have.labels)
        assert torch.allclose(want.scores, have.scores, atol=1e-5)
        # the same detections, each box within 1e-4; two detections of a class whose scores differ by
        # less than float32 noise (1e-8: the export runs a batch of one, predict a batch of two) may
        # swap places in the order, so each is matched by label, score and box
        same = ((want.labels[:, None] == have.labels[None]) & ((want.scores[:, None] - have.scores[None]).abs() <= 1e-5)
                & ((want.boxes[:, None] - have.boxes[None]).abs().amax(-1) <= 1e-4))
        assert same.any(1).all() and same.any(0).all()


@pytest.mark.slow
def test_eval_cls_of_an_executorch_program_gives_the_pytorch_predictions(digits, capsys):
    pytest.importorskip("executorch")
    path, metadata = export_file(digits, "float.pte", "--export.format", "executorch")
    assert "parity (executorch runtime vs PyTorch, batch 1)" in capsys.readouterr().out
    assert metadata["parity_max_relative_error"] <= 1e-4 and metadata["delegate"] == "XNNPACK" and metadata["fused"]
    expected = evaluate(digits, "pytorch_pte")
    got = evaluate(digits, "pte", "--inference.model", str(path), "--inference.backend", "executorch")
    assert got["top1"] == expected["top1"] and got["top5"] == expected["top5"]
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-4)


@pytest.mark.slow
def test_int8_executorch_program_agrees_on_the_calibration_images(digits):
    pytest.importorskip("executorch")
    _, metadata = export_file(digits, "int8.pte", "--export.format", "executorch", "--export.quantize", "int8",
                              "--export.calibration-images", "40")
    record = metadata["quantization"]
    assert record["method"] == "PT2E static quantization" and record["delegate"] == "XNNPACK"
    assert record["agreement"]["top1_agreement"] >= 97.0 and record["calibration_images"] == 40


@pytest.mark.slow
def test_coreml_package_is_checked_by_its_specification(digits, capsys):
    pytest.importorskip("coremltools")
    path, metadata = export_file(digits, "model.mlpackage", "--export.format", "coreml")
    assert path.is_dir() and metadata["coreml"]["specification"] == {"inputs": {"image": [1, 3, 48, 48]},
                                                                   "outputs": ["logits"]}
    assert "Core ML models run only on macOS and iOS" in capsys.readouterr().out


@pytest.mark.slow
def test_a_folded_parc_block_with_its_position_maps_runs_in_executorch(tmp_path):
    # the XNNPACK runtime refused the constant position maps added as 4-D operands (shape propagation)
    pytest.importorskip("executorch")
    from cvnets.modules import parc
    from cvnets.modules.parc_block import ParCBlock
    from cvnets.modules.parc_fused import FusedParCBlock
    from deploy.executorch_export import load_program, lower

    torch.manual_seed(0)
    block = ParCBlock(16, 16, "interpolation_bilinear", use_pe=True, ffn_dim=32).eval()
    x = torch.rand(1, 32, 16, 16)
    folded = FusedParCBlock(block).eval()
    with parc.using_implementation("circulant"):
        folded.prepare(16, 16)
        lower(folded, x, tmp_path / "block.pte")
    out = torch.from_numpy(load_program(tmp_path / "block.pte")(x.numpy())[0])
    with torch.no_grad():
        assert torch.allclose(out, block(x), atol=1e-5)
