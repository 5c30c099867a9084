"""The training step benchmark end to end at tiny sizes (its numbers mean nothing here): eager
against compiled, the precision and layout variants with what bfloat16 changes numerically, and
main_benchmark.py's --benchmark.train paths."""
from __future__ import annotations

import json
import math

import pytest
import torch

import main_benchmark
from cvnets import get_model
from conftest import training_opts
from engine import step_benchmark
from engine.step_variants import Variant, bf16_differences, fixed_batch, parse_variants
from utils.entry import run_entry
from utils.errors import ConfigError

DIGITS = "config/classification/demo/parcnet_digits.yaml"
VARIANTS = ["fp32", "bf16", "channels_last", "bf16+channels_last"]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: a second one only waits on a machine whose other core is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def finite_ratio(ratio):
    low, high = ratio["range"]
    return 0 < low <= ratio["iqr"][0] <= ratio["median"] <= ratio["iqr"][1] <= high and math.isfinite(high)


def test_step_benchmark_pairs_eager_and_compiled_steps(capsys):
    result = step_benchmark.main(["--config", DIGITS, "--batch", "2", "--size", "32", "--steps", "1", "--rounds", "2",
                                  "--backend", "eager"])
    assert list(result["ratios"]) == ["compiled"] and finite_ratio(result["ratios"]["compiled"])
    assert result["first_step_seconds"]["compiled"] > 0 and result["images_per_second"]["eager"] > 0
    assert [v["compiled"] for v in result["variants"]] == [False, True] and result["bf16_differences"] == {}
    assert "compiled / eager: median" in capsys.readouterr().out


def test_step_benchmark_variants_ratios_and_bf16_cost(capsys):
    result = step_benchmark.main(["--config", DIGITS, "--batch", "4", "--size", "32", "--steps", "1", "--rounds", "2",
                                  "--variants", *VARIANTS])
    printed = capsys.readouterr().out
    assert [v["name"] for v in result["variants"]] == VARIANTS and not any(v["compiled"] for v in result["variants"])
    assert list(result["ratios"]) == VARIANTS[1:] and all(finite_ratio(r) for r in result["ratios"].values())
    assert all(f"{name} / fp32: median" in printed for name in VARIANTS[1:])
    assert set(result["images_per_second"]) == set(VARIANTS)
    assert set(result["bf16_differences"]) == {"bf16", "bf16+channels_last"}
    for difference in result["bf16_differences"].values():
        assert 0 < difference["loss"] < 1e-2  # bfloat16 keeps 8 bits of mantissa
        assert 0 < difference["gradients"] < 10 and math.isfinite(difference["gradients"])
    assert "bf16 against float32" in printed


def test_the_bf16_cost_is_zero_without_bf16():
    opts = training_opts(["--common.config-file", DIGITS])
    torch.manual_seed(0)
    model, batch = get_model(opts), fixed_batch(opts, 4, (32, 32))
    same = bf16_differences(opts, model, batch, Variant("fp32"), torch.device("cpu"))
    assert same == {"loss": 0.0, "gradients": 0.0}  # the same step twice, dropout masks included
    bf16 = bf16_differences(opts, model, batch, Variant("bf16", bf16=True), torch.device("cpu"))
    assert bf16["loss"] > 0 and bf16["gradients"] > 0


def test_variant_names():
    variants = parse_variants(["fp32", "bf16+channels_last", "channels_last"], compiled=True)
    assert [(v.bf16, v.channels_last, v.compiled) for v in variants] == [(False, False, True), (True, True, True),
                                                                        (False, True, True)]
    for names in (["fp16"], ["fp32+bf16"], ["bf16", "bf16"], ["channels_last", "fp32+channels_last"]):
        with pytest.raises(ConfigError, match="benchmark.variants"):
            parse_variants(names)


def run_benchmark(*args):
    main_benchmark.main(["--common.config-file", DIGITS, "--benchmark.input-size", "64", "--benchmark.batch-size",
                         "4", "--benchmark.warmup", "0", "--benchmark.repeats", "2", "--benchmark.train", *args])


def test_main_benchmark_train_variants(capsys):
    run_benchmark("--benchmark.variants", "fp32", "bf16")
    lines = capsys.readouterr().out.strip().splitlines()
    steps = json.loads(lines[-1])["training_steps"]
    assert steps["batch"] == 4 and steps["size"] == [64, 64] and steps["rounds"] == 2 and steps["steps"] == 1
    assert finite_ratio(steps["ratios"]["bf16"]) and 0 < steps["bf16_differences"]["bf16"]["loss"] < 1e-2
    assert sum(line.strip().startswith("bf16 / fp32: median") for line in lines) == 1


def test_main_benchmark_train_on_the_compile_backend_pairs_compiled_with_eager(capsys):
    run_benchmark("--benchmark.backend", "compile", "--common.compile-backend", "eager")
    lines = capsys.readouterr().out.strip().splitlines()
    steps = json.loads(lines[-1])["training_steps"]
    assert [v["name"] for v in steps["variants"]] == ["eager", "compiled"] and finite_ratio(steps["ratios"]["compiled"])
    assert steps["compile"] == "backend eager, mode default"
    assert sum(line.strip().startswith("compiled / eager: median") for line in lines) == 1


@pytest.mark.parametrize("args, message", [
    (["--benchmark.variants", "bf16"], "benchmark.variants are variants of the training step: add --benchmark.train"),
    (["--benchmark.train", "--benchmark.variants", "fp16"], "benchmark.variants: 'fp16' is not a variant"),
    (["--benchmark.train", "--benchmark.backend", "compile", "--benchmark.compare", DIGITS],
     "it cannot be combined with benchmark.compare"),
])
def test_main_benchmark_train_options_that_cannot_work(args, message, capsys):
    code = run_entry(lambda: main_benchmark.main(["--common.config-file", DIGITS, *args]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_training_steps_of_a_detector_are_refused_in_one_line(capsys):
    ssd = "config/detection/demo/ssd_parcnet_digits.yaml"
    code = run_entry(lambda: main_benchmark.main(["--common.config-file", ssd, "--benchmark.input-size", "64",
                                                  "--benchmark.train", "--benchmark.variants", "fp32", "bf16"]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "the step benchmark times classification training steps" in err
