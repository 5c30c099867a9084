"""Train a model from a YAML config.

    python main_train.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml
    CUDA_VISIBLE_DEVICES=0,1,2,3 python main_train.py --common.config-file ...   (one process per GPU)
    python main_train.py --common.config-file ... --common.device cpu --ddp.world-size 2
    torchrun --nproc_per_node 8 main_train.py --common.config-file ...

Options given on the command line override the config; ``--help`` lists them all. Without
torchrun, one training process is started per visible GPU (see engine/launch.py). The files the
run wrote in its folder are listed at the end.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from utils.entry import end_worker, run_entry


def main(args: Optional[Sequence[str]] = None) -> None:
    from options import get_training_arguments

    argv = sys.argv[1:] if args is None else list(args)
    get_training_arguments(argv)  # --help, --print-config and bad options answer before the engine is imported
    from engine.launch import launch
    from utils.io import print_written

    print_written(launch(argv))


def cli() -> int:
    """The ``parcnet-train`` command."""
    code = run_entry(main)
    if "LOCAL_RANK" in os.environ:  # a worker that torchrun started
        from utils.runtime import launched_by_torch

        if launched_by_torch():
            end_worker(code)
    return code


if __name__ == "__main__":
    sys.exit(cli())
