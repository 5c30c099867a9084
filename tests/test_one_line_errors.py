"""Bad inputs of the launcher, the benchmark, checkpoints, losses and COCO masks end in one line
naming the option, file or value (a ParcError), never in a traceback of another kind."""
import pytest

from conftest import training_opts
from utils.errors import CheckpointError, ConfigError, DataError

MASK_RCNN = "config/detection/demo/maskrcnn_parcnet_digits.yaml"
SSD = "config/detection/demo/ssd_parcnet_digits.yaml"


@pytest.mark.parametrize("url", ["tcp://node0:abc", "tcp://node0:70000", "http://node0:29500"])
def test_a_bad_dist_url_names_the_option(url):
    from engine.launch import _endpoint

    with pytest.raises(ConfigError, match="ddp.dist_url must look like tcp://HOST:PORT"):
        _endpoint(training_opts(["--ddp.dist-url", url]))


def test_dist_url_keeps_the_brackets_of_an_ipv6_host():
    from engine.launch import _endpoint

    assert _endpoint(training_opts(["--ddp.dist-url", "tcp://[::1]:29501"])) == "[::1]:29501"


@pytest.mark.parametrize("args, message", [
    (["--benchmark.repeats", "0", "--benchmark.latency"], "benchmark.repeats must be at least 1"),
    (["--benchmark.compare-fuse", "--benchmark.train"], "cannot be combined with benchmark.compare or"),
])
def test_benchmark_options_that_cannot_work(args, message):
    import main_benchmark

    with pytest.raises(ConfigError, match=message):
        main_benchmark.main(["--common.config-file", "config/classification/demo/parcnet_digits.yaml", *args])


def test_a_parc_model_at_a_size_its_fixed_kernels_do_not_fit_names_the_option():
    import torch

    from cvnets import get_model

    model = get_model(training_opts(["--common.config-file",
                                     "config/classification/parc_convnets/parc_mobilenetv2.yaml"])).eval()
    with pytest.raises(ConfigError, match="model.classification.parc.instance_kernel: interpolation_bilinear"):
        with torch.no_grad():
            model(torch.zeros(1, 3, 256, 256))


def test_an_unreadable_checkpoint_is_one_line(tmp_path, monkeypatch):
    import torch

    import utils.weight_files
    from utils.weight_files import read_checkpoint

    path = tmp_path / "checkpoint.pt"
    torch.save({"x": torch.zeros(1)}, path)

    def denied(*args, **kwargs):  # every read of the file fails, as for a file without read permission
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(torch, "load", denied)
    monkeypatch.setattr(utils.weight_files, "open", denied, raising=False)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {path}: Permission denied"):
        read_checkpoint(path)


@pytest.mark.parametrize("config, loss, wanted", [
    (MASK_RCNN, "ssd_multibox_loss", "use mask_rcnn_loss"),
    (SSD, "mask_rcnn_loss", "use a loss other than mask_rcnn_loss"),
])
def test_a_detection_loss_that_does_not_fit_the_model(config, loss, wanted):
    from loss_fn import build_loss

    with pytest.raises(ConfigError, match=f"loss.detection.name {loss} does not fit .*{wanted}"):
        build_loss(training_opts(["--common.config-file", config, "--loss.detection.name", loss]))


@pytest.mark.parametrize("segmentation, message", [
    ([[1, 2, "a", 4, 5, 6]], "could not convert string to float"),
    ({"size": [5, 7], "counts": "@@@@zz"}, "Invalid RLE mask representation"),
    ({"size": [6, 7], "counts": [3, 39]}, r"a segmentation of size \[6, 7\] on an image of size \[5, 7\]"),
    (5, "not a COCO segmentation"),
])
def test_malformed_coco_segmentations_are_data_errors(segmentation, message):
    from data.datasets.coco import decode_segmentation

    with pytest.raises(DataError, match=message):
        decode_segmentation(segmentation, 5, 7)
