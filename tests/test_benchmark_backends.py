"""main_benchmark.py timing: backends, paired comparisons, training throughput, the ParC crossover."""
import contextlib
import io
import json

import pytest

import main_benchmark
from engine import benchmark, inference_backends
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
    assert any(line.strip().startswith("latency ratio edgeformer_xs / mobilevit_x_small") for line in lines)


def test_training_throughput_comparison():
    result, _ = run_benchmark("--benchmark.train", "--benchmark.batch-size", "2", "--benchmark.compare", MOBILEVIT_XS)
    assert result["train"] is True and result["images_per_s"] > 0
    assert result["compare"]["throughput_ratio"] > 0 and result["compare"]["images_per_s"] > 0


def test_onnxruntime_backend_checks_its_outputs():
    result, lines = run_benchmark("--benchmark.backend", "onnxruntime", "--inference.fuse", "false")
    assert result["backend"] == "onnxruntime" and result["latency_ms"] > 0 and result["fused"] is False
    assert any("onnxruntime outputs within" in line for line in lines)


def test_mnn_backend_when_installed():
    pytest.importorskip("MNN")
    result, lines = run_benchmark("--benchmark.backend", "mnn")
    assert result["backend"] == "mnn" and result["latency_ms"] > 0


def test_mnn_backend_without_the_package_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(inference_backends, "_mnn_missing", lambda: True)
    with pytest.raises(ConfigError, match="needs the optional MNN package"):
        inference_backends.require_backend("mnn")
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
    table = benchmark.parc_crossover((8, 64), channels=8, repeats=2)
    assert list(table) == [8, 64] and set(table[8]) == {"circulant", "fft", "concat_conv"}
    assert all(ms > 0 for row in table.values() for ms in row.values())
    assert "circulant / fft" in benchmark.format_crossover(table)


def test_ratios_are_paired_and_oriented():
    times = {"a": [2.0, 4.0, 2.0], "b": [1.0, 2.0, 4.0]}
    latency = benchmark.summarise(times, batch_size=4, train=False)
    assert latency["ratio"] == 2.0  # per-round ratios 2, 2, 0.5: their median
    assert latency["a"]["latency_ms"] == 2000.0
    throughput = benchmark.summarise(times, batch_size=4, train=True)
    assert throughput["ratio"] == 0.5 and throughput["b"]["images_per_s"] == 2.0
