"""Charts: a run's training curves, and the benchmark's accuracy-against-cost charts."""
import json

import cv2
import pytest

import parcnet
import main_benchmark
from conftest import training_opts
from engine.training import train
from helpers_training import fast_args, write_small_digits
from utils.charts import plot_training_curves


def write_records(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_curves_have_a_panel_per_quantity(tmp_path):
    records = [{"epoch": e, "train": {"loss": 2.0 - e, "top1": 10.0 * e}, "val": {"loss": 2.1 - e, "top1": 9.0 * e},
                "val_ema": {"loss": 2.2 - e, "top1": 8.0 * e}, "lr": 0.1 / (e + 1)} for e in range(3)]
    write_records(tmp_path / "full.jsonl", records)
    write_records(tmp_path / "loss_only.jsonl", [{"epoch": r["epoch"], "train": {"loss": r["train"]["loss"]},
                                                  "val": {"loss": r["val"]["loss"]}} for r in records])
    write_records(tmp_path / "empty.jsonl", [])
    full = cv2.imread(str(plot_training_curves(tmp_path / "full.jsonl", tmp_path / "full.png")))
    single = cv2.imread(str(plot_training_curves(tmp_path / "loss_only.jsonl", tmp_path / "single.png")))
    assert full.shape[1] == 3 * single.shape[1]  # loss, top-1, learning rate against loss alone
    assert plot_training_curves(tmp_path / "empty.jsonl", tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_training_writes_curves(tmp_path):
    data = write_small_digits(tmp_path / "data", per_class_train=1, per_class_val=1)
    exp = train(training_opts(fast_args(data, tmp_path / "results", epochs=2,
                                        extra=["--dataset.train-batch-size0", "10", "--ema.enable", "false"])))
    records = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1] and all(r["lr"] > 0 for r in records)
    assert cv2.imread(str(exp / "curves.png")) is not None


def test_benchmark_plot_draws_published_results_against_measured_costs(tmp_path, capsys):
    main_benchmark.main(["--benchmark.plot", str(tmp_path), "--benchmark.plot-models", "mobilevit_xs", "parcnet_xs",
                         "mobilenetv2", "--benchmark.input-size", "64", "--benchmark.warmup", "0",
                         "--benchmark.repeats", "2"])
    measured = json.loads((tmp_path / "benchmark.json").read_text())["models"]
    assert [m["model"] for m in measured] == ["mobilevit_xs", "parcnet_xs", "mobilenetv2"]
    for row in measured:
        assert row["params"] == sum(p.numel() for p in parcnet.create_model(row["model"]).parameters())
        assert row["input_size"] == [64, 64] and row["macs"] > 0 and row["latency_ms"] > 0
    assert measured[0]["published_value"] == 74.8 and "MobileViT" in measured[0]["published_source"]
    assert "published_value" not in measured[1]  # no published result for ParC-Net-XS
    assert cv2.imread(str(tmp_path / "classification.png")) is not None
    assert not (tmp_path / "detection.png").exists()
    assert "classification.png" in capsys.readouterr().out


def test_benchmark_plot_rejects_unknown_models(tmp_path):
    from utils.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown model 'parcnet_xl'"):
        main_benchmark.main(["--benchmark.plot", str(tmp_path), "--benchmark.plot-models", "parcnet_xl"])
