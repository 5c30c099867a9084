"""The loader benchmark end to end at tiny sizes (its numbers mean nothing here): the sample paths
and the DataLoaders of this project and of timm make the same uint8 batches from the same files,
the DataLoader's CPU seconds include its loading processes, and main_benchmark.py runs it for a
classification config and refuses any other in one line."""
from __future__ import annotations

import json
import math

import pytest
import torch

import main_benchmark
from conftest import training_opts
from engine import dataloader_benchmark, loader_benchmark, sample_benchmark
from utils.entry import run_entry

DIGITS = "config/classification/demo/parcnet_digits.yaml"
SSD = "config/detection/demo/ssd_parcnet_digits.yaml"


def finite_ratio(ratio):
    low, high = ratio["range"]
    return 0 < low <= ratio["iqr"][0] <= ratio["median"] <= ratio["iqr"][1] <= high and math.isfinite(high)


@pytest.fixture
def images(tmp_path):
    return sample_benchmark.write_jpegs(tmp_path / "images", 8, size=(64, 48))


def digits_opts(images, workers):
    return dataloader_benchmark.loader_opts(training_opts(["--common.config-file", DIGITS]), images, workers,
                                            batch_size=4)


def test_loader_benchmark_pairs_both_recipes_with_timm(capsys):
    results = loader_benchmark.main(["--count", "6", "--rounds", "2", "--generated-size", "64", "48",
                                     "--loader", "sample"])
    printed = capsys.readouterr().out
    assert set(results) == {"parcnet_s", "parc_convnext_xt"}
    assert printed.count("sample path: 6 images") == 2 and "DataLoader" not in printed
    for recipe, result in results.items():
        assert set(result) == {"sample"} and f"{recipe}: " in printed
        sample = result["sample"]
        assert finite_ratio(sample["ratio"])
        for name in ("ours", "timm"):
            assert set(sample["stage_ms_per_image"][name]) == set(sample_benchmark.STAGES)
            assert sample["stage_ms_per_image"][name]["decode"] > 0
    assert results["parc_convnext_xt"]["sample"]["sizes"] == [(224, 224)]
    assert {size[0] for size in results["parcnet_s"]["sample"]["sizes"]} <= {160, 192, 256, 288, 320}
    assert len(results["parcnet_s"]["sample"]["sizes"]) > 2  # the sampler's size mix
    assert results["parc_convnext_xt"]["sample"]["stage_ms_per_image"]["ours"]["photometric"] > 0  # RandAugment


def test_loader_benchmark_pipelines_make_the_same_batches(tmp_path):
    folder = sample_benchmark.write_jpegs(tmp_path, 5, size=(80, 60))
    opts = training_opts(["--common.config-file", loader_benchmark.RECIPES["parcnet_s"],
                          "--dataset.root-train", str(folder)])
    batches = sample_benchmark.sampler_items(opts, 5, 5, batch=2)
    assert sum(len(b) for b in batches) == 5 and all(len({item[:2] for item in b}) == 1 for b in batches)
    ours = sample_benchmark.OurPipeline(opts)
    timm = sample_benchmark.TimmPipeline(opts, ours.dataset.samples)
    for items in batches:
        our_images, (timm_images, _) = ours.batch(items)["image"], timm.batch(items)
        assert our_images.dtype == timm_images.dtype == torch.uint8
        assert our_images.shape == timm_images.shape == (len(items), 3, *items[0][:2])


def test_timms_rand_augment_posterizes_to_zero_bits_as_ours_does():
    """At m9-mstd0.5 the increasing posterize can keep 0 bits, which Pillow refuses: timm's pipeline
    in the comparison keeps 0 bits as this project's RandAugment does (a black image)."""
    from PIL import Image

    opts = training_opts(["--common.config-file", loader_benchmark.RECIPES["parc_convnext_xt"]])
    rand_augment = next(step for step in sample_benchmark.timm_transform(opts, (32, 32)).transforms
                        if hasattr(step, "ops"))
    posterize = next(op for op in rand_augment.ops if op.name == "PosterizeIncreasing")
    image = Image.new("RGB", (8, 8), (200, 100, 50))
    assert posterize.aug_fn(image, 0).getextrema() == ((0, 0), (0, 0), (0, 0))
    assert posterize.aug_fn(image, 1).getpixel((0, 0)) == (128, 0, 0)


def test_both_dataloaders_make_the_same_batches(images):
    loaders = dataloader_benchmark.build_loaders(digits_opts(images, 0), 8)
    assert loaders["timm"].batch_sampler is loaders["ours"].batch_sampler  # the training sampler's batches
    ours = [batch["image"] for batch in loaders["ours"]]
    timm = [batch for batch, _ in loaders["timm"]]
    assert [b.shape for b in ours] == [b.shape for b in timm] and sum(len(b) for b in ours) >= 8
    assert all(b.dtype == torch.uint8 for b in ours + timm)


def test_dataloader_cpu_seconds_include_the_loading_processes(images, capsys):
    results = loader_benchmark.main(["--config", DIGITS, "--images", str(images), "--count", "8", "--rounds", "1",
                                     "--workers", "1", "--batch-size", "4", "--loader", "dataloader", "--json"])
    result = results[DIGITS]["dataloader"]
    assert set(results[DIGITS]) == {"dataloader"} and result["workers"] == 1
    assert result["images"]["ours"] == result["images"]["timm"] >= 8
    for name in ("ours", "timm"):
        seconds, count = result["cpu_seconds"][name], result["images"][name]
        assert seconds["workers"] > 0  # the loading process's decoding, seen only as a finished child's
        assert result["images_per_cpu_second"][name] == pytest.approx(count / (seconds["main"] + seconds["workers"]))
        assert result["images_per_cpu_second"][name] < count / seconds["main"]
        assert result["images_per_wall_second"][name] > 0
    assert finite_ratio(result["cpu_ratio"]) and finite_ratio(result["wall_ratio"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])[DIGITS]["dataloader"]["workers"] == 1
    inline = dataloader_benchmark.compare(digits_opts(images, 0), 8, rounds=1, warmup=0)
    assert inline["workers"] == 0 and all(inline["cpu_seconds"][name]["workers"] == 0 for name in ("ours", "timm"))


def test_main_benchmark_loader_prints_the_ratios(capsys):
    main_benchmark.main(["--common.config-file", DIGITS, "--benchmark.loader", "generated",
                         "--benchmark.loader-images", "8", "--benchmark.repeats", "1", "--dataset.workers", "1",
                         "--dataset.train-batch-size0", "4"])
    lines = [line.strip() for line in capsys.readouterr().out.strip().splitlines()]
    result = json.loads(lines[-1])
    assert result["config"] == "parcnet_digits" and set(result["loader"]) == {"sample", "dataloader"}
    for prefix in ("ours / timm: median", "ours / timm per CPU-second: median", "ours / timm per wall-second: median"):
        assert sum(line.startswith(prefix) for line in lines) == 1, prefix
    assert all(sum(line.split()[:1] == [stage] for line in lines) == 1 for stage in sample_benchmark.STAGES)
    loader = result["loader"]["dataloader"]
    assert loader["images"]["ours"] == loader["images"]["timm"] >= 8 and loader["workers"] == 1
    assert result["loader"]["sample"]["images"] == 8


@pytest.mark.parametrize("config, folder, message", [
    (SSD, "generated", f"{SSD}: the loader benchmark measures ImageNet-style classification folders"),
    (DIGITS, "no/such/folder", "benchmark.loader: no/such/folder is not a folder"),
])
def test_main_benchmark_loader_refuses_in_one_line(config, folder, message, capsys):
    code = run_entry(lambda: main_benchmark.main(["--common.config-file", config, "--benchmark.loader", folder]))
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1 and message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_main_benchmark_loader_is_not_combined_with_model_timing(capsys):
    args = ["--common.config-file", DIGITS, "--benchmark.loader", "generated", "--benchmark.train"]
    assert run_entry(lambda: main_benchmark.main(args)) == 2
    assert "benchmark.loader times data loading alone" in capsys.readouterr().err
