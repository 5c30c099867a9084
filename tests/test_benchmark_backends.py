"""main_benchmark.py timing: backends, paired comparisons, training throughput, the ParC crossover."""
import contextlib
import io
import json
import re

import pytest

import main_benchmark
from deploy import backends, benchmark, parc_timing
from utils import timing
from deploy.backends.onnx import MNNBackend
from utils.entry import run_entry
from utils.errors import ConfigError

XS = "config/classification/edgeformer/edgeformer_xs.yaml"
MOBILEVIT_XS = "config/classification/mobilevit/mobilevit_x_small.yaml"


def run_benchmark(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main_benchmark.main(["--common.config-file", XS, "--benchmark.input-size", "64", "--benchmark.warmup", "1",
                             "--benchmark.repeats", "3", *args])
    lines = out.getvalue().strip().splitlines()
    return json.loads(lines[-1]), lines


def test_paired_comparison_prints_the_ratio():
    result, lines = run_benchmark("--benchmark.compare", MOBILEVIT_XS)
    assert result["backend"] == "eager" and result["fused"] is True
    other = result["compare"]
    assert other["model"] == "mobilevit_x_small" and other["latency_ms"] > 0 and result["latency_ms"] > 0
    assert other["latency_ratio"] > 0
    ratio_lines = [line.strip() for line in lines if line.strip().startswith("latency ratio edgeformer_xs / "
                                                                               "mobilevit_x_small")]
    assert len(ratio_lines) == 1 and "interquartile range" in ratio_lines[0] and "min" in ratio_lines[0]
    low, high = other["latency_ratio_range"]
    q1, q3 = other["latency_ratio_iqr"]
    assert 0 < low <= q1 <= other["latency_ratio"] <= q3 <= high
    printed = re.match(r"latency ratio edgeformer_xs / mobilevit_x_small: (\S+) \(interquartile range (\S+) to "
                       r"(\S+), min (\S+), max (\S+)\)", ratio_lines[0])
    assert [float(v) for v in printed.groups()] == pytest.approx([other["latency_ratio"], q1, q3, low, high],
                                                                 abs=1e-3)


def test_training_throughput_comparison():
    result, _ = run_benchmark("--benchmark.train", "--benchmark.batch-size", "2", "--benchmark.compare", MOBILEVIT_XS)
    assert result["train"] is True and result["images_per_s"] > 0
    assert result["compare"]["throughput_ratio"] > 0 and result["compare"]["images_per_s"] > 0


def test_onnxruntime_backend_checks_its_outputs():
    result, lines = run_benchmark("--benchmark.backend", "onnxruntime", "--inference.fuse", "false")
    assert result["backend"] == "onnxruntime" and result["latency_ms"] > 0 and result["fused"] is False
    assert any("onnxruntime outputs within" in line for line in lines)


def test_int8_onnxruntime_files_are_timed_beside_float32_with_both_ratios():
    result, lines = run_benchmark("--benchmark.backend", "onnxruntime", "--export.quantize", "int8",
                                  "--export.calibration-images", "4", "--benchmark.compare", MOBILEVIT_XS)
    files = result["files"]
    assert set(files) == {f"{m} {p}" for m in ("edgeformer_xs", "mobilevit_x_small") for p in ("float32", "int8")}
    assert all(files[f"{m} int8"]["speedup_over_float32"] > 0 for m in ("edgeformer_xs", "mobilevit_x_small"))
    ratios = {(r["of"], r["to"]): r for r in result["latency_ratios"]}
    assert set(ratios) == {("edgeformer_xs float32", "mobilevit_x_small float32"),
                           ("edgeformer_xs int8", "mobilevit_x_small int8")}
    for ratio in ratios.values():
        assert ratio["range"][0] <= ratio["iqr"][0] <= ratio["median"] <= ratio["iqr"][1] <= ratio["range"][1]
    assert any(line.strip().startswith("latency ratio edgeformer_xs int8 / mobilevit_x_small int8:") for line in lines)


def test_mnn_backend_when_installed():
    pytest.importorskip("MNN")
    result, lines = run_benchmark("--benchmark.backend", "mnn")
    assert result["backend"] == "mnn" and result["latency_ms"] > 0


def test_mnn_backend_without_the_package_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(MNNBackend, "missing", lambda self: "the optional MNN package (pip install MNN)")
    with pytest.raises(ConfigError, match="needs the optional MNN package"):
        backends.require_backend("mnn")
    args = ["--common.config-file", XS, "--benchmark.input-size", "64", "--benchmark.backend", "mnn"]
    assert run_entry(lambda: main_benchmark.main(args)) == 2
    assert "pip install MNN" in capsys.readouterr().err


def test_training_needs_a_pytorch_backend():
    with pytest.raises(ConfigError, match="benchmark.train runs on the eager or compile backend"):
        run_benchmark("--benchmark.train", "--benchmark.backend", "onnxruntime")


@pytest.mark.slow
def test_compile_backend():
    result, lines = run_benchmark("--benchmark.backend", "compile")
    assert result["backend"] == "compile" and result["latency_ms"] > 0


def test_parc_crossover_table():
    table, ratios = parc_timing.parc_crossover((8, 64), channels=8, repeats=2)
    assert list(table) == [8, 64] and set(table[8]) == {"circulant", "fft", "concat_conv"}
    assert all(ms > 0 for row in table.values() for ms in row.values())
    assert "circulant / fft" in parc_timing.format_crossover(table, ratios)


def test_ratios_are_paired_and_oriented():
    times = {"a": [2.0, 4.0, 2.0], "b": [1.0, 2.0, 4.0]}
    latency = benchmark.summarise(times, batch_size=4, train=False)
    assert latency["ratio"] == 2.0  # per-round ratios 2, 2, 0.5: their median
    # quartiles of 0.5, 2, 2 (inclusive: q1 halfway between 0.5 and 2), and the extremes
    assert latency["ratio_spread"] == timing.Spread(median=2.0, q1=1.25, q3=2.0, low=0.5, high=2.0)
    assert str(latency["ratio_spread"]) == "2.000 (interquartile range 1.250 to 2.000, min 0.500, max 2.000)"
    assert latency["a"]["latency_ms"] == 2000.0
    throughput = benchmark.summarise(times, batch_size=4, train=True)
    assert throughput["ratio"] == 0.5 and throughput["b"]["images_per_s"] == 2.0
