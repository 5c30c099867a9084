"""The speed benchmarks run end to end at tiny sizes (their numbers mean nothing here): the loader
benchmark's two pipelines make the same uint8 batches from the same files, and the step benchmark
pairs an eager and a compiled training step."""
from __future__ import annotations

import math

import torch

from conftest import training_opts
from engine import loader_benchmark, step_benchmark


def finite_ratio(ratio):
    low, high = ratio["range"]
    return 0 < low <= ratio["iqr"][0] <= ratio["median"] <= ratio["iqr"][1] <= high and math.isfinite(high)


def test_loader_benchmark_pairs_both_recipes_with_timm(capsys):
    results = loader_benchmark.main(["--count", "6", "--rounds", "2", "--generated-size", "64", "48"])
    printed = capsys.readouterr().out
    assert set(results) == {"parcnet_s", "parc_convnext_xt"}
    for recipe, result in results.items():
        assert finite_ratio(result["ratio"]) and f"{recipe}: 6 images" in printed
        for name in ("ours", "timm"):
            assert set(result["stage_ms_per_image"][name]) == set(loader_benchmark.STAGES)
            assert result["stage_ms_per_image"][name]["decode"] > 0
    assert results["parc_convnext_xt"]["sizes"] == [(224, 224)]
    assert {size[0] for size in results["parcnet_s"]["sizes"]} <= {160, 192, 256, 288, 320}
    assert len(results["parcnet_s"]["sizes"]) > 2  # the sampler's size mix
    assert results["parc_convnext_xt"]["stage_ms_per_image"]["ours"]["photometric"] > 0  # RandAugment


def test_loader_benchmark_pipelines_make_the_same_batches(tmp_path):
    folder = loader_benchmark.write_jpegs(tmp_path, 5, size=(80, 60))
    opts = training_opts(["--common.config-file", loader_benchmark.RECIPES["parcnet_s"],
                          "--dataset.root-train", str(folder)])
    batches = loader_benchmark.sampler_items(opts, 5, 5, batch=2)
    assert sum(len(b) for b in batches) == 5 and all(len({item[:2] for item in b}) == 1 for b in batches)
    ours, timm = loader_benchmark.OurPipeline(opts), loader_benchmark.TimmPipeline(opts)
    for items in batches:
        our_images, (timm_images, _) = ours.batch(items)["image"], timm.batch(items)
        assert our_images.dtype == timm_images.dtype == torch.uint8
        assert our_images.shape == timm_images.shape == (len(items), 3, *items[0][:2])


def test_step_benchmark_pairs_eager_and_compiled_steps(capsys):
    result = step_benchmark.main(["--config", "config/classification/demo/parcnet_digits.yaml", "--batch", "2",
                                  "--size", "32", "--steps", "1", "--rounds", "2", "--backend", "eager"])
    assert finite_ratio(result["ratio"])
    assert result["first_step_seconds"]["compiled"] > 0 and result["images_per_second"]["eager"] > 0
    assert "compiled / eager: median" in capsys.readouterr().out
